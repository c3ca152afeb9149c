package amapi

import (
	"os"
	"path/filepath"
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TestStatusConfigIsTheWholeNotifyConfigWithSecretsMasked: every
// integration, with secrets inline and in files, is shown as Alertmanager
// would show it, and Alertmanager's loader reads the result.
func TestStatusConfigIsTheWholeNotifyConfigWithSecretsMasked(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "pd")
	require.NoError(t, os.WriteFile(secretFile, []byte("file-secret-pd\n"), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(`global:
  replica: eu-1
  resolve_timeout: 2m
  smtp_smarthost: mail.example.org:587
  smtp_from: alerts@example.org
  smtp_auth_username: alerts
  smtp_auth_password: inline-secret-smtp
route:
  receiver: oncall
  group_by: [alertname]
receivers:
- name: oncall
  strategy: failover
  failover_after: 20s
  pagerduty_configs: [{routing_key_file: pd, severity: critical}]
  opsgenie_configs: [{api_key: inline-secret-og, region: eu, priority: P1}]
  webhook_configs: [{url: 'https://hook.example/inline-secret-x', timeout: 15s}]
  slack_configs: [{api_url: 'https://hooks.slack.example/services/inline-secret-slack', channel: '#oncall', title: '{{ .CommonLabels.alertname }}'}]
  twilio_configs: [{account_sid: AC0123456789abcdef0123456789abcdef, auth_token: inline-secret-twilio, from: '+15550000000', to: '+15551111111'}]
- name: chat
  slack_configs:
  - {token: inline-secret-bot, channel: '#chat', api_url: 'http://slack.internal/api/'}
  - {app_token: inline-secret-app, channel: '#app', update_message: true, timeout: 5s, color: danger}
  msteams_configs:
  - {webhook_url: 'https://teams.example/workflows/inline-secret-teams', summary: shown nowhere}
  - {webhook_url: 'https://contoso.webhook.office.com/webhookb2/inline-secret-connector', summary: '{{ .Status }}'}
  webhook_configs:
  - url: 'https://hook.example/inline-secret-hook'
    max_alerts: 10
    http_config: {basic_auth: {username: u, password: inline-secret-basic}}
  email_configs:
  - {to: oncall@example.org, require_tls: none, timeout: 20s, threading: {enabled: true}}
  - {to: cram@example.org, auth_password: '', auth_secret: inline-secret-cram, force_implicit_tls: true, smarthost: 'smtps.example.org:2465'}
- name: deadman
  deadman_configs: [{ping: {url: 'https://hc-ping.example/inline-secret-ping'}}]
`), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	text, err := alertmanagerConfig(cfg)
	require.NoError(t, err)
	for _, secret := range []string{"file-secret-pd", "inline-secret"} {
		require.NotContains(t, text, secret)
	}
	for _, want := range []string{
		"resolve_timeout: 2m",
		"routing_key_file: " + secretFile,
		"api_key: <secret>",
		"api_url: https://api.eu.opsgenie.com/ # tocsin's region: eu",
		"# tocsin only, which Alertmanager does not have:\n    # strategy: failover\n    # failover_after: 20s\n    # twilio_configs:",
		"auth_token: <secret>",
		"app_token: <secret>",
		"app_url: http://slack.internal/api/chat.postMessage",
		"app_url: https://slack.com/api/chat.postMessage",
		"# tocsin only: update_message: true",
		"color: danger",
		"msteamsv2_configs: # tocsin's msteams_configs",
		"# tocsin only: summary: shown nowhere",
		"summary: '{{ .Status }}'",
		"max_alerts: 10",
		"timeout: 15s",
		"password: <secret>",
		"# tocsin only: timeout: 20s\n        # tocsin only: require_tls: none",
		"# deadman_configs:",
		"auth_secret: <secret>",
		"force_implicit_tls: true",
	} {
		require.Contains(t, text, want)
	}
	am, err := amconfig.Load(text)
	require.NoError(t, err, "Alertmanager's own loader reads it:\n%s", text)
	require.Len(t, am.Receivers, 3)
	require.Len(t, am.Receivers[0].PagerdutyConfigs, 1)
	require.Equal(t, "critical", am.Receivers[0].PagerdutyConfigs[0].Severity)
	require.Equal(t, "https://api.eu.opsgenie.com/", am.Receivers[0].OpsGenieConfigs[0].APIURL.String())
	require.Len(t, am.Receivers[1].MSTeamsV2Configs, 1)
	require.Len(t, am.Receivers[1].MSTeamsConfigs, 1)
	require.Equal(t, "{{ .Status }}", am.Receivers[1].MSTeamsConfigs[0].Summary)
	require.Equal(t, "danger", am.Receivers[1].SlackConfigs[1].Color)
	require.Equal(t, uint64(10), am.Receivers[1].WebhookConfigs[0].MaxAlerts)
}
