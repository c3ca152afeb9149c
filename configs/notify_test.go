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
			yaml: "route:\n  receiver: oncall\n  match: {a: b}\n" + receivers,
			want: []string{`tocsin.yml:3:3: unknown key "match" in route; valid keys: continue, group_by, group_interval, group_wait, matchers, receiver, repeat_interval, routes`},
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
