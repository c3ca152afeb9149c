package configs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAlertmanagerGlobalsFillIntegrationsThatSetNone(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "slack", "https://hooks.slack.example/global\n")
	file := writeFile(t, dir, "tocsin.yml", `global:
  replica: eu-1
  slack_api_url_file: slack
  pagerduty_url: https://pd.example/v2/enqueue
  opsgenie_api_key: og-global
  opsgenie_api_url: https://og.example/
  smtp_from: alerts@example.org
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: pw-global
  smtp_require_tls: false
  http_config:
    basic_auth: {username: u, password_file: slack}
    follow_redirects: false
route: {receiver: r}
receivers:
- name: r
  slack_configs: [{}, {api_url: 'https://hooks.slack.example/own'}]
  pagerduty_configs: [{routing_key: k}]
  opsgenie_configs: [{}, {api_key: own, region: eu}]
  email_configs: [{to: a@example.org}, {to: b@example.org, from: own@example.org}]
`)
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, file) // a relative directory shows a path resolved twice
	require.NoError(t, err)
	cfg, err := LoadFile(rel)
	require.NoError(t, err)
	r := cfg.Receivers[0]
	require.Equal(t, "https://hooks.slack.example/global", string(r.SlackConfigs[0].APIURL))
	require.Equal(t, "https://hooks.slack.example/own", string(r.SlackConfigs[1].APIURL))
	require.Equal(t, "https://pd.example/v2/enqueue", r.PagerDutyConfigs[0].URL)
	hc := r.PagerDutyConfigs[0].HTTPConfig
	require.Same(t, hc, r.SlackConfigs[1].HTTPConfig, "global http_config")
	require.False(t, hc.FollowRedirects)
	require.Equal(t, filepath.Join(filepath.Dir(rel), "slack"), hc.BasicAuth.PasswordFile, "resolved against the config's directory once")
	require.Equal(t, "og-global", string(r.OpsgenieConfigs[0].APIKey))
	require.Equal(t, "https://og.example/", r.OpsgenieConfigs[0].OpsgenieBaseURL())
	require.Equal(t, "own", string(r.OpsgenieConfigs[1].APIKey))
	require.Equal(t, DefaultOpsgenieEUURL, r.OpsgenieConfigs[1].OpsgenieBaseURL())
	e := r.EmailConfigs[0]
	require.Equal(t, []string{"alerts@example.org", "mail.example.org:587", "alerts", "pw-global"}, []string{e.From, e.Smarthost, e.AuthUsername, string(e.AuthPassword)})
	require.Equal(t, TLSOpportunistic, e.RequireTLS)
	require.Equal(t, "own@example.org", r.EmailConfigs[1].From)
	require.NotContains(t, cfg.String(), "pw-global")
	require.Equal(t, rel, cfg.File)
}

func TestAlertmanagersSlackAppKeysAreABotToken(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`global:
  replica: eu-1
  slack_app_token: xoxb-global
  slack_app_url: https://slack.internal/api/chat.postMessage
route: {receiver: r}
receivers:
- name: r
  slack_configs:
  - {channel: '#a'}
  - {channel: '#b', app_token: xoxb-own, update_message: true}
  - {channel: '#c', token: xoxb-tocsin}
`))
	require.NoError(t, err)
	s := cfg.Receivers[0].SlackConfigs
	require.Equal(t, "xoxb-global", string(s[0].Token), "global slack_app_token")
	require.Equal(t, "https://slack.internal/api/", string(s[0].APIURL), "the Web API base of slack_app_url")
	require.False(t, *s[0].UpdateMessage, "Alertmanager's default")
	require.Equal(t, "xoxb-own", string(s[1].Token))
	require.Equal(t, "https://slack.internal/api/", string(s[1].APIURL))
	require.True(t, *s[1].UpdateMessage)
	require.Nil(t, s[2].UpdateMessage, "tocsin's token keeps editing the message on resolve")
}

func TestSlackAppKeyMistakes(t *testing.T) {
	for _, tc := range []struct{ name, section, want string }{
		{"app_token with token", "  slack_configs: [{channel: '#a', token: a, app_token: b}]\n", "5:56: set either app_token"},
		{"app_url not chat.postMessage", "  slack_configs: [{channel: '#a', app_token: b, app_url: 'https://slack.com/api/'}]\n", "5:58: app_url must be the URL of chat.postMessage"},
		{"update_message on a webhook", "  slack_configs: [{api_url: 'https://hooks.example/x', update_message: true}]\n", "5:72: update_message needs a bot token"},
	} {
		t.Run(tc.name, func(t *testing.T) { requireIntegrationErrors(t, tc.section, []string{tc.want}, "") })
	}
}

func TestAlertmanagersGlobalSMTPKeys(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`global:
  replica: eu-1
  smtp_smarthost: mail.example.org:587
  smtp_from: alerts@example.org
  smtp_auth_username: alerts
  smtp_auth_secret: cram-global
  smtp_auth_identity: team
  smtp_force_implicit_tls: true
  smtp_tls_config: {server_name: smtp.example.org}
route: {receiver: r}
receivers:
- name: r
  email_configs:
  - {to: a@example.org}
  - {to: b@example.org, auth_password: own, tls_config: {server_name: own.example.org}}
`))
	require.NoError(t, err)
	e := cfg.Receivers[0].EmailConfigs
	require.Equal(t, "cram-global", string(e[0].AuthSecret))
	require.Empty(t, e[0].AuthIdentity, "the identity is PLAIN's, not CRAM-MD5's")
	require.True(t, *e[0].ForceImplicitTLS)
	require.Equal(t, "smtp.example.org", e[0].TLSConfig.ServerName)
	require.Empty(t, e[1].AuthSecret, "an own password is not mixed with the global secret")
	require.Equal(t, "team", e[1].AuthIdentity)
	require.Equal(t, "own.example.org", e[1].TLSConfig.ServerName)
}
