package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// amSections builds a tocsin config from an Alertmanager config: its
// notification sections as they are, and the global keys tocsin shares.
func amSections(t *testing.T, am []byte) []byte {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(am, &doc))
	root := doc.Content[0]
	out := &yaml.Node{Kind: yaml.MappingNode}
	global := &yaml.Node{Kind: yaml.MappingNode}
	global.Content = append(global.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "replica"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "eu-1"})
	out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "global"}, global)
	shared := map[string]bool{}
	for _, k := range []string{"resolve_timeout", "http_config", "slack_api_url", "slack_api_url_file", "pagerduty_url", "opsgenie_api_url", "opsgenie_api_key", "opsgenie_api_key_file",
		"smtp_from", "smtp_hello", "smtp_smarthost", "smtp_auth_username", "smtp_auth_password", "smtp_auth_password_file", "smtp_require_tls",
		"smtp_auth_identity", "smtp_auth_secret", "smtp_auth_secret_file", "smtp_force_implicit_tls", "smtp_tls_config", "slack_app_token", "slack_app_token_file", "slack_app_url"} {
		shared[k] = true
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals", "templates":
			out.Content = append(out.Content, k, v)
		case "global":
			for j := 0; j+1 < len(v.Content); j += 2 {
				if shared[v.Content[j].Value] {
					global.Content = append(global.Content, v.Content[j], v.Content[j+1])
				}
			}
		}
	}
	data, err := yaml.Marshal(out)
	require.NoError(t, err)
	return data
}

// lookup follows mapping keys down a YAML document.
func lookup(t *testing.T, data []byte, path ...string) []byte {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	for _, p := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "no mapping at %q", p)
		v = m[p]
	}
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	out, err := yaml.Marshal(v)
	require.NoError(t, err)
	return out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "alertmanager", name))
	require.NoError(t, err)
	return data
}

func TestRealAlertmanagerConfigsLoad(t *testing.T) {
	govukVars := strings.NewReplacer(
		"${slack_api_url}", "https://hooks.slack.example/services/T000/B000/XXXX",
		"${routing_key}", "0123456789abcdef0123456789abcdef",
		"${alertmanager_host}", "alertmanager.example",
		"${environment}", "integration",
	)
	tests := []struct {
		name      string
		config    []byte
		receivers []string
		check     func(t *testing.T, cfg *configs.Config)
	}{
		{
			name:      "Alertmanager's example",
			config:    readTestdata(t, "alertmanager-ha.yml"),
			receivers: []string{"web.hook"},
			check: func(t *testing.T, cfg *configs.Config) {
				now := time.Now()
				ih := notifiers.NewInhibitor(cfg.InhibitRules)
				ih.Observe(&model.Alert{Labels: model.LabelSet{"alertname": "Disk", "severity": "critical", "instance": "a"}, StartsAt: now})
				got, _ := ih.Inhibits(model.LabelSet{"alertname": "Disk", "severity": "warning", "instance": "a"}, now)
				require.True(t, got)
				got, _ = ih.Inhibits(model.LabelSet{"alertname": "Disk", "severity": "warning", "instance": "b"}, now)
				require.False(t, got)
			},
		},
		{
			name:      "Alertmanager's simple example",
			config:    readTestdata(t, "alertmanager-simple.yml"),
			receivers: []string{"team-X-mails", "team-X-pager", "team-Y-mails", "team-Y-pager", "team-DB-pager"},
			check: func(t *testing.T, cfg *configs.Config) {
				pd := cfg.Receivers[1].PagerDutyConfigs[0]
				require.True(t, pd.EventsV1(), "service_key pages through the Events API v1")
				require.Equal(t, configs.DefaultPagerDutyV1URL, pd.URL)
				require.Equal(t, "localhost:25", cfg.Receivers[1].EmailConfigs[0].Smarthost, "global smtp_smarthost")
			},
		},
		{
			name:      "kube-prometheus",
			config:    lookup(t, readTestdata(t, "kube-prometheus-secret.yaml"), "stringData", "alertmanager.yaml"),
			receivers: []string{"null"},
			check: func(t *testing.T, cfg *configs.Config) {
				now := time.Now()
				ih := notifiers.NewInhibitor(cfg.InhibitRules)
				ih.Observe(&model.Alert{Labels: model.LabelSet{"alertname": "KubePodCrashLooping", "severity": "warning"}, StartsAt: now})
				got, _ := ih.Inhibits(model.LabelSet{"alertname": "KubePodCrashLooping", "severity": "info"}, now)
				require.True(t, got)
			},
		},
		{
			name:      "GOV.UK",
			config:    lookup(t, []byte(govukVars.Replace(string(readTestdata(t, "govuk-alertmanager-config.tpl")))), "alertmanager", "config"),
			receivers: []string{"null", "pagerduty", "slack-signon-token-expiry"},
			check: func(t *testing.T, cfg *configs.Config) {
				require.Equal(t, "https://hooks.slack.example/services/T000/B000/XXXX", string(cfg.Receivers[2].SlackConfigs[0].APIURL), "global slack_api_url")
				route, err := notifiers.NewRouteFromConfig(cfg)
				require.NoError(t, err)
				saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
				muted, _ := route.Routes[1].MutedAt(saturday)
				require.True(t, muted, "active_time_intervals: inhours")
				got := route.Match(model.LabelSet{"alertname": "Anything", "severity": "page"})
				require.Equal(t, "pagerduty", got[0].Receiver)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configs.Load("tocsin.yml", amSections(t, tt.config))
			require.NoError(t, err)
			var names []string
			for _, r := range cfg.Receivers {
				names = append(names, r.Name)
			}
			require.Equal(t, tt.receivers, names)
			require.Empty(t, notifiers.CheckTemplates(cfg), "every template renders")
			_, err = notifiers.NewRouteFromConfig(cfg)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}
