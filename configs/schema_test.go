package configs

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite "+SchemaFile+" from the Config type")

// TestSchemaIsUpToDate keeps the checked-in schema equal to the one the
// Config type gives; `go generate ./configs` rewrites it.
func TestSchemaIsUpToDate(t *testing.T) {
	got, err := Schema()
	require.NoError(t, err)
	if *updateSchema {
		require.NoError(t, os.WriteFile(SchemaFile, got, 0o644))
	}
	want, err := os.ReadFile(SchemaFile)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "%s is out of date: run go generate ./configs", SchemaFile)
}

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(mustRead(t, SchemaFile)))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(SchemaFile, doc))
	s, err := c.Compile(SchemaFile)
	require.NoError(t, err)
	return s
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return string(b)
}

// asJSON decodes YAML into the values a JSON document holds.
func asJSON(t *testing.T, data string) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(data), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	require.NoError(t, err)
	return doc
}

// everyKindOfConfig uses every section of the config: each probe kind and
// transport, each integration with http_config, TLS and secrets.
const everyKindOfConfig = `
global:
  replica: eu-1
  external_labels: {team: iot}
  scrape_defaults: {interval: 10s, timeout: 5s}
storage: {path: data/, retention: 24h}
rule_files: [rules/*.yml]
evaluation_interval: 5s
probes:
- name: roundtrip
  interval: 2s
  timeout: 1500ms
  labels: {service: device-broker}
  roundtrip:
    send: {mqtt: {url: 'tcp://broker:1883', topic: canary/ping, qos: 1, username: canary, password: x}}
    expect: {mqtt: {url: 'tcp://broker:1883', topic: canary/ping}}
- name: hook
  roundtrip:
    send: {http: {url: 'https://cloud.example/publish', bearer_token: t}}
    expect: {webhook: {secret: s}}
- name: api
  http: {url: 'https://api.example.com/healthz', valid_status_codes: [200]}
- name: port
  tcp: {address: 'broker:8883', tls: true}
- name: watchdog
  heartbeat: {grace: 2m, token: t}
route:
  receiver: oncall
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
  routes:
  - matchers: ['severity="info"']
    receiver: chat
receivers:
- name: oncall
  strategy: all
  pagerduty_configs: [{routing_key: k, http_config: {proxy_url: 'http://proxy:3128', tls_config: {min_version: TLS12}}}]
  opsgenie_configs: [{api_key: k, region: eu}]
  webhook_configs: [{url: 'https://hooks.example/x', http_config: {basic_auth: {username: u, password: p}, http_headers: {X-Token: {secrets: [s]}}}}]
  email_configs: [{to: a@example.com, from: b@example.com, smarthost: 'smtp:587', require_tls: true}]
  msteams_configs: [{webhook_url: 'https://teams.example/x'}]
  twilio_configs: [{account_sid: AC0123456789abcdef0123456789abcdef, auth_token: t, from: '+15550000000', to: '+15551234567'}]
- name: chat
  slack_configs: [{api_url: 'https://hooks.slack.com/services/x', send_resolved: true}]
`

func TestShippedConfigsMatchTheSchema(t *testing.T) {
	s := compiledSchema(t)
	for name, data := range map[string]string{
		"configs/tocsin.yml":   mustRead(t, "tocsin.yml"),
		"every kind of config": everyKindOfConfig,
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, s.Validate(asJSON(t, data)))
			_, err := Load("tocsin.yml", []byte(data))
			require.NoError(t, err, "the schema and Load agree")
		})
	}
}

func TestSchemaRefusesWhatLoadRefuses(t *testing.T) {
	s := compiledSchema(t)
	for name, data := range map[string]string{
		"unknown top-level key": "global: {replica: a}\nbogus: 1\n",
		"unknown probe key":     "probes:\n- name: p\n  tcp: {address: 'a:1'}\n  intervall: 2s\n",
		"bad duration":          "evaluation_interval: 5 seconds\n",
		"list for a mapping":    "global: [a]\n",
		"bad require_tls":       "receivers:\n- name: r\n  email_configs: [{require_tls: sometimes}]\n",
		"unknown http_config":   "receivers:\n- name: r\n  webhook_configs: [{http_config: {bogus: 1}}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, s.Validate(asJSON(t, data)))
		})
	}
}
