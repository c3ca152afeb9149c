package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// integrationFile wraps one receiver's integration section into a whole config.
func integrationFile(section string) string {
	return "global: {replica: test}\nroute: {receiver: r}\nreceivers:\n- name: r\n" + section
}

func TestIntegrationErrorsPointAtTheValue(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pd.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o600))
	badURLFile := filepath.Join(dir, "hook")
	require.NoError(t, os.WriteFile(badURLFile, []byte("hooks.slack.com/services/T0K3N"), 0o600))

	tests := []struct {
		name    string
		section string
		want    []string // "line:col: message fragment"
		secret  string   // must not appear in any message
	}{
		{
			name:    "both routing_key and routing_key_file",
			section: "  pagerduty_configs:\n  - routing_key: abc\n    routing_key_file: " + keyFile + "\n",
			want:    []string{"7:23: set either routing_key or routing_key_file, not both"},
			secret:  "abc",
		},
		{
			name:    "neither routing_key nor routing_key_file",
			section: "  pagerduty_configs:\n  - severity: critical\n",
			want:    []string{"6:5: routing_key or routing_key_file is required"},
		},
		{
			name:    "unreadable and empty secret files",
			section: "  opsgenie_configs:\n  - api_key_file: /nonexistent/og\n  - api_key_file: " + emptyFile + "\n",
			want:    []string{"6:19: api_key_file: cannot read secret", "7:19: api_key_file: " + emptyFile + " is empty"},
		},
		{
			name:    "bad pagerduty url and severity",
			section: "  pagerduty_configs:\n  - routing_key_file: " + keyFile + "\n    url: 'ftp://events.example/v2'\n    severity: urgent\n",
			want:    []string{`7:10: url: URL "ftp://events.example/v2" must use http or https`, `8:15: severity must be one of critical, error, warning, info`},
		},
		{
			name:    "webhook url without a scheme, from a file: the URL is not shown",
			section: "  slack_configs:\n  - api_url_file: " + badURLFile + "\n",
			want:    []string{"6:19: api_url: URL must use http or https (URL not shown"},
			secret:  "T0K3N",
		},
		{
			name:    "inline webhook url with a bad port: the URL is not shown",
			section: "  webhook_configs:\n  - url: 'http://hook.example:99x/T0K3N'\n",
			want:    []string{"6:10: url: bad URL (not shown, it may hold a secret): invalid port"},
			secret:  "T0K3N",
		},
		{
			name:    "webhook url template: only its syntax is checked when it loads, and a plain url still as a URL",
			section: "  webhook_configs:\n  - url: '{{ .CommonAnnotations.hook }}'\n  - url: 'hooks/{{ .GroupLabels.team | toLower }}/T0K3N'\n  - url: 'http://hook.example/{{ .GroupLabels.team /T0K3N'\n  - url: 'hooks/T0K3N'\n",
			want:    []string{"8:10: url: bad template (URL not shown, it may hold a secret):", "9:10: url: URL must use http or https (URL not shown"},
			secret:  "T0K3N",
		},
		{
			name:    "msteamsv2_configs is checked as msteams_configs, at its own place",
			section: "  msteamsv2_configs:\n  - title: hi\n",
			want:    []string{"6:5: webhook_url or webhook_url_file is required"},
		},
		{
			name:    "msteams needs a webhook_url",
			section: "  msteams_configs:\n  - title: hi\n",
			want:    []string{"6:5: webhook_url or webhook_url_file is required"},
		},
		{
			name:    "slack needs a webhook or a token, and a bot needs a channel",
			section: "  slack_configs:\n  - channel: '#x'\n  - token: xoxb-1\n",
			want:    []string{"6:5: slack needs api_url", "7:5: a bot token needs a channel"},
			secret:  "xoxb-1",
		},
		{
			name:    "opsgenie with both api_url and region, bad priority and responder",
			section: "  opsgenie_configs:\n  - api_key: k\n    api_url: 'https://og.example/'\n    region: eu\n    priority: P9\n    responders: [{type: squad, name: ops}, {type: team}]\n",
			want: []string{
				"8:13: set either api_url or region, not both",
				"9:15: priority must be P1, P2, P3, P4 or P5",
				"10:25: responder type must be one of team, user, escalation, schedule",
				"10:44: responder needs an id, name or username",
			},
		},
		{
			name:    "opsgenie region",
			section: "  opsgenie_configs:\n  - api_key: k\n    region: asia\n",
			want:    []string{`7:13: region must be us or eu, not "asia"`},
		},
		{
			name:    "email: missing to, bad from, smarthost without port, bad require_tls",
			section: "  email_configs:\n  - from: 'not an address'\n    smarthost: mail.example\n    require_tls: sometimes\n",
			want: []string{
				"6:5: to is required",
				"6:11: from: bad address",
				"7:16: smarthost must be host:port",
				"8:18: require_tls must be true, false, mandatory, opportunistic or none",
			},
		},
		{
			name:    "email: password without user, both password keys",
			section: "  email_configs:\n  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', auth_password: s3cr3t, auth_password_file: " + keyFile + "}\n",
			want:    []string{"6:92: auth_password needs auth_username", "6:120: set either auth_password or auth_password_file, not both"},
			secret:  "s3cr3t",
		},
		{
			name: "email: auth_secret without user, with a password; auth_identity without a password",
			section: "  email_configs:\n  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', auth_secret: cr4m}\n" +
				"  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', auth_username: u, auth_password: p, auth_secret: cr4m}\n" +
				"  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', auth_username: u, auth_identity: team}\n",
			want: []string{
				"6:90: auth_secret needs auth_username",
				"7:126: set either auth_password or auth_secret (CRAM-MD5), not both",
				"8:110: auth_identity is the identity of PLAIN authentication and needs auth_password",
			},
			secret: "cr4m",
		},
		{
			name: "email threading: a References header of its own, a bad thread_by_date",
			section: "  email_configs:\n  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', threading: {enabled: true}, headers: {References: x}}\n" +
				"  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', threading: {enabled: true, thread_by_date: weekly}}\n",
			want: []string{
				"6:88: threading sets the References header, which headers sets too; keep one",
				`7:120: thread_by_date must be daily or none, not "weekly"`,
			},
		},
		{
			name:    "twilio: bad sid, bad to, missing token",
			section: "  twilio_configs:\n  - account_sid: AB123\n    from: '+15550000000'\n    to: '555-1234'\n",
			want:    []string{"6:5: auth_token or auth_token_file is required", "6:18: account_sid must be AC followed by 32 hex digits", "8:9: to must be a phone number in E.164 form"},
		},
		{
			name:    "bad templates",
			section: "  slack_configs:\n  - api_url: 'https://hooks.example/x'\n    title: '{{ .Status '\n    text: '{{ nosuchfunc . }}'\n",
			want:    []string{"7:12: title: bad template", `8:11: text: bad template: 1: function "nosuchfunc" not defined`},
		},
		{
			name:    "bad http_config",
			section: "  webhook_configs:\n  - url: 'https://hook.example/'\n    http_config: {bearer_token: a, bearer_token_file: b}\n",
			want:    []string{"7:18: "},
		},
		{
			name:    "unknown keys inside http_config and tls_config",
			section: "  webhook_configs:\n  - url: 'https://hook.example/'\n    http_config: {proxy_url: 'http://proxy:3128', tls_config: {insecure: true}, bearer: x}\n  email_configs:\n  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example:587', tls_config: {ca_fil: x}}\n",
			want: []string{
				`7:64: unknown key "insecure" in http_config.tls_config; valid keys: ca, ca_file`,
				`7:81: unknown key "bearer" in http_config; valid keys:`,
				`9:90: unknown key "ca_fil" in tls_config`,
			},
		},
		{
			name: "slack attachment fields, buttons and mrkdwn_in",
			section: "  slack_configs:\n  - api_url: 'https://hooks.example/x'\n    fields: [{title: t}]\n    actions:\n    - {type: select, text: pick, name: p}\n" +
				"    - {type: button, text: open}\n    - {type: button, text: ok, url: 'https://x.example/', confirm: {title: sure}}\n    mrkdwn_in: [text, title]\n",
			want: []string{
				"7:14: a slack field needs a title and a value",
				`9:14: slack action type must be button, not "select"`,
				"10:7: a slack action needs a url or a name",
				"11:68: a slack action's confirm needs a text",
				`12:23: mrkdwn_in takes fallback, pretext, text, fields, not "title"`,
			},
		},
		{
			name: "pagerduty: service_key with routing_key and Events API v2 fields; images and links",
			section: "  pagerduty_configs:\n  - service_key: s3rv1c3\n    routing_key: r\n    severity: critical\n    links: [{href: 'https://x.example/'}]\n" +
				"  - routing_key: r\n    images: [{src: 'http://insecure.example/a.png'}, {alt: no src}]\n    links: [{text: no href}]\n",
			want: []string{
				"7:18: set either routing_key (Events API v2) or service_key (Events API v1), not both",
				"8:15: severity is a field of PagerDuty's Events API v2, which service_key (Events API v1) cannot send",
				"9:12: links is a field of PagerDuty's Events API v2",
				`11:20: a pagerduty image's src must be an https URL, which PagerDuty requires, not "http://insecure.example/a.png"`,
				"11:54: a pagerduty image needs a src",
				"12:13: a pagerduty link needs an href",
			},
			secret: "s3rv1c3",
		},
		{
			name:    "unknown key names the valid ones",
			section: "  pagerduty_configs:\n  - routing_key: k\n    servce_key: old\n",
			want:    []string{`7:5: unknown key "servce_key" in pager duty; valid keys: class, client`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { requireIntegrationErrors(t, tc.section, tc.want, tc.secret) })
	}
}

// requireIntegrationErrors loads a receiver's integration section and
// expects exactly the errors want ("line:col: message fragment"), none
// of which may show secret.
func requireIntegrationErrors(t *testing.T, section string, want []string, secret string) {
	t.Helper()
	_, err := Load("tocsin.yml", []byte(integrationFile(section)))
	require.Error(t, err)
	errs := AsErrors("tocsin.yml", err)
	require.Len(t, errs, len(want), "errors: %v", err)
	for i, w := range want {
		require.Contains(t, errs[i].Error(), "tocsin.yml:"+w)
	}
	if secret != "" {
		require.NotContains(t, err.Error(), secret)
	}
}

func TestIntegrationDefaultsAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pd.key"), []byte("  R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook"), []byte("https://hooks.slack.com/services/T/B/X\n"), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	cfg, err := Load(file, []byte(integrationFile(`  pagerduty_configs: [{routing_key_file: pd.key}]
  slack_configs: [{api_url_file: hook}, {token: xoxb-1, channel: '#oncall'}]
  email_configs: [{to: 'a@example.com, b@example.com', from: t@example.com, smarthost: 'mail.example:587', require_tls: false}]
  webhook_configs: [{url: 'http://hook.example/', send_resolved: false, max_alerts: 5}]
`)))
	require.NoError(t, err)
	r := cfg.Receivers[0]
	pd := r.PagerDutyConfigs[0]
	require.Equal(t, "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32", string(pd.RoutingKey))
	require.Equal(t, DefaultPagerDutyURL, pd.URL)
	require.True(t, pd.SendsResolved())
	require.NotNil(t, pd.HTTPConfig)
	require.Equal(t, "https://hooks.slack.com/services/T/B/X", string(r.SlackConfigs[0].APIURL))
	require.False(t, r.SlackConfigs[0].SendsResolved())
	require.Equal(t, TLSOpportunistic, r.EmailConfigs[0].RequireTLS)
	require.False(t, r.EmailConfigs[0].SendsResolved())
	require.False(t, r.WebhookConfigs[0].SendsResolved())
	require.Equal(t, []int{0, 1, 2, 3, 4}, []int{pd.Order, r.SlackConfigs[0].Order, r.SlackConfigs[1].Order, r.EmailConfigs[0].Order, r.WebhookConfigs[0].Order})
	require.False(t, strings.Contains(cfg.String(), "R0UT1NGKEY"), "secrets are redacted when the config is shown")
}

// TestTeamsConnectorURLs: the URL forms of Office 365 connectors get a
// MessageCard under msteams_configs; Workflows URLs, and every URL under
// msteamsv2_configs, an Adaptive Card.
func TestTeamsConnectorURLs(t *testing.T) {
	for u, connector := range map[string]bool{
		"https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d/V2e":                                      true,
		"https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d":                                                    true,
		"https://outlook.office365.com/webhook/a@b/IncomingWebhook/c/d":                                                 true,
		"https://CONTOSO.Webhook.Office.com/webhookb2/x":                                                                true,
		"http://127.0.0.1:8080/webhookb2/a@b/IncomingWebhook/c/d":                                                       true,
		"https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s": false,
		"https://default1.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/x":  false,
		"https://relay.example/teams":                                                                                   false,
		"https://relay.example/hooks/webhookb2":                                                                         false,
		"::not a url":                                                                                                   false,
	} {
		require.Equal(t, connector, IsTeamsConnectorURL(u), u)
		require.Equal(t, connector, (&MSTeamsConfig{}).SendsMessageCard(u), u)
		require.False(t, (&MSTeamsConfig{V2: true}).SendsMessageCard(u), u)
	}
}
