package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amwebhook "github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// reflected is Message without its encoder, so that encoding/json encodes
// it by reflection: the bytes the hand-written encoder must match.
type reflected webhook.Message

// TestAppendJSONMatchesEncodingJSON encodes payloads with awkward text,
// times and label sets both ways and compares the bytes, then decodes them
// into Alertmanager's own webhook Message.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	start := time.Date(2026, 11, 26, 5, 0, 0, 123456789, time.UTC)
	tricky := "a\"b\\c<d>e&f\n\r\t\b\f\x00\x1f\x7f é 日本 \u2028\u2029 \xff\xfe end"
	cases := map[string]webhook.Message{
		"empty": {},
		"no alerts": {
			Version: webhook.Version, GroupKey: `{}:{alertname="X"}`, Status: "firing", Receiver: "r",
			GroupLabels: model.LabelSet{}, CommonLabels: model.LabelSet{}, CommonAnnotations: model.LabelSet{},
			Alerts: []webhook.Alert{},
		},
		"tricky text": {
			Version: webhook.Version, GroupKey: tricky, TruncatedAlerts: 7, Status: "resolved", Receiver: tricky,
			GroupLabels:       model.LabelSet{"z": "1", "a": model.LabelValue(tricky), "M": ""},
			CommonLabels:      model.LabelSet{model.LabelName(tricky): "x"},
			CommonAnnotations: nil,
			ExternalURL:       "http://tocsin.example/?a=1&b=<2>",
			Alerts: []webhook.Alert{
				{
					Status: "firing", Labels: model.LabelSet{"alertname": "A", "instance": "host-00001", "b": "", "_": "u"},
					Annotations: model.LabelSet{"summary": model.LabelValue(tricky)},
					StartsAt:    start, GeneratorURL: "http://prometheus.example/graph?g0.expr=up%3D%3D0&x=<y>", Fingerprint: "0123456789abcdef",
				},
				{
					Status: "resolved", Labels: nil, Annotations: model.LabelSet{},
					StartsAt: start.In(time.FixedZone("", 5*3600+30*60)), EndsAt: start.Add(time.Minute).In(time.FixedZone("", -8*3600)),
				},
				{StartsAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
			},
		},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal((*reflected)(&m))
			require.NoError(t, err)
			got, err := m.AppendJSON(nil)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))

			var am amwebhook.Message
			require.NoError(t, json.Unmarshal(got, &am))
			require.Equal(t, m.Version, am.Version)
			require.Equal(t, asDecoded(m.GroupKey), am.GroupKey)
			require.EqualValues(t, m.TruncatedAlerts, am.TruncatedAlerts)
			require.Equal(t, m.Status, am.Status)
			require.Equal(t, asDecoded(m.Receiver), am.Receiver)
			require.Equal(t, m.ExternalURL, am.ExternalURL)
			require.Len(t, am.Alerts, len(m.Alerts))
			for i, a := range m.Alerts {
				require.Equal(t, a.Status, am.Alerts[i].Status)
				require.Len(t, am.Alerts[i].Labels, len(a.Labels))
				for k, v := range a.Labels {
					require.Equal(t, asDecoded(string(v)), am.Alerts[i].Labels[string(k)])
				}
				require.True(t, a.StartsAt.Equal(am.Alerts[i].StartsAt))
				require.True(t, a.EndsAt.Equal(am.Alerts[i].EndsAt))
				require.Equal(t, a.GeneratorURL, am.Alerts[i].GeneratorURL)
				require.Equal(t, a.Fingerprint, am.Alerts[i].Fingerprint)
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

// TestAppendJSONRefusesWhatEncodingJSONRefuses: times RFC 3339 cannot
// write fail the encoding, as they fail encoding/json's.
func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for name, at := range map[string]time.Time{
		"year 10000":    time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"year -1":       time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		"offset 24h":    time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
		"offset 1h0m5s": time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3605)),
	} {
		t.Run(name, func(t *testing.T) {
			m := webhook.Message{Alerts: []webhook.Alert{{StartsAt: at}}}
			_, wantErr := json.Marshal((*reflected)(&m))
			_, err := m.AppendJSON(nil)
			require.Equal(t, wantErr != nil, err != nil, "encoding/json: %v, AppendJSON: %v", wantErr, err)
		})
	}
}
