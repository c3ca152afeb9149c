package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDeadmanErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		section string
		want    []string // "line:col: message fragment"
		secret  string   // must not appear in any message
	}{
		{
			name:    "mixed with a paging integration",
			section: "  webhook_configs: [{url: 'https://hook.example/'}]\n  deadman_configs:\n  - ping: {url: 'https://hc-ping.com/T0K3N'}\n",
			want:    []string{`7:3: receiver "r" mixes deadman_configs with integrations that page people`},
			secret:  "T0K3N",
		},
		{
			name:    "no kind",
			section: "  deadman_configs:\n  - http_config: {}\n",
			want:    []string{"6:5: a deadman integration needs one of: http, opsgenie, ping"},
		},
		{
			name:    "two kinds",
			section: "  deadman_configs:\n  - ping: {url: 'https://hc-ping.com/T0K3N'}\n    http: {url: 'https://hc-ping.com/T0K3N'}\n",
			want:    []string{"6:5: a deadman integration takes only one of http, opsgenie, ping; found http and ping"},
			secret:  "T0K3N",
		},
		{
			name:    "send_resolved would ping for a stopped pipeline",
			section: "  deadman_configs:\n  - send_resolved: true\n    ping: {url: 'https://hc-ping.com/T0K3N'}\n",
			want:    []string{"6:20: a deadman integration pings only while alerts fire; send_resolved cannot be true"},
			secret:  "T0K3N",
		},
		{
			name:    "opsgenie without a key, then without a name, bad region",
			section: "  deadman_configs:\n  - opsgenie: {region: asia}\n  - opsgenie: {api_key: k}\n",
			want:    []string{"6:15: api_key or api_key_file is required", `6:24: region must be us or eu, not "asia"`, "7:15: name is required"},
		},
		{
			name:    "ping URL without a scheme and a bad method: the URL is not shown",
			section: "  deadman_configs:\n  - ping: {url: 'hc-ping.com/T0K3N', method: PUT}\n",
			want:    []string{"6:17: url: URL must use http or https (URL not shown", `6:46: method must be GET, HEAD or POST, not "PUT"`},
			secret:  "T0K3N",
		},
		{
			name:    "http with a bad method and header name",
			section: "  deadman_configs:\n  - http: {url: 'https://beat.example/T0K3N', method: 'GO T', headers: {'X Token': s3cret}}\n",
			want:    []string{`6:55: method "GO T" is not an HTTP method`, `6:72: headers: "X Token" is not a valid header name`},
			secret:  "s3cret",
		},
	} {
		t.Run(tc.name, func(t *testing.T) { requireIntegrationErrors(t, tc.section, tc.want, tc.secret) })
	}
}

func TestDeadmanDefaultsAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "og"), []byte("og-key\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hc"), []byte("https://hc-ping.com/T0K3N\n"), 0o600))
	cfg, err := Load(filepath.Join(dir, "tocsin.yml"), []byte(integrationFile(`  deadman_configs:
  - opsgenie: {name: tocsin, api_key_file: og, region: eu}
  - ping: {url_file: hc, method: post}
  - http: {url: 'https://beat.example/', headers: {X-Token: s3cret}}
`)))
	require.NoError(t, err)
	d := cfg.Receivers[0].DeadmanConfigs
	require.Equal(t, []string{DeadmanKindOpsgenie, DeadmanKindPing, DeadmanKindHTTP}, []string{d[0].Kind(), d[1].Kind(), d[2].Kind()})
	require.Equal(t, "og-key", string(d[0].Opsgenie.APIKey))
	require.Equal(t, DefaultOpsgenieEUURL, d[0].Opsgenie.BaseURL())
	require.Equal(t, "https://hc-ping.com/T0K3N", string(d[1].Ping.URL))
	require.Equal(t, "POST", d[1].Ping.Method)
	require.Equal(t, "GET", d[2].HTTP.Method)
	for _, c := range d {
		require.False(t, c.SendsResolved())
		require.NotNil(t, c.HTTPConfig)
	}
	require.Equal(t, []int{0, 1, 2}, []int{d[0].Order, d[1].Order, d[2].Order})
	shown := cfg.String()
	for _, secret := range []string{"og-key", "T0K3N", "s3cret"} {
		require.False(t, strings.Contains(shown, secret), "secret %q is redacted when the config is shown", secret)
	}
}
