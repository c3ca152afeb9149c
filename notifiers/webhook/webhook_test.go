package webhook_test

import (
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func notification(n int) *notifiers.Notification {
	start := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	notif := &notifiers.Notification{
		Receiver: "hooks", GroupKey: `{}:{alertname="ProbeFailing"}`, DedupKey: "d", Status: model.AlertFiring,
		GroupLabels:       model.LabelSet{"alertname": "ProbeFailing"},
		CommonLabels:      model.LabelSet{"alertname": "ProbeFailing"},
		CommonAnnotations: model.LabelSet{"runbook_url": "https://runbooks.example"},
		ExternalURL:       "http://tocsin.example",
	}
	for i := range n {
		a := &model.Alert{
			Labels:   model.LabelSet{"alertname": "ProbeFailing", "probe": model.LabelValue(rune('a' + i))},
			StartsAt: start, GeneratorURL: "http://tocsin.example/graph",
		}
		if i == 0 {
			a.EndsAt = start.Add(time.Minute) // resolved
		}
		notif.Alerts = append(notif.Alerts, a)
	}
	return notif
}

// TestAlertmanagerReceiversReadThePayload decodes what tocsin sends as an
// existing Alertmanager webhook receiver would.
func TestAlertmanagerReceiversReadThePayload(t *testing.T) {
	fake := notifiertest.NewWebhook(notifiertest.WithAuthorization("Bearer hook-secret"))
	defer fake.Close()
	httpConf := config.DefaultHTTPClientConfig
	httpConf.Authorization = &config.Authorization{Type: "Bearer", Credentials: "hook-secret"}
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	n, err := webhook.New(&configs.WebhookConfig{URL: config.Secret(fake.APIURL()), MaxAlerts: 2, HTTPConfig: &httpConf},
		notifiers.VendorOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)
	notif := notification(3)
	_, err = n.Notify(t.Context(), notif)
	require.NoError(t, err)
	require.Empty(t, fake.Violations())

	// The fake decodes with the field names and types of Alertmanager's
	// notify/webhook.Message and refuses a payload missing any of them.
	am, err := notifiertest.DecodeWebhook(fake.Requests()[0].Body)
	require.NoError(t, err)
	require.Equal(t, "4", am.Version)
	require.Equal(t, notif.GroupKey, am.GroupKey)
	require.Equal(t, 1, am.TruncatedAlerts)
	require.Equal(t, "firing", am.Status)
	require.Equal(t, "hooks", am.Receiver)
	require.Equal(t, "ProbeFailing", am.GroupLabels["alertname"])
	require.Equal(t, "https://runbooks.example", am.CommonAnnotations["runbook_url"])
	require.Equal(t, "http://tocsin.example", am.ExternalURL)
	require.Equal(t, "unknown", am.NotificationReason, "Alertmanager's word when no reason was given")
	require.Empty(t, am.RouteLabels)
	require.Len(t, am.Alerts, 2)
	require.Equal(t, "resolved", am.Alerts[0].Status)
	require.Equal(t, "firing", am.Alerts[1].Status)
	require.Equal(t, notif.Alerts[1].Fingerprint().String(), am.Alerts[1].Fingerprint)
	require.Equal(t, "http://tocsin.example/graph", am.Alerts[1].GeneratorURL)
}

// BenchmarkEncode10000 builds and encodes the payload of a storm.
func BenchmarkEncode10000(b *testing.B) {
	notif := notification(10000)
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := webhook.Encode(notif, 0, now); err != nil {
			b.Fatal(err)
		}
	}
}
