package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// writeFile writes content into dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadReportsEveryErrorWithItsPosition(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "line:col: message fragment"
	}{
		{
			name: "unknown key, bad duration and duplicate probe in one pass",
			yaml: `global:
  replica: eu-1
  bogus: 1
probes:
- name: a
  interval: 2x
  tcp: {address: "x:1"}
- name: a
  tcp: {address: "x:1"}
`,
			want: []string{`3:3: unknown key "bogus" in global`, `6:13: unknown unit "x" in duration "2x"`, `8:9: probe name "a" is used more than once`},
		},
		{
			name: "wrong type for a list",
			yaml: "rule_files: rules/*.yml\n",
			want: []string{`1:13: expected a list, got "rules/*.yml"`},
		},
		{
			name: "wrong scalar type",
			yaml: "probes:\n- name: a\n  tcp: {address: x:1, tls: maybe}\n",
			want: []string{"3:28: cannot unmarshal !!str `maybe` into bool"},
		},
		{
			name: "bad duration at top level",
			yaml: "evaluation_interval: soon\n",
			want: []string{`1:22: not a valid duration string: "soon"`},
		},
		{
			name: "repeated key",
			yaml: "storage: {path: a}\nstorage: {path: b}\n",
			want: []string{`2:1: key "storage" is repeated`},
		},
		{
			name: "bad external label name",
			yaml: "global:\n  external_labels: {\"\": x}\n",
			want: []string{`2:21: "" is not a valid label name`},
		},
		{
			name: "timeout not shorter than interval",
			yaml: "probes:\n- name: a\n  interval: 1s\n  timeout: 2s\n  tcp: {address: x:1}\n",
			want: []string{`4:12: timeout 2s must be shorter than interval 1s`},
		},
		{
			name: "probe without a kind",
			yaml: "probes:\n- name: a\n",
			want: []string{`2:3: probe "a" needs one of: heartbeat, http, roundtrip, tcp`},
		},
		{
			name: "probe with two kinds",
			yaml: "probes:\n- name: a\n  tcp: {address: x}\n  http: {url: 'http://x'}\n",
			want: []string{`2:3: probe "a" takes only one of heartbeat, http, roundtrip, tcp; found http and tcp`},
		},
		{
			name: "bad URL scheme",
			yaml: "probes:\n- name: a\n  http: {url: 'ftp://x/'}\n",
			want: []string{`3:15: url: URL "ftp://x/" must use http or https`},
		},
		{
			name: "secret inline and from file",
			yaml: "probes:\n- name: hb\n  heartbeat: {grace: 1m, token: abc, token_file: /nonexistent}\n",
			want: []string{`3:50: set either token or token_file, not both`},
		},
		{
			name: "missing secret file",
			yaml: "probes:\n- name: hb\n  heartbeat: {grace: 1m, token_file: /nonexistent/hb}\n",
			want: []string{`3:38: token_file: cannot read secret: no such file or directory`},
		},
		{
			name: "route to an unknown receiver",
			yaml: "route: {receiver: nobody}\nreceivers:\n- name: team\n  webhook_configs: [{url: 'http://x/'}]\n",
			want: []string{`1:19: route uses receiver "nobody", which is not defined in receivers`},
		},
		{
			name: "duplicate receiver",
			yaml: "route: {receiver: a}\nreceivers:\n- name: a\n- name: a\n",
			want: []string{`4:9: receiver name "a" is used more than once`},
		},
		{
			name: "negative probe replication",
			yaml: "cluster:\n  probe_replication: -1\n",
			want: []string{`2:22: cluster.probe_replication must be 0 (every replica runs every probe) or the number of replicas`},
		},
		{
			name: "probe replication not a number",
			yaml: "cluster: {probe_replication: two}\n",
			want: []string{"1:30: cannot unmarshal !!str `two` into int"},
		},
		{
			name: "unknown key in cluster",
			yaml: "cluster: {replication: 2}\n",
			want: []string{`1:11: unknown key "replication" in cluster`},
		},
		{
			name: "not YAML",
			yaml: "probes: [\n",
			want: []string{`did not find expected node content`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("tocsin.yml", []byte(tc.yaml))
			require.Error(t, err)
			errs := AsErrors("tocsin.yml", err)
			require.Len(t, errs, len(tc.want), "errors: %v", err)
			for i, want := range tc.want {
				require.Contains(t, errs[i].Error(), want)
				require.True(t, strings.HasPrefix(errs[i].Error(), "tocsin.yml:"), errs[i].Error())
			}
		})
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`
global:
  replica: eu-1
  scrape_defaults: {interval: 4s}
probes:
- name: a
  tcp: {address: "x:1"}
- name: b
  interval: 1s
  tcp: {address: "x:1"}
route: {receiver: r}
receivers: [{name: r, webhook_configs: [{url: 'http://x/'}]}]
`))
	require.NoError(t, err)
	require.Equal(t, DefaultEvaluationInterval, cfg.EvaluationInterval)
	require.Equal(t, DefaultStoragePath, cfg.Storage.Path)
	require.Equal(t, DefaultRetention, cfg.Storage.Retention)
	require.Equal(t, model.Duration(4*time.Second), cfg.Probes[0].Interval)
	require.Equal(t, model.Duration(3*time.Second), cfg.Probes[0].Timeout)
	// A default timeout that does not fit the interval is shortened to fit.
	require.Equal(t, model.Duration(750*time.Millisecond), cfg.Probes[1].Timeout)
	require.Equal(t, DefaultGroupWait, *cfg.Route.GroupWait)
	require.Equal(t, StrategyAll, cfg.Receivers[0].Strategy)
}

func TestSecretsAreReadFromFilesAndNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "hb-token", "s3cr3t-token\n")
	path := writeFile(t, dir, "tocsin.yml", `
global: {replica: r1}
probes:
- name: watchdog
  heartbeat: {grace: 1m, token_file: hb-token}
- name: other
  heartbeat: {grace: 1m, token: inline-s3cr3t}
`)
	cfg, err := LoadFile(path)
	require.NoError(t, err)
	// The file is resolved relative to the config and its content trimmed.
	require.Equal(t, "s3cr3t-token", string(cfg.Probes[0].Heartbeat.Token))

	out := cfg.String()
	require.NotContains(t, out, "s3cr3t")
	require.Contains(t, out, "<secret>")
}

func TestEmptySecretFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty", "  \n")
	path := writeFile(t, dir, "tocsin.yml", "probes:\n- name: hb\n  heartbeat: {grace: 1m, token_file: empty}\n")
	_, err := LoadFile(path)
	require.ErrorContains(t, err, "3:38: token_file: empty is empty")
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	_, err := Load("tocsin.yml", []byte(`
probes:
- name: a
  roundtrip:
    send: {mqtt: {url: 'tcp://user:hunter2@broker:1883', topic: t, password: hunter2, password_file: /x}}
    expect: {mqtt: {url: 'ftp://user:hunter2@broker', topic: t}}
`))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestShippedDefaultConfigIsValid(t *testing.T) {
	_, err := LoadFile("tocsin.yml")
	require.NoError(t, err)
}

func TestRuleFilePathsAreRelativeToTheConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "rules"), 0o755))
	writeFile(t, dir, "rules/a.yml", "groups: []\n")
	path := writeFile(t, dir, "tocsin.yml", "rule_files: [rules/*.yml]\n")
	cfg, err := LoadFile(path)
	require.NoError(t, err)
	paths, err := cfg.RuleFilePaths()
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "rules/a.yml")}, paths)
}
