package notifiers_test

import (
	"os"
	"path/filepath"
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

func TestAlertmanagerTemplatesAndFunctionsRender(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "team.tmpl")
	require.NoError(t, os.WriteFile(file, []byte(`{{ define "team.title" }}{{ .CommonLabels.alertname | title }} on {{ .CommonLabels.Remove (stringSlice "alertname" "replica") | len }} labels{{ end }}
{{ define "__alertmanager" }}tocsin{{ end }}`), 0o600))
	ts, err := notifiers.NewTemplates([]string{file}, nil)
	require.NoError(t, err)
	n := templateNotification(model.AlertFiring)
	tests := []struct {
		name, text, want string
	}{
		{"slack default title", `{{ template "slack.default.title" . }}`, "[FIRING:1] ProbeFailing broker-roundtrip (eu-1)"},
		{"a template file redefines a default", `{{ template "slack.default.username" . }}`, "tocsin"},
		{"a template file's own template", `{{ template "team.title" . }}`, "Probefailing on 1 labels"},
		{"Alertmanager data and functions", `{{ .Receiver }} {{ .Status }} {{ range .Alerts.Firing }}{{ .Labels.SortedPairs.Names | join "," }}{{ end }} {{ .ExternalURL | safeHtml }} {{ .GroupLabels.Values | join " " }}`,
			"oncall firing alertname,probe,replica http://tocsin:9797 ProbeFailing broker-roundtrip"},
		{"pagerduty default description", `{{ template "pagerduty.default.description" . }}`, "[FIRING:1] ProbeFailing broker-roundtrip (eu-1)"},
		{"tocsin additions stay", `{{ .CommonLabels.probe | truncate 6 }} {{ (index .Alerts 0).StartsAt | formatTime }} {{ .Alerts.Limit 5 | len }}`, "broke… 2026-11-26 05:00:00 UTC 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ts.Parse(tt.text, "")
			require.NoError(t, err)
			out, err := tmpl.Execute(notifiers.NewTemplateData(n))
			require.NoError(t, err)
			require.Equal(t, tt.want, out)
		})
	}
}

func TestTemplatesThatCannotRenderAreRefusedWhenParsed(t *testing.T) {
	for _, text := range []string{
		`{{ template "slack.nope" . }}`,
		`{{ .Alerts.Nope }}`,
		`{{ index .Alerts 7 }}`,
		`{{ nope }}`,
	} {
		_, err := notifiers.ParseTemplate(text, notifiers.TemplateTitle)
		require.Error(t, err, text)
	}
}

func TestATemplateThatFailsWhenSendingFallsBackToTheDefault(t *testing.T) {
	// The sample has two alerts; this notification has one.
	tmpl, err := notifiers.ParseTemplate(`{{ (index .Alerts 1).Labels.alertname }}`, notifiers.TemplateTitle)
	require.NoError(t, err)
	out, err := tmpl.Execute(notifiers.NewTemplateData(templateNotification(model.AlertFiring)))
	require.NoError(t, err)
	require.Equal(t, "[FIRING:1] ProbeFailing (probe=broker-roundtrip)", out)

	noDefault, err := notifiers.ParseTemplate(`{{ (index .Alerts 1).Labels.alertname }}`, "")
	require.NoError(t, err)
	_, err = noDefault.Execute(notifiers.NewTemplateData(templateNotification(model.AlertFiring)))
	require.Error(t, err)
}

func TestCheckTemplatesReportsEachFieldAtItsPosition(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.tmpl"), []byte(`{{ define "team.title" }}{{ .CommonLabels.alertname }}{{ end }}`), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(`global: {replica: eu-1}
templates: ['*.tmpl']
route: {receiver: oncall, group_by: [alertname]}
receivers:
- name: oncall
  slack_configs:
  - api_url: http://slack.example/hook
    title: '{{ template "slack.default.title" . }}'
    text: '{{ template "team.title" . }} {{ template "team.text" . }}'
  pagerduty_configs:
  - routing_key: abc
    details:
      broken: '{{ .CommonLabels.Nope.Deeper }}'
      unknown: '{{ .Foo }}'
  email_configs:
  - {to: a@example.org, from: b@example.org, smarthost: 'mail:25', html: '{{ template "email.default.html" . }}'}
`), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	errs := notifiers.CheckTemplates(cfg)
	require.Len(t, errs, 3, "%v", errs)
	require.Contains(t, errs[0].Error(), file+`:9:54: text: template cannot render:`, "the column points inside the template")
	require.Contains(t, errs[0].Error(), `template "team.text" not defined`)
	require.Contains(t, errs[1].Error(), file+`:13:32: details.broken: template cannot render: line 1:16: <.CommonLabels.Nope.Deeper>: can't evaluate field Deeper`)
	require.Contains(t, errs[2].Error(), file+`:14:20: details.unknown: template cannot render: line 1:3: <.Foo>: `+
		`can't evaluate field Foo in the notification's data (Alertmanager's *template.Data)`, "each value of a map at its own place, the data named as Alertmanager's users know it")
}

func TestResolvedNotificationsAreCheckedOnlyWhereTheyAreSent(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route: {receiver: r}
receivers:
- name: r
  slack_configs:
  - api_url: http://slack.example/hook
    title: '{{ (index .Alerts.Firing 0).Labels.alertname }}'
  - api_url: http://slack.example/hook
    send_resolved: true
    title: '{{ (index .Alerts.Firing 0).Labels.alertname }}'
`))
	require.NoError(t, err)
	errs := notifiers.CheckTemplates(cfg)
	require.Len(t, errs, 1, "%v", errs)
	require.Contains(t, errs[0].Error(), "tocsin.yml:10:17: title: template cannot render:")
	require.Contains(t, errs[0].Error(), "index out of range")
}

// TestCheckTemplatesCoversAlertmanagersExtraKeys: the templates of Slack's
// attachment keys, PagerDuty's images and links and Opsgenie's actions
// and note are rendered by check config as every other template is.
func TestCheckTemplatesCoversAlertmanagersExtraKeys(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route: {receiver: r}
receivers:
- name: r
  slack_configs:
  - api_url: http://slack.example/hook
    color: '{{ template "nope.color" . }}'
    actions: [{type: button, text: '{{ template "nope.text" . }}', url: 'https://x.example/'}]
  pagerduty_configs:
  - routing_key: abc
    links: [{href: '{{ template "nope.href" . }}'}]
  opsgenie_configs:
  - api_key: k
    note: '{{ template "nope.note" . }}'
`))
	require.NoError(t, err)
	errs := notifiers.CheckTemplates(cfg)
	require.Len(t, errs, 4, "%v", errs)
	for i, want := range []string{"tocsin.yml:7:", "tocsin.yml:8:", "tocsin.yml:11:", "tocsin.yml:14:"} {
		require.Contains(t, errs[i].Error(), want)
		require.Contains(t, errs[i].Error(), "not defined")
	}
}

// A message template sees the route labels the group's flush rendered,
// as .RouteLabels and through routeLabels (which returns them as they
// are, not rendering them again), and the notification's reason; text and
// HTML alike.
func TestTemplatesSeeRouteLabelsAndTheReason(t *testing.T) {
	n := templateNotification(model.AlertFiring)
	n.RouteLabels = model.LabelSet{"team": "core", "raw": `{{ "not rendered twice" }}`}
	n.Reason = "new alerts added"
	const text = `{{ .NotificationReason }}: {{ .RouteLabels.team }} {{ routeLabels "team" }} {{ routeLabels "raw" }} [{{ routeLabels "nope" }}] {{ .RouteLabels.SortedPairs.Names | join "," }}`
	for _, html := range []bool{false, true} {
		parse := notifiers.ParseTemplate
		if html {
			parse = notifiers.ParseHTMLTemplate
		}
		tmpl, err := parse(text, "")
		require.NoError(t, err)
		out, err := tmpl.Execute(notifiers.NewTemplateData(n))
		require.NoError(t, err)
		want := `new alerts added: core core {{ "not rendered twice" }} [] raw,team`
		if html {
			want = `new alerts added: core core {{ &#34;not rendered twice&#34; }} [] raw,team`
		}
		require.Equal(t, want, out)
	}

	// So does a webhook payload's string, rendered untrimmed.
	out, err := (*notifiers.Templates)(nil).ExecuteText(` {{ routeLabels "team" }}/{{ .NotificationReason }} `, notifiers.NewTemplateData(n))
	require.NoError(t, err)
	require.Equal(t, " core/new alerts added ", out)

	// A notification without a reason (a test page) is "unknown", as
	// Alertmanager says when it has none.
	tmpl, err := notifiers.ParseTemplate(`{{ .NotificationReason }}`, "")
	require.NoError(t, err)
	out, err = tmpl.Execute(notifiers.NewTemplateData(templateNotification(model.AlertFiring)))
	require.NoError(t, err)
	require.Equal(t, "unknown", out)
}

// check config renders every route label against the samples, with the
// labels it inherits, and refuses one that cannot render at its place;
// the route tree refuses it too, as the integrations refuse their
// templates.
func TestCheckTemplatesRendersRouteLabels(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route:
  receiver: r
  labels:
    team: '{{ .CommonLabels.service }}'
    a: '{{ routeLabels "b" }}'
  routes:
  - matchers: ['x="y"']
    labels:
      owner: 'x {{ template "team.owner" . }}'
      b: '{{ routeLabels "a" }}'
  - matchers: ['x="z"']
    labels:
      fine: '{{ routeLabels "team" }}/{{ .GroupLabels.alertname }}'
      b: 'b'
receivers:
- name: r
`))
	require.NoError(t, err)
	errs := notifiers.CheckTemplates(cfg)
	require.Len(t, errs, 2, "%v", errs)
	require.Contains(t, errs[0].Error(), `tocsin.yml:10:29: labels.owner: template cannot render: line 1:14: `)
	require.Contains(t, errs[0].Error(), `template "team.owner" not defined`)
	require.Contains(t, errs[1].Error(), `tocsin.yml:11:14: labels.b: template cannot render: line 1:3: <routeLabels "a">: error calling routeLabels:`)
	require.Contains(t, errs[1].Error(), `route label cycle detected: b -> a -> b`)

	_, err = notifiers.NewRouteFromConfig(cfg)
	require.ErrorContains(t, err, `route {}/{x="y"}: route label a:`)
	require.ErrorContains(t, err, `route label owner: line 1:14:`)
}
