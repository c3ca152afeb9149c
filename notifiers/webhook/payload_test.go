package webhook_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	amalert "github.com/prometheus/alertmanager/alert"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/notify"
	amwebhook "github.com/prometheus/alertmanager/notify/webhook"
	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// payloadYAML exercises every rule of Alertmanager's payload: templated
// values and keys, strings that render to numbers, booleans, lists,
// mappings and nothing (null), values that are no strings, dates, text
// read as YAML 1.1 (y is true, "value1:" a mapping), HTML, and
// max_alerts cutting what the templates see.
const payloadYAML = `
        summary: '{{ .CommonLabels.alertname }} is {{ .Status }} ({{ .Receiver }})'
        count: '{{ len .Alerts }}'
        '{{ .GroupLabels.alertname }}': the key is a template
        probes: '[{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}{{ $a.Labels.probe }}{{ end }}]'
        nested:
          list: ['{{ (index .Alerts 0).Status }}', 3, true, ~, 2.5, 'yes']
          empty: ''
          asMap: '{a: 1, b: [x, y]}'
          quotedNumber: '42'
          date: 2026-11-30
          html: '<b>{{ .ExternalURL }}</b> & more'
          looksLikeYAML: 'value1:'
          multi: |
            line one {{ .Status }}
            line two
`

// TestPayloadIsAlertmanagers renders one payload with tocsin and with
// Alertmanager's own webhook notifier, against the same fake receiver,
// and requires the same bytes.
func TestPayloadIsAlertmanagers(t *testing.T) {
	fake := notifiertest.NewWebhook(notifiertest.WithAnyJSON())
	defer fake.Close()
	integration := `
    webhook_configs:
    - url: '` + fake.APIURL() + `'
      max_alerts: 2
      payload:` + payloadYAML
	notif := notification(3)

	cfg, err := configs.Load("tocsin.yml", []byte("global: {replica: eu-1}\nroute: {receiver: hooks}\nreceivers:\n  - name: hooks"+integration))
	require.NoError(t, err)
	require.Empty(t, notifiers.CheckTemplates(cfg))
	n, err := webhook.New(cfg.Receivers[0].WebhookConfigs[0], notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notif)
	require.NoError(t, err)

	alertmanagerNotifies(t, integration, notif)

	require.Empty(t, fake.Violations())
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, string(reqs[1].Body), string(reqs[0].Body))
	require.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	for _, want := range []string{
		`"summary":"ProbeFailing is firing (hooks)"`, `"count":2`, `"ProbeFailing":"the key is a template"`, `"probes":["a","b"]`,
		`"list":["resolved",3,true,null,2.5,true]`, `"empty":null`, `"asMap":{"a":1,"b":["x",true]}`, `"quotedNumber":42`,
		`"date":"2026-11-30"`, `"html":"\u003cb\u003ehttp://tocsin.example\u003c/b\u003e \u0026 more"`, `"looksLikeYAML":{"value1":null}`,
		`"multi":"line one firing\nline two\n"`,
	} {
		require.Contains(t, string(reqs[0].Body), want)
	}
	require.True(t, strings.HasSuffix(string(reqs[0].Body), "}\n"))
}

// alertmanagerNotifies sends notif through Alertmanager's own webhook
// notifier, loaded from the integration written under a receiver hooks.
func alertmanagerNotifies(t *testing.T, integration string, notif *notifiers.Notification) {
	t.Helper()
	amCfg, err := amconfig.Load("route: {receiver: hooks}\nreceivers:\n  - name: hooks" + integration)
	require.NoError(t, err)
	tmpl, err := amtemplate.FromGlobs(nil)
	require.NoError(t, err)
	tmpl.ExternalURL, err = url.Parse(notif.ExternalURL)
	require.NoError(t, err)
	am, err := amwebhook.New(amCfg.Receivers[0].WebhookConfigs[0], tmpl, promslog.NewNopLogger())
	require.NoError(t, err)
	ctx := notify.WithGroupKey(t.Context(), notif.GroupKey)
	ctx = notify.WithReceiverName(ctx, notif.Receiver)
	ctx = notify.WithGroupLabels(ctx, notif.GroupLabels)
	alerts := make([]*amalert.Alert, len(notif.Alerts))
	for i, a := range notif.Alerts {
		alerts[i] = &amalert.Alert{Alert: *a}
	}
	_, err = am.Notify(ctx, alerts...)
	require.NoError(t, err)
}

// TestWithoutPayloadTheBodyIsTheFastEncoders: no payload key posts what
// Encode writes, byte for byte.
func TestWithoutPayloadTheBodyIsTheFastEncoders(t *testing.T) {
	fake := notifiertest.NewWebhook()
	defer fake.Close()
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	n, err := webhook.New(&configs.WebhookConfig{URL: config.Secret(fake.APIURL()), MaxAlerts: 2}, notifiers.VendorOptions{Now: func() time.Time { return now }})
	require.NoError(t, err)
	notif := notification(3)
	_, err = n.Notify(t.Context(), notif)
	require.NoError(t, err)
	want, err := webhook.Encode(notif, 2, now)
	require.NoError(t, err)
	require.Equal(t, string(want), string(fake.Requests()[0].Body))
}

// TestPayloadProblemsArePlaced: a payload template that does not parse,
// or a value JSON cannot hold, is refused when the config loads, and one
// that cannot render is reported by check config, each at its line and
// column; the notifier refuses one that cannot render.
func TestPayloadProblemsArePlaced(t *testing.T) {
	head := "global: {replica: eu-1}\nroute: {receiver: hooks}\nreceivers:\n- name: hooks\n  webhook_configs:\n  - url: http://hooks.example/x\n    payload:\n"
	cases := map[string]struct {
		payload  string
		loadErr  string
		checkErr string
	}{
		"bad syntax": {payload: "      a: [ok, '{{ .Status ']\n", loadErr: "tocsin.yml:8:15: payload.a[1]: bad template:"},
		"bad key":    {payload: "      '{{ end }}': x\n", loadErr: "tocsin.yml:8:7: payload.{{ end }} (key): bad template:"},
		"nan":        {payload: "      a: {b: .nan}\n", loadErr: "tocsin.yml:8:14: payload.a.b: JSON has no .nan"},
		"cannot render": {payload: "      a:\n        b: 'x {{ .CommonLabels.Nope.Deeper }}'\n",
			checkErr: "tocsin.yml:9:31: payload.a.b: template cannot render: line 1:18: <.CommonLabels.Nope.Deeper>: can't evaluate field Deeper"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := configs.Load("tocsin.yml", []byte(head+c.payload))
			if c.loadErr != "" {
				require.ErrorContains(t, err, c.loadErr)
				return
			}
			require.NoError(t, err)
			errs := notifiers.CheckTemplates(cfg)
			require.Len(t, errs, 1, "%v", errs)
			require.Contains(t, errs[0].Error(), c.checkErr)
			_, err = webhook.New(cfg.Receivers[0].WebhookConfigs[0], notifiers.VendorOptions{})
			require.ErrorContains(t, err, "webhook: render payload:")
		})
	}
}
