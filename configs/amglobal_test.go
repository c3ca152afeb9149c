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
