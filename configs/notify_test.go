package configs

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestRouteAndReceiverErrorsPointAtTheValue(t *testing.T) {
	const receivers = `receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`
	tests := []struct {
		name string
		yaml string
		want []string // "file:line:col: message fragment", in order
	}{
		{
			name: "unknown receiver in a nested route",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - receiver: chat\n" + receivers,
			want: []string{`tocsin.yml:4:15: route uses receiver "chat", which is not defined in receivers`},
		},
		{
			name: "matcher without an operator, position inside the quoted string",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - matchers: ['severity \"info\"']\n" + receivers,
			want: []string{`tocsin.yml:4:26: bad matcher "severity \"info\"": unexpected "info": expected an operator`},
		},
		{
			name: "matcher with an unclosed brace, plain scalar",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - matchers:\n    - '{a=\"b\"'\n" + receivers,
			want: []string{`tocsin.yml:5:14: bad matcher "{a=\"b\"": end of input: expected close brace`},
		},
		{
			name: "bad regex in a matcher",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - matchers: ['a=~\"(\"']\n" + receivers,
			want: []string{`tocsin.yml:4:17: bad matcher "a=~\"(\"": failed to create matcher`},
		},
		{
			name: "empty matcher",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - matchers: ['']\n" + receivers,
			want: []string{`tocsin.yml:4:16: matcher is empty`},
		},
		{
			name: "top-level route with continue and matchers",
			yaml: "route:\n  receiver: oncall\n  continue: true\n  matchers: ['a=b']\n" + receivers,
			want: []string{`tocsin.yml:3:13: the top-level route cannot have continue`, `tocsin.yml:4:13: the top-level route matches every alert`},
		},
		{
			name: "top-level route without receiver",
			yaml: "route:\n  group_by: [alertname]\n" + receivers,
			want: []string{`tocsin.yml:2:3: the top-level route needs a receiver`},
		},
		{
			name: "group_by combines ... with names, repeats a name, has a bad name",
			yaml: "route:\n  receiver: oncall\n  group_by: [a, a, \"\"]\n  routes:\n  - group_by: [..., b]\n" + receivers,
			want: []string{
				`tocsin.yml:3:17: group_by: label "a" is listed more than once`,
				`tocsin.yml:3:20: "" is not a valid label name`,
				`tocsin.yml:5:16: group_by "..." groups by every label`,
			},
		},
		{
			name: "bad timers",
			yaml: "route:\n  receiver: oncall\n  group_interval: 0s\n  routes:\n  - repeat_interval: 0s\n    group_wait: 1x\n" + receivers,
			want: []string{
				`tocsin.yml:3:19: group_interval must be positive`,
				`tocsin.yml:5:22: repeat_interval must be positive`,
				`tocsin.yml:6:17: unknown unit "x" in duration "1x"`,
			},
		},
		{
			name: "bad strategy and failover_after",
			yaml: "route: {receiver: oncall}\nreceivers:\n- name: oncall\n  strategy: random\n  failover_after: -1s\n",
			want: []string{`tocsin.yml:4:13: strategy must be "all" or "failover", not "random"`, `tocsin.yml:5:19: not a valid duration string`},
		},
		{
			name: "duplicate receiver and receivers without a route",
			yaml: "receivers:\n- name: a\n- name: a\n",
			want: []string{`tocsin.yml:2:3: receivers are set but there is no route`, `tocsin.yml:3:9: receiver name "a" is used more than once`},
		},
		{
			name: "unknown key in a route",
			yaml: "route:\n  receiver: oncall\n  label: {a: b}\n" + receivers,
			want: []string{`tocsin.yml:3:3: unknown key "label" in route; valid keys: active_time_intervals, continue, group_by, group_interval, group_wait, labels, match, match_re, matchers, mute_time_intervals, receiver, repeat_interval, routes`},
		},
		{
			name: "route label with an empty name, and one whose template does not parse",
			yaml: "route:\n  receiver: oncall\n  labels: {\"\": x}\n  routes:\n  - labels:\n      team: '{{ .CommonLabels.team'\n" + receivers,
			want: []string{
				`tocsin.yml:3:12: "" is not a valid label name`,
				`tocsin.yml:6:13: labels.team: bad template: 1: unclosed action`,
			},
		},
		{
			name: "top-level route with match and a time interval",
			yaml: "route:\n  receiver: oncall\n  match: {a: b}\n  mute_time_intervals: [x]\ntime_intervals: [{name: x}]\n" + receivers,
			want: []string{`tocsin.yml:3:10: the top-level route matches every alert; it cannot have match or match_re`, `tocsin.yml:4:24: the top-level route cannot have mute_time_intervals`},
		},
		{
			name: "bad match_re, unknown and repeated time intervals",
			yaml: "route:\n  receiver: oncall\n  routes:\n  - match_re: {a: '('}\n    active_time_intervals: [nights]\ntime_intervals: [{name: x}]\nmute_time_intervals: [{name: x}]\n" + receivers,
			want: []string{
				`tocsin.yml:4:15: match_re: a: bad regular expression "("`,
				`tocsin.yml:5:29: route uses time interval "nights", which is not defined in time_intervals`,
				`tocsin.yml:7:30: time interval name "x" is used more than once`,
			},
		},
		{
			name: "bad time interval values",
			yaml: "route: {receiver: oncall}\ntime_intervals:\n- name: x\n  time_intervals:\n  - weekdays: [funday]\n    times: [{start_time: '25:00', end_time: '26:00'}]\n    location: Mars/Base\n    hours: [1]\n" + receivers,
			want: []string{
				`tocsin.yml:5:16: funday is not a valid weekday`,
				`tocsin.yml:6:13: couldn't parse timestamp 25:00, invalid format`,
				`tocsin.yml:7:15: unknown time zone Mars/Base`,
				`tocsin.yml:8:5: unknown key "hours"`,
			},
		},
		{
			name: "bad inhibit rule",
			yaml: "route: {receiver: oncall}\ninhibit_rules:\n- source_matchers: ['a=']\n  target_match_re: {b: '['}\n  equal: ['']\n  source: x\n" + receivers,
			want: []string{
				`tocsin.yml:3:22: bad matcher "a="`,
				`tocsin.yml:4:20: target_match_re: b: bad regular expression`,
				`tocsin.yml:5:11: equal: "" is not a valid label name`,
				`tocsin.yml:6:3: unknown key "source" in inhibit rule`,
			},
		},
		{
			name: "template file that does not parse",
			yaml: "route: {receiver: oncall}\ntemplates: ['testdata/templates/bad.tmpl']\n" + receivers,
			want: []string{`tocsin.yml:2:13: templates: bad.tmpl:2: missing value for if`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("tocsin.yml", []byte(tc.yaml))
			require.Error(t, err)
			errs := AsErrors("tocsin.yml", err)
			require.Len(t, errs, len(tc.want), "errors: %v", err)
			for i, want := range tc.want {
				require.Contains(t, errs[i].Error(), want)
			}
		})
	}
}

func TestRouteAndReceiverDefaults(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`
route:
  receiver: oncall
  routes:
  - matchers: ['severity="info"', '{service=~"broker|api", team!="x"}']
    receiver: oncall
    continue: true
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`))
	require.NoError(t, err)
	require.Equal(t, model.Duration(30*time.Second), *cfg.Route.GroupWait)
	require.Equal(t, model.Duration(5*time.Minute), *cfg.Route.GroupInterval)
	require.Equal(t, model.Duration(4*time.Hour), *cfg.Route.RepeatInterval)
	require.Nil(t, cfg.Route.Routes[0].GroupWait, "children inherit, so their own value stays unset")
	require.Equal(t, StrategyAll, cfg.Receivers[0].Strategy)
	require.Equal(t, DefaultFailoverAfter, cfg.Receivers[0].FailoverAfter)
}
