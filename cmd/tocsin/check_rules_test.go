package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// runTocsin runs the CLI with args and returns stdout, stderr and the exit status.
func runTocsin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		var ee *exitError
		require.True(t, errors.As(err, &ee), "unexpected error: %v", err)
		code = ee.code
	}
	return out.String(), errOut.String(), code
}

func TestCheckRulesCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("good.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n")
	badPromQL := write("promql.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n")
	badTemplate := write("template.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations: {summary: '{{ .Foo'}\n")
	unknownKey := write("key.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    severity: page\n")
	badDuration := write("duration.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5mins\n")
	duplicate := write("dup.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n  - alert: A\n    expr: down\n")

	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string
		stdout   string
		noStderr bool
	}{
		{name: "good", args: []string{good}, code: 0, stdout: good + ": SUCCESS: 1 rules found\n", noStderr: true},
		{name: "bad promql", args: []string{badPromQL}, code: 1, stderr: badPromQL + ":5:16: could not parse expression: unexpected end of input\n"},
		{name: "bad template", args: []string{badTemplate}, code: 1, stderr: badTemplate + `:6:28: template of annotation "summary": `},
		{name: "unknown key", args: []string{unknownKey}, code: 1, stderr: unknownKey + `:6:5: unknown key "severity" in rule`},
		{name: "bad duration", args: []string{badDuration}, code: 1, stderr: badDuration + `:6:10: for: "5mins" is not a valid duration`},
		{name: "duplicate is lint", args: []string{duplicate}, code: 0, stderr: duplicate + `:6:12: lint: duplicate rule "A"`},
		{name: "duplicate with lint-fatal", args: []string{"--lint-fatal", duplicate}, code: 3, stderr: duplicate + `:6:12: lint: duplicate rule "A"`},
		{name: "duplicate without lint", args: []string{"--lint=none", "--lint-fatal", duplicate}, code: 0, noStderr: true},
		{name: "errors beat lint", args: []string{"--lint-fatal", duplicate, badPromQL}, code: 1},
		{name: "github", args: []string{"--format=github", "--lint-fatal", badDuration}, code: 1, stdout: "::error file=" + badDuration + ",line=6,col=10::for: \"5mins\" is not a valid duration"},
		{name: "github lint warning", args: []string{"--format=github", duplicate}, code: 0, stdout: "::warning file=" + duplicate + ",line=6,col=12::lint: duplicate rule"},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.yml")}, code: 1, stderr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runTocsin(t, append([]string{"check", "rules"}, tc.args...)...)
			require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, stderr, tc.stderr)
			require.Contains(t, stdout, tc.stdout)
			if tc.noStderr {
				require.Empty(t, stderr)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		stdout, _, code := runTocsin(t, "check", "rules", "--format=json", good, unknownKey, duplicate)
		require.Equal(t, 1, code)
		var got []map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		require.Len(t, got, 2)
		require.Equal(t, map[string]any{"file": unknownKey, "line": 6.0, "column": 5.0, "severity": "error",
			"message": `unknown key "severity" in rule (known keys: record, alert, expr, for, keep_firing_for, labels, annotations)`}, got[0])
		require.Equal(t, "lint", got[1]["severity"])
	})
}

func TestTestRulesCommand(t *testing.T) {
	t.Parallel()
	stdout, _, code := runTocsin(t, "test", "rules", "../../configs/rules/liveness_test.yml", "../../rules/testdata/probes_test.yml")
	require.Equal(t, 0, code, stdout)

	junit := filepath.Join(t.TempDir(), "junit.xml")
	stdout, _, code = runTocsin(t, "test", "rules", "--junit", junit, "../../rules/testdata/probes_wrong_test.yml")
	require.Equal(t, 1, code)
	require.Contains(t, stdout, "diff (- expected, + got)")
	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(b), "<failure>")

	_, _, code = runTocsin(t, "test", "rules", "--run", "^right", "../../rules/testdata/probes_wrong_test.yml")
	require.Equal(t, 0, code)
}
