package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amwebhook "github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// TestEncodeMatchesEncodingJSON encodes notifications with awkward text,
// times and label sets both ways, by hand and by reflection over Message,
// and compares the bytes; then decodes them into Alertmanager's own
// webhook Message.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	start := time.Date(2026, 11, 26, 5, 0, 0, 123456789, time.UTC)
	now := start.Add(30 * time.Second)
	tricky := "a\"b\\c<d>e&f\n\r\t\b\f\x00\x1f\x7f é 日本 \u2028\u2029 \xff\xfe end"
	alerts := []*model.Alert{
		{
			Labels:      model.LabelSet{"alertname": "A", "instance": "host-00001", "b": "", "_": "u", model.LabelName(tricky): "x"},
			Annotations: model.LabelSet{"summary": model.LabelValue(tricky)},
			StartsAt:    start, GeneratorURL: "http://prometheus.example/graph?g0.expr=up%3D%3D0&x=<y>",
		},
		{
			Labels: model.LabelSet{"alertname": "B"}, StartsAt: start.In(time.FixedZone("", 5*3600+30*60)),
			EndsAt: start.Add(10 * time.Second).In(time.FixedZone("", -8*3600)), // resolved by now
		},
		{Labels: nil, StartsAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Labels: model.LabelSet{"z": "1", "y": "2", "x": "3", "w": "4", "v": "5", "u": "6", "t": "7", "s": "8", "r": "9",
			"q": "10", "p": "11", "o": "12", "n": "13", "m": "14", "l": "15", "k": "16", "j": "17", "i": "18"}},
	}
	cases := map[string]struct {
		n   notifiers.Notification
		max int
	}{
		"empty":     {n: notifiers.Notification{}},
		"no alerts": {n: notifiers.Notification{Receiver: "r", GroupKey: "{}:{}", Status: model.AlertResolved, Alerts: []*model.Alert{}}},
		"tricky": {n: notifiers.Notification{
			Receiver: tricky, GroupKey: tricky, Status: model.AlertFiring,
			GroupLabels:  model.LabelSet{"z": "1", "a": model.LabelValue(tricky), "M": ""},
			CommonLabels: model.LabelSet{model.LabelName(tricky): "x"}, CommonAnnotations: nil,
			RouteLabels: model.LabelSet{"team": model.LabelValue(tricky), "tier": "1"}, Reason: "new alerts",
			ExternalURL: "http://tocsin.example/?a=1&b=<2>", Alerts: alerts,
		}},
		"truncated": {n: notifiers.Notification{Receiver: "r", Alerts: alerts}, max: 2},
		"max above": {n: notifiers.Notification{Receiver: "r", Alerts: alerts}, max: 10},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(webhook.NewMessage(&c.n, c.max, now))
			require.NoError(t, err)
			got, err := webhook.Encode(&c.n, c.max, now)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))

			var am amwebhook.Message
			require.NoError(t, json.Unmarshal(got, &am))
			m := webhook.NewMessage(&c.n, c.max, now)
			require.Equal(t, m.Version, am.Version)
			require.Equal(t, asDecoded(m.GroupKey), am.GroupKey)
			require.EqualValues(t, m.TruncatedAlerts, am.TruncatedAlerts)
			require.Equal(t, m.Status, am.Status)
			require.Equal(t, asDecoded(m.Receiver), am.Receiver)
			require.Equal(t, m.ExternalURL, am.ExternalURL)
			require.Equal(t, c.n.NotificationReason(), am.NotificationReason)
			require.Len(t, am.RouteLabels, len(c.n.RouteLabels))
			for k, v := range c.n.RouteLabels {
				require.Equal(t, asDecoded(string(v)), am.RouteLabels[string(k)])
			}
			require.Len(t, am.Alerts, len(m.Alerts))
			for i, a := range m.Alerts {
				require.Equal(t, a.Status, am.Alerts[i].Status)
				require.Len(t, am.Alerts[i].Labels, len(a.Labels))
				for k, v := range a.Labels {
					require.Equal(t, asDecoded(string(v)), am.Alerts[i].Labels[asDecoded(string(k))])
				}
				require.True(t, a.StartsAt.Equal(am.Alerts[i].StartsAt))
				require.True(t, a.EndsAt.Equal(am.Alerts[i].EndsAt))
				require.Equal(t, a.GeneratorURL, am.Alerts[i].GeneratorURL)
				require.Equal(t, c.n.Alerts[i].Fingerprint().String(), am.Alerts[i].Fingerprint)
			}
		})
	}
}

// asDecoded is s as a JSON decoder reads it back: each byte that is not
// UTF-8 becomes U+FFFD.
func asDecoded(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range yields U+FFFD for each bad byte
	}
	return b.String()
}

// TestEncodeRefusesWhatEncodingJSONRefuses: times RFC 3339 cannot write
// fail the encoding, as they fail encoding/json's.
func TestEncodeRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for name, at := range map[string]time.Time{
		"year 10000":    time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"year -1":       time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		"offset 24h":    time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
		"offset 1h0m5s": time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3605)),
	} {
		t.Run(name, func(t *testing.T) {
			n := &notifiers.Notification{Alerts: []*model.Alert{{Labels: model.LabelSet{"a": "b"}, StartsAt: at}}}
			_, wantErr := json.Marshal(webhook.NewMessage(n, 0, at))
			_, err := webhook.Encode(n, 0, at)
			require.Equal(t, wantErr != nil, err != nil, "encoding/json: %v, Encode: %v", wantErr, err)
		})
	}
}
