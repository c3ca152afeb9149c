package pagerduty_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/pagerduty"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"

func notification(status model.AlertStatus, severities ...string) *notifiers.Notification {
	n := &notifiers.Notification{
		Receiver: "oncall", GroupKey: "g", DedupKey: strings.Repeat("ab", 32), Status: status,
		GroupLabels:  model.LabelSet{"alertname": "ProbeFailing"},
		CommonLabels: model.LabelSet{"alertname": "ProbeFailing", "probe": "broker-roundtrip"},
		ExternalURL:  "http://tocsin.example:9797",
	}
	start := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	for _, s := range severities {
		n.Alerts = append(n.Alerts, &model.Alert{
			Labels:   model.LabelSet{"alertname": "ProbeFailing", "severity": model.LabelValue(s), "probe": "broker-roundtrip"},
			StartsAt: start, GeneratorURL: "http://tocsin.example:9797/graph?g0.expr=probe_success",
		})
	}
	return n
}

func setup(t *testing.T, c *configs.PagerDutyConfig) (*notifiertest.Server, *pagerduty.Notifier) {
	t.Helper()
	fake := notifiertest.NewPagerDuty(key)
	t.Cleanup(fake.Close)
	c.RoutingKey, c.URL = key, fake.APIURL()
	if c.Client == "" {
		c.Client = "tocsin"
	}
	n, err := pagerduty.New(c, notifiers.VendorOptions{})
	require.NoError(t, err)
	return fake, n
}

type event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	ClientURL   string `json:"client_url"`
	Links       []struct{ Href, Text string }
	Payload     *struct {
		Summary, Source, Severity, Timestamp string
		CustomDetails                        map[string]any `json:"custom_details"`
	}
}

func lastEvent(t *testing.T, fake *notifiertest.Server) event {
	t.Helper()
	reqs := fake.Requests()
	require.NotEmpty(t, reqs)
	var e event
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &e))
	return e
}

func TestTriggerThenResolveUnderOneDedupKey(t *testing.T) {
	fake, n := setup(t, &configs.PagerDutyConfig{})
	firing := notification(model.AlertFiring, "warning", "critical")
	_, err := n.Notify(t.Context(), firing)
	require.NoError(t, err)
	e := lastEvent(t, fake)
	require.Equal(t, "trigger", e.EventAction)
	require.Equal(t, firing.DedupKey, e.DedupKey)
	require.Equal(t, "critical", e.Payload.Severity, "the most severe alert decides")
	require.Equal(t, "broker-roundtrip", e.Payload.Source)
	require.Equal(t, "[FIRING:2] ProbeFailing", e.Payload.Summary)
	require.Equal(t, "2026-11-26T05:00:00Z", e.Payload.Timestamp)
	require.Equal(t, "tocsin", e.Client)
	require.Equal(t, "http://tocsin.example:9797", e.ClientURL)
	require.Equal(t, "http://tocsin.example:9797", e.Links[0].Href, "the page links back to tocsin")
	require.Contains(t, e.Payload.CustomDetails["text"], "ProbeFailing")

	resolved := notification(model.AlertResolved, "critical")
	resolved.Alerts[0].EndsAt = resolved.Alerts[0].StartsAt.Add(time.Minute)
	_, err = n.Notify(t.Context(), resolved)
	require.NoError(t, err)
	e = lastEvent(t, fake)
	require.Equal(t, "resolve", e.EventAction)
	require.Equal(t, firing.DedupKey, e.DedupKey)
	require.Nil(t, e.Payload)
	require.Empty(t, fake.Violations())
}

func TestSummaryIsCutTo1024Characters(t *testing.T) {
	fake, n := setup(t, &configs.PagerDutyConfig{Description: `{{ range .Alerts }}{{ .Labels.alertname }} ö {{ end }}`})
	notif := notification(model.AlertFiring)
	for range 300 {
		notif.Alerts = append(notif.Alerts, &model.Alert{Labels: model.LabelSet{"alertname": "ProbeFailing"}})
	}
	_, err := n.Notify(t.Context(), notif)
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	require.Equal(t, 1024, utf8.RuneCountInString(lastEvent(t, fake).Payload.Summary))
}

func TestSeverityFromConfigTemplate(t *testing.T) {
	fake, n := setup(t, &configs.PagerDutyConfig{Severity: `{{ if eq .CommonLabels.probe "broker-roundtrip" }}warning{{ end }}`})
	_, err := n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.NoError(t, err)
	require.Equal(t, "warning", lastEvent(t, fake).Payload.Severity)
}

func TestSeverityMapping(t *testing.T) {
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{nil, "error"},
		{[]string{"page"}, "critical"},
		{[]string{"info", "warn"}, "warning"},
		{[]string{"none"}, "info"},
		{[]string{"something-else"}, "error"},
		{[]string{"high", "low"}, "error"},
	} {
		require.Equal(t, tc.want, pagerduty.Severity(notification(model.AlertFiring, tc.labels...)), tc.labels)
	}
}

func TestClientAndClientURLAreTemplatesAsInAlertmanager(t *testing.T) {
	fake, n := setup(t, &configs.PagerDutyConfig{
		Client:    `{{ template "pagerduty.default.client" . }} for {{ .CommonLabels.alertname }}`,
		ClientURL: `https://am.example/#/alerts?receiver={{ .Receiver | urlquery }}`,
	})
	_, err := n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.NoError(t, err)
	e := lastEvent(t, fake)
	require.Equal(t, "Alertmanager for ProbeFailing", e.Client)
	require.Equal(t, "https://am.example/#/alerts?receiver=oncall", e.ClientURL)
}

func TestImagesAndLinksAsInAlertmanager(t *testing.T) {
	fake, n := setup(t, &configs.PagerDutyConfig{
		Images: []configs.PagerDutyImage{
			{Src: "https://grafana.example/render/{{ .CommonLabels.probe }}.png", Alt: "{{ .CommonLabels.alertname }}", Href: "https://grafana.example/d/probes"},
			{Src: "{{ .CommonAnnotations.nosuch }}"},
			{Src: "{{ .CommonAnnotations.nosuch }}/relative.png"},
		},
		Links: []configs.PagerDutyLink{
			{Href: "https://runbooks.example/{{ .CommonLabels.alertname }}", Text: "runbook for {{ .CommonLabels.alertname }}"},
			{Href: "{{ .CommonAnnotations.nosuch }}", Text: "left out: no href"},
		},
	})
	_, err := n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	var ev struct {
		Images []map[string]string
		Links  []map[string]string
	}
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &ev))
	require.Equal(t, []map[string]string{{"src": "https://grafana.example/render/broker-roundtrip.png", "alt": "ProbeFailing", "href": "https://grafana.example/d/probes"}}, ev.Images,
		"an image whose src renders to no https URL is left out")
	require.Equal(t, map[string]string{"href": "https://runbooks.example/ProbeFailing", "text": "runbook for ProbeFailing"}, ev.Links[0], "the configured link comes first")
	require.Equal(t, map[string]string{"href": "http://tocsin.example:9797", "text": "tocsin"}, ev.Links[1], "then tocsin's own")
}

const serviceKey = "S3RV1C3KEYS3RV1C3KEYS3RV1C3KEY32"

func TestServiceKeyPagesThroughEventsAPIv1(t *testing.T) {
	fake := notifiertest.NewPagerDutyV1(serviceKey)
	t.Cleanup(fake.Close)
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route: {receiver: oncall}
receivers:
- name: oncall
  pagerduty_configs:
  - service_key: `+serviceKey+`
    url: `+fake.APIURL()+`
    description: '{{ .CommonLabels.alertname }} on {{ .CommonLabels.probe }}'
    details: {team: iot}
`))
	require.NoError(t, err)
	n, err := pagerduty.New(cfg.Receivers[0].PagerDutyConfigs[0], notifiers.VendorOptions{})
	require.NoError(t, err)

	_, err = n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification(model.AlertResolved, "critical"))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	var trigger struct {
		ServiceKey  string `json:"service_key"`
		EventType   string `json:"event_type"`
		IncidentKey string `json:"incident_key"`
		Description string
		Client      string
		ClientURL   string `json:"client_url"`
		Details     map[string]any
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &trigger))
	require.Equal(t, "trigger", trigger.EventType)
	require.Equal(t, strings.Repeat("ab", 32), trigger.IncidentKey, "the group's dedup key")
	require.Equal(t, "ProbeFailing on broker-roundtrip", trigger.Description)
	require.Equal(t, "tocsin", trigger.Client)
	require.Equal(t, "http://tocsin.example:9797", trigger.ClientURL)
	require.Equal(t, "iot", trigger.Details["team"])
	require.Equal(t, "resolve", reqs[1].Page.Action)
	require.Equal(t, trigger.IncidentKey, reqs[1].Page.Key)

	fake.SetMode(notifiertest.RateLimit)
	retry, err := n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.Error(t, err)
	require.True(t, retry, "the Events API v1 rate-limits with 403")
	fake.SetMode(notifiertest.Reject)
	retry, err = n.Notify(t.Context(), notification(model.AlertFiring, "critical"))
	require.Error(t, err)
	require.False(t, retry)
	require.Contains(t, err.Error(), "Service key is invalid")
}
