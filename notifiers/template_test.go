package notifiers_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

func templateNotification(status model.AlertStatus) *notifiers.Notification {
	start := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	a := &model.Alert{
		Labels:       model.LabelSet{"alertname": "ProbeFailing", "probe": "broker-roundtrip", "replica": "eu-1"},
		Annotations:  model.LabelSet{"summary": "no message passed the broker", "runbook_url": "https://runbooks.example/broker"},
		StartsAt:     start,
		GeneratorURL: "http://tocsin:9797/graph",
	}
	if status == model.AlertResolved {
		a.EndsAt = start.Add(5 * time.Minute)
	}
	return &notifiers.Notification{
		Receiver: "oncall", Status: status,
		GroupLabels:  model.LabelSet{"alertname": "ProbeFailing", "probe": "broker-roundtrip"},
		CommonLabels: a.Labels, Alerts: []*model.Alert{a}, ExternalURL: "http://tocsin:9797",
	}
}

func TestDefaultTemplatesSayWhatWhereSinceAndRunbook(t *testing.T) {
	n := templateNotification(model.AlertFiring)
	title, err := notifiers.MustTemplate("", notifiers.TemplateTitle).Execute(notifiers.NewTemplateData(n))
	require.NoError(t, err)
	require.Equal(t, "[FIRING:1] ProbeFailing (probe=broker-roundtrip)", title)

	text, err := notifiers.MustTemplate("", notifiers.TemplateText).Execute(notifiers.NewTemplateData(n))
	require.NoError(t, err)
	for _, want := range []string{
		"ProbeFailing: no message passed the broker",
		"where: probe=broker-roundtrip, replica=eu-1",
		"since: 2026-11-26 05:00:00 UTC",
		"runbook: https://runbooks.example/broker",
		"source: http://tocsin:9797/graph",
		"tocsin: http://tocsin:9797",
	} {
		require.Contains(t, text, want)
	}

	sms, err := notifiers.MustTemplate("", notifiers.TemplateSMS).Execute(notifiers.NewTemplateData(n))
	require.NoError(t, err)
	require.LessOrEqual(t, len(sms), 160)
	require.Contains(t, sms, "https://runbooks.example/broker")

	n.Test = true
	title, err = notifiers.MustTemplate("", notifiers.TemplateTitle).Execute(notifiers.NewTemplateData(n))
	require.NoError(t, err)
	require.Equal(t, "[TEST] [FIRING:1] ProbeFailing (probe=broker-roundtrip)", title)

	r := templateNotification(model.AlertResolved)
	title, err = notifiers.MustTemplate("", notifiers.TemplateTitle).Execute(notifiers.NewTemplateData(r))
	require.NoError(t, err)
	require.Equal(t, "[RESOLVED] ProbeFailing (probe=broker-roundtrip)", title)
}

func TestHTMLTemplateEscapesLabels(t *testing.T) {
	n := templateNotification(model.AlertFiring)
	n.Alerts[0].Annotations["summary"] = "<script>alert(1)</script>"
	tmpl, err := notifiers.ParseHTMLTemplate("", notifiers.TemplateHTML)
	require.NoError(t, err)
	html, err := tmpl.Execute(notifiers.NewTemplateData(n))
	require.NoError(t, err)
	require.NotContains(t, html, "<script>")
	require.Contains(t, html, "&lt;script&gt;")
	require.Contains(t, html, `href="https://runbooks.example/broker"`)
}

func TestOverridesCallDefaultsAndFunctions(t *testing.T) {
	tmpl, err := notifiers.ParseTemplate(`{{ template "tocsin.title" . }} @ {{ .CommonLabels.replica | toUpper }} {{ .Alerts.Firing | len }}`, "")
	require.NoError(t, err)
	out, err := tmpl.Execute(notifiers.NewTemplateData(templateNotification(model.AlertFiring)))
	require.NoError(t, err)
	require.Equal(t, "[FIRING:1] ProbeFailing (probe=broker-roundtrip) @ EU-1 1", out)

	_, err = notifiers.ParseTemplate(`{{ .Oops `, "")
	require.Error(t, err)
}

func TestTemplateFunctionsMatchTheConfigCheck(t *testing.T) {
	var names []string
	for k := range notifiers.TemplateFuncs() {
		names = append(names, k)
	}
	want := configs.TemplateFuncNames()
	slices.Sort(names)
	slices.Sort(want)
	require.Equal(t, want, names)
}
