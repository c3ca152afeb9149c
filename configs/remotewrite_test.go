package configs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// prometheusBlock is a remote_write section as prometheus.yml has it, with
// the keys people set for Mimir, Thanos and Grafana Cloud.
const prometheusBlock = `remote_write:
- url: https://mimir.example.com/api/v1/push
  name: mimir
  remote_timeout: 10s
  headers: {X-Scope-OrgID: iot}
  basic_auth: {username: tocsin, password_file: rw-password}
  tls_config: {ca_file: ca.pem}
  write_relabel_configs:
  - source_labels: [__name__]
    regex: probe_.*|ALERTS|ALERTS_FOR_STATE
    action: keep
  queue_config: {max_shards: 4, min_backoff: 100ms, max_backoff: 10s}
  metadata_config: {send: false}
  send_exemplars: false
- url: http://thanos-receive:19291/api/v1/receive
  authorization: {credentials: s3cr3t-t0ken}
`

func TestRemoteWriteTakesAPrometheusBlock(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rw-password", "pa55word\n")
	writeFile(t, dir, "ca.pem", "")
	file := writeFile(t, dir, "tocsin.yml", "global: {replica: r1}\n"+prometheusBlock)
	cfg, err := LoadFile(file)
	require.NoError(t, err)
	require.Len(t, cfg.RemoteWrite, 2)

	mimir := cfg.RemoteWrite[0]
	require.Equal(t, "mimir", mimir.Name)
	require.Equal(t, model.Duration(10*time.Second), mimir.RemoteTimeout)
	require.Equal(t, "iot", mimir.Headers["X-Scope-OrgID"])
	require.Equal(t, filepath.Join(dir, "rw-password"), mimir.HTTPClientConfig.BasicAuth.PasswordFile, "paths are relative to the config file")
	require.Equal(t, filepath.Join(dir, "ca.pem"), mimir.HTTPClientConfig.TLSConfig.CAFile)
	require.Equal(t, 4, mimir.QueueConfig.MaxShards)
	require.Equal(t, 10000, mimir.QueueConfig.Capacity, "Prometheus' defaults fill what the block leaves out")
	require.False(t, mimir.MetadataConfig.Send)
	require.Len(t, mimir.WriteRelabelConfigs, 1)

	thanos := cfg.RemoteWrite[1]
	require.Equal(t, model.Duration(30*time.Second), thanos.RemoteTimeout, "Prometheus' default")
	require.True(t, thanos.MetadataConfig.Send)

	shown := cfg.String()
	require.NotContains(t, shown, "s3cr3t-t0ken", "credentials are redacted when the config is shown")
	require.Contains(t, shown, "https://mimir.example.com/api/v1/push")
}

func TestRemoteWriteErrorsHaveTheirPlace(t *testing.T) {
	const head = "global: {replica: r1}\nremote_write:\n"
	tests := []struct {
		name string
		yaml string
		want string // "line:col: message fragment"
	}{
		{"unknown key", "- url: http://r/\n  remote_timout: 5s\n", `4:3: unknown key "remote_timout" in remote_write; valid keys:`},
		{"unknown key in queue_config", "- url: http://r/\n  queue_config: {max_shard: 2}\n", `4:18: unknown key "max_shard" in remote_write.queue_config`},
		{"unknown key in a relabel rule", "- url: http://r/\n  write_relabel_configs:\n  - {source_label: [x]}\n", `5:6: unknown key "source_label" in remote_write.write_relabel_configs`},
		{"unknown key in basic_auth", "- url: http://r/\n  basic_auth: {user: a}\n", `4:16: unknown key "user" in remote_write.basic_auth`},
		{"no url", "- name: a\n", `3:3: url for remote_write is empty`},
		{"empty entry", "-\n", `3:2: remote_write: entry 1 needs a url`},
		{"not http", "- url: grpc://r:9/\n", `3:8: remote_write: url "grpc://r:9/" must be an http or https URL with a host`},
		{"password not shown", "- url: http://u:hunter2@/\n", `3:8: remote_write: url "http://u:xxxxx@/" must be an http or https URL with a host`},
		{"bad duration", "- url: http://r/\n  remote_timeout: soon\n", `3:3: not a valid duration string: "soon"`},
		{"reserved header", "- url: http://r/\n  headers: {User-Agent: x}\n", `3:3: User-Agent is a reserved header`},
		{"two kinds of auth", "- url: http://r/\n  basic_auth: {username: a, password: b}\n  authorization: {credentials: c}\n", `3:3: at most one of basic_auth, oauth2 & authorization must be configured`},
		{"bad relabel action", "- url: http://r/\n  write_relabel_configs: [{action: hashmod, source_labels: [a], target_label: b}]\n", `4:26: remote_write: relabel configuration for hashmod requires non-zero modulus`},
		{"repeated name", "- {url: http://a/, name: x}\n- {url: http://b/, name: x}\n", `4:26: remote_write name "x" is used more than once`},
		{"repeated entry", "- url: http://a/\n- url: http://a/\n", `4:3: remote_write: entry 2 repeats entry 1`},
		{"missing password file", "- url: http://a/\n  basic_auth: {username: a, password_file: nope}\n", `4:44: remote_write: basic_auth.password_file: cannot read nope: no such file or directory`},
		{"missing CA file", "- url: http://a/\n  tls_config:\n    ca_file: ca.pem\n", `5:14: remote_write: tls_config.ca_file: cannot read ca.pem: no such file or directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("tocsin.yml", []byte(head+tc.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), "tocsin.yml:"+tc.want)
			require.False(t, strings.Contains(err.Error(), "hunter2"), "a password in the URL is never shown")
		})
	}
}
