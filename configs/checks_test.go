package configs

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/stretchr/testify/require"
)

func TestBadInputIsRefusedWithItsPlace(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty file", "", []string{"tocsin.yml:1:1: the file is empty"}},
		{"only comments", "# nothing yet\n\n", []string{"tocsin.yml:1:1: the file is empty"}},
		{"control character", "global:\n  replica: \"eu\x01\"\n", []string{`tocsin.yml:2:15: control characters are not allowed: U+0001 is not allowed in YAML`}},
		{"escape character in a key", "global:\n  repl\x1bica: eu\n", []string{`tocsin.yml:2:7: control characters are not allowed: U+001B`}},
		{"invalid UTF-8", "global:\n  replica: \xff\n", []string{`tocsin.yml:2:12: the file is not valid UTF-8 here`}},
		{"receivers without a route", "global: {replica: a}\nreceivers:\n- name: r\n", []string{"tocsin.yml:3:3: receivers are set but there is no route"}},
		{"zero evaluation interval", "global: {replica: a}\nevaluation_interval: 0s\n", []string{"tocsin.yml:2:22: evaluation_interval must be positive, not 0s; leave it out to take 5s"}},
		{"zero scrape defaults", "global: {replica: a, scrape_defaults: {interval: 0s, timeout: 0ms}}\n", []string{
			"tocsin.yml:1:50: scrape_defaults.interval must be positive, not 0s",
			"tocsin.yml:1:63: scrape_defaults.timeout must be positive, not 0ms"}},
		{"zero resolve timeout", "global: {replica: a, resolve_timeout: 0s}\n", []string{"tocsin.yml:1:39: resolve_timeout must be positive, not 0s; leave it out to take 5m"}},
		{"zero retention", "global: {replica: a}\nstorage: {retention: 0d}\n", []string{"tocsin.yml:2:22: storage.retention must be positive, not 0d"}},
		{"zero probe interval and timeout", "global: {replica: a}\nprobes:\n- name: p\n  interval: 0s\n  timeout: 0s\n  tcp: {address: 'a:1'}\n", []string{
			"tocsin.yml:4:13: interval must be positive, not 0s; leave it out to take global.scrape_defaults.interval",
			"tocsin.yml:5:12: timeout must be positive, not 0s"}},
		{"probe label names", "global: {replica: a}\nprobes:\n- name: p\n  labels: {9bad-name: x, ok_name: y, a.b: z}\n  tcp: {address: 'a:1'}\n", []string{
			`tocsin.yml:4:12: labels: "9bad-name" is not a valid label name: use letters, digits and underscores, not starting with a digit (such as "_9bad_name")`,
			`tocsin.yml:4:38: labels: "a.b" is not a valid label name`}},
		{"unknown key in an http header", "global: {replica: a}\nroute: {receiver: r}\nreceivers:\n- name: r\n  webhook_configs: [{url: 'https://x.example/', http_config: {http_headers: {X-A: {valuez: [a]}}}}]\n", []string{
			`tocsin.yml:5:84: unknown key "valuez" in http_config.http_headers.X-A; valid keys: files, secrets, values`}},
		{"external label names", "global: {replica: a, external_labels: {a-b: x}}\n", []string{`tocsin.yml:1:40: external_labels: "a-b" is not a valid label name`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("tocsin.yml", []byte(tc.yaml))
			require.Error(t, err)
			errs := AsErrors("tocsin.yml", err)
			require.Len(t, errs, len(tc.want), "%v", err)
			for i, w := range tc.want {
				require.Contains(t, errs[i].Error(), w)
			}
		})
	}
}

func TestValidNamesAndDurationsPass(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte("global: {replica: a, external_labels: {team: iot, _x9: y}}\nprobes:\n- name: p\n  labels: {service: broker}\n  tcp: {address: 'a:1'}\n"))
	require.NoError(t, err)
	require.Equal(t, DefaultEvaluationInterval, cfg.EvaluationInterval, "an absent key still takes its default")
	require.Equal(t, DefaultResolveTimeout, cfg.Global.ResolveTimeout, "Alertmanager's default")

	cfg, err = Load("tocsin.yml", []byte("global: {replica: a, resolve_timeout: 90s}\n"))
	require.NoError(t, err)
	require.Equal(t, model.Duration(90*time.Second), cfg.Global.ResolveTimeout)
}
