package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// runCLI runs tocsin's root command in-process and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	code := 0
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		code = 1
		stderr.WriteString(err.Error())
	}
	return code, stdout.String(), stderr.String()
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(good, []byte(runConfig), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte(`global:
  replica: eu-1
  bogus: 1
probes:
- name: a
  interval: 2x
  tcp: {address: "x:1"}
- name: a
  tcp: {address: "x:1"}
`), 0o600))

	code, out, _ := runCLI(t, "check", "config", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, good+": OK")

	code, _, errOut := runCLI(t, "check", "config", good, bad)
	require.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Equal(t, []string{
		bad + `:3:3: unknown key "bogus" in global; valid keys: external_labels, http_config, opsgenie_api_key, opsgenie_api_key_file, opsgenie_api_url, pagerduty_url, replica, resolve_timeout, scrape_defaults, slack_api_url, slack_api_url_file, slack_app_token, slack_app_token_file, slack_app_url, smtp_auth_identity, smtp_auth_password, smtp_auth_password_file, smtp_auth_secret, smtp_auth_secret_file, smtp_auth_username, smtp_force_implicit_tls, smtp_from, smtp_hello, smtp_require_tls, smtp_smarthost, smtp_tls_config`,
		bad + `:6:13: unknown unit "x" in duration "2x"`,
		bad + `:8:9: probe name "a" is used more than once`,
	}, lines)

	code, _, errOut = runCLI(t, "check", "config", filepath.Join(dir, "missing.yml"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "missing.yml: read config:")
}

func TestHelpListsCommandsWithExamples(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	require.Equal(t, 0, code)
	for _, c := range []string{"run", "check", "version"} {
		require.Contains(t, out, "\n  "+c+" ")
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			require.NotEmpty(t, sub.Example, "command %q needs an example", sub.CommandPath())
			require.NotEmpty(t, sub.Short, "command %q needs a summary", sub.CommandPath())
			walk(sub)
		}
	}
	walk(newRootCmd())
}

func TestCheckConfigRendersTemplatesAndWarnsOfPagingTraps(t *testing.T) {
	dir := t.TempDir()
	cfg := `global: {replica: eu-1}
route:
  receiver: oncall
receivers:
- name: oncall
  pagerduty_configs:
  - routing_key: abc
    description: '{{ template "pagerduty.default.description" . }}'
`
	good := filepath.Join(dir, "good.yml")
	require.NoError(t, os.WriteFile(good, []byte(cfg), 0o600))
	code, out, errOut := runCLI(t, "check", "config", good)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, good+": OK")
	require.Equal(t, []string{
		good + `:3:3: warning: route to paging receiver "oncall" has no group_by: every alert joins one group, so a new alert waits up to group_interval (5m) behind an unrelated one and reuses its dedup key (one incident); group by alertname and the labels that tell incidents apart`,
		good + `:3:3: warning: group_interval 5m on a route to paging receiver "oncall": a new alert in a group that has already paged waits up to 5m; keep it at 1m or less`,
		good + `:5:9: warning: receiver "oncall" pages through a single integration (pagerduty) and has no failover: if that vendor fails, nobody is paged; add a second integration`,
	}, strings.Split(strings.TrimSpace(errOut), "\n"))

	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(cfg, "pagerduty.default.description", "pagerduty.default.summary", 1)), 0o600))
	code, out, errOut = runCLI(t, "check", "config", bad)
	require.Equal(t, 1, code)
	require.NotContains(t, out, "OK")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Equal(t, bad+`:8:31: description: template cannot render: line 1:12: <{{template "pagerduty.default.summary" .}}>: template "pagerduty.default.summary" not defined`, lines[0])
	require.Len(t, lines, 4, "the paging traps are printed too")
}

func TestCheckConfigChecksItsRuleFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	write("rules/good.yml", "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: probe_success == 0\n")
	write("broken/bad.yml", "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: probe_success ==\n")
	good := write("good.yml", runConfig+"rule_files: [rules/*.yml, missing/*.yml]\n")
	bad := write("bad.yml", runConfig+"rule_files: [rules/*.yml, broken/*.yml]\n")

	code, out, errOut := runCLI(t, "check", "config", good)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, good+": OK")
	require.Contains(t, errOut, good+`:6:27: warning: rule_files: "missing/*.yml" matches no file`)

	code, out, errOut = runCLI(t, "check", "config", bad)
	require.Equal(t, 1, code)
	require.NotContains(t, out, "OK")
	require.Contains(t, errOut, filepath.Join(dir, "broken/bad.yml")+":5:27: could not parse expression")
}

func TestCheckWebConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(good, []byte("basic_auth_users:\n  oncall: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("basic_auth_users:\n  oncall: plain-password\n"), 0o600))

	code, out, _ := runCLI(t, "check", "web-config", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, good+": OK")
	code, _, errOut := runCLI(t, "check", "web-config", good, bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, bad+": ")
}

// The shipped config passes tocsin's own check, as a user's first
// `tocsin check config configs/tocsin.yml` would. (The deployment examples
// read secret files from the host; examples/deploy_test.go checks them.)
func TestShippedConfigPassesCheck(t *testing.T) {
	const file = "../../configs/tocsin.yml"
	code, out, errOut := runCLI(t, "check", "config", file)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, file+": OK")
}
