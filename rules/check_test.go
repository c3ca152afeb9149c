package rules

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckBrokenFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		want    []string // "LINE:COL: substring"
		lint    bool     // only lint findings expected
		wantNum int
	}{
		{
			name: "valid",
			file: `groups:
- name: g
  rules:
  - alert: Up
    expr: up == 0
    for: 1m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} down ({{ $value | humanize }})"}
  - record: job:up:sum
    expr: sum by (job) (up)
`,
			wantNum: 2,
		},
		{
			name: "bad promql on one line",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: sum(up{job="x"} by (job)
`,
			want: []string{"5:27: could not parse expression"},
		},
		{
			name: "bad promql in literal block",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: |
      up == 0
        and on() vector(1) +
`,
			want: []string{"7:29: could not parse expression: unexpected end of input"},
		},
		{
			name: "bad template",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up == 0
    annotations:
      summary: "{{ $labels.instance "
`,
			want: []string{`7:16: template of annotation "summary": template: __alert_A:1: unclosed action`},
		},
		{
			name: "unknown template function",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up == 0
    labels:
      team: '{{ nosuchfunc }}'
`,
			want: []string{`7:13: template of label "team": template: __alert_A:1: function "nosuchfunc" not defined`},
		},
		{
			name: "unknown key in rule",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up == 0
    severity: page
`,
			want: []string{`6:5: unknown key "severity" in rule`},
		},
		{
			name: "unknown key in group",
			file: `groups:
- name: g
  evaluation_interval: 1m
  rules: []
`,
			want: []string{`3:3: unknown key "evaluation_interval" in rule group`},
		},
		{
			name: "bad duration",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up == 0
    for: 5 minutes
`,
			want: []string{`6:10: for: "5 minutes" is not a valid duration`},
		},
		{
			name: "bad group interval",
			file: `groups:
- name: g
  interval: 10x
  rules: []
`,
			want: []string{`3:13: interval: "10x" is not a valid duration`},
		},
		{
			name: "duplicate rule is lint",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up == 0
  - alert: A
    expr: up == 1
`,
			want: []string{`6:12: lint: duplicate rule "A"`},
			lint: true,
		},
		{
			name: "duplicate group",
			file: `groups:
- name: g
  rules: []
- name: g
  rules: []
`,
			want: []string{`4:9: group name "g" is already used at line 2`},
		},
		{
			name: "record and alert",
			file: `groups:
- name: g
  rules:
  - record: a
    alert: b
    expr: up
`,
			want: []string{`4:13: a rule sets both 'record' and 'alert'`},
		},
		{
			name: "missing expr",
			file: `groups:
- name: g
  rules:
  - alert: A
`,
			want: []string{`4:5: field 'expr' must be set`},
		},
		{
			name: "recording rule with for and braces",
			file: `groups:
- name: g
  rules:
  - record: 'up{job="x"}'
    expr: up
    for: 1m
`,
			want: []string{`4:13: invalid field 'for'`, `4:13: braces present`},
		},
		{
			name: "yaml syntax",
			file: "groups:\n- name: g\n  rules: [\n",
			want: []string{`3:1: did not find expected node content`},
		},
		{
			name: "invalid label name",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up
    labels: {__name__: x}
`,
			want: []string{`6:14: invalid label name: __name__`},
		},
		{
			name: "repeated key",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up
    expr: down
`,
			want: []string{`6:5: key "expr" is already set at line 5`},
		},
		{
			name: "every problem at once",
			file: `groups:
- name: g
  rules:
  - alert: A
    expr: up
    severity: page
    annotations: {summary: '{{ humanise $value }}'}
`,
			want: []string{`6:5: unknown key "severity"`, `7:28: template of annotation "summary": template: __alert_A:1: function "humanise" not defined`},
		},
		{
			name: "anchors and merge keys",
			file: `groups:
- name: g
  rules:
  - &base
    alert: A
    expr: up == 0
    labels: {severity: page}
  - <<: *base
    alert: B
`,
			wantNum: 2,
		},
		{
			name:    "empty file",
			file:    "",
			wantNum: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := Check("r.yml", []byte(tc.file), CheckOptions{LintDuplicates: true})
			var got []string
			for _, d := range res.Diagnostics {
				got = append(got, d.String())
			}
			require.Len(t, res.Diagnostics, len(tc.want), "got %q", got)
			for i, w := range tc.want {
				require.True(t, strings.HasPrefix(got[i], "r.yml:"+w), "diagnostic %d: got %q, want prefix %q", i, got[i], "r.yml:"+w)
			}
			require.Equal(t, len(tc.want) > 0 && !tc.lint, res.Diagnostics.HasErrors())
			if len(tc.want) == 0 {
				require.Equal(t, tc.wantNum, res.Rules)
			}
		})
	}
}

func TestWriteDiagnosticsFormats(t *testing.T) {
	t.Parallel()
	ds := Diagnostics{
		{File: "a.yml", Line: 3, Column: 5, Severity: SeverityError, Message: "bad, very\nbad"},
		{File: "a.yml", Line: 9, Column: 1, Severity: SeverityLint, Message: "dup"},
	}
	var b bytes.Buffer
	require.NoError(t, WriteDiagnostics(&b, FormatGitHub, ds, false))
	require.Equal(t, "::error file=a.yml,line=3,col=5::bad, very%0Abad\n::warning file=a.yml,line=9,col=1::lint: dup\n", b.String())

	b.Reset()
	require.NoError(t, WriteDiagnostics(&b, FormatGitHub, ds[1:], true))
	require.Equal(t, "::error file=a.yml,line=9,col=1::lint: dup\n", b.String())

	b.Reset()
	require.NoError(t, WriteDiagnostics(&b, FormatJSON, ds, false))
	var back Diagnostics
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Equal(t, ds, back)

	b.Reset()
	require.NoError(t, WriteDiagnostics(&b, FormatText, ds, false))
	require.Equal(t, "a.yml:3:5: bad, very\nbad\na.yml:9:1: lint: dup\n", b.String())
	require.Error(t, WriteDiagnostics(&b, "xml", ds, false))
}
