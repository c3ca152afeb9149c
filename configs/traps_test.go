package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPagingTrapsAreWarnedAtTheirPlace(t *testing.T) {
	const receivers = `receivers:
- name: pager
  pagerduty_configs: [{routing_key: abc}]
- name: both
  pagerduty_configs: [{routing_key: abc}]
  opsgenie_configs: [{api_key: abc}]
- name: chat
  slack_configs: [{api_url: 'http://slack.example/hook'}]
`
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "defaults on a paging route",
			yaml: "route:\n  receiver: pager\n" + receivers,
			want: []string{
				`tocsin.yml:3:3: warning: route to paging receiver "pager" has no group_by`,
				`tocsin.yml:3:3: warning: group_interval 5m on a route to paging receiver "pager"`,
				`tocsin.yml:5:9: warning: receiver "pager" pages through a single integration (pagerduty) and has no failover`,
			},
		},
		{
			name: "prompt settings and two integrations draw no warning",
			yaml: "route:\n  receiver: both\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1m\n  repeat_interval: 4h\n  routes:\n  - {matchers: [severity=info], receiver: chat, group_by: [], group_interval: 10m}\n" + receivers,
		},
		{
			name: "inherited and own settings on child routes",
			yaml: "route:\n  receiver: chat\n  group_by: [alertname]\n  group_wait: 2m\n  group_interval: 1m\n  repeat_interval: 30s\n  routes:\n  - matchers: [severity=critical]\n    receiver: both\n    group_by: []\n" + receivers,
			want: []string{
				`tocsin.yml:5:15: warning: group_wait 2m on a route to paging receiver "both"`,
				`tocsin.yml:7:20: warning: repeat_interval 30s is shorter than group_interval 1m`,
				`tocsin.yml:11:15: warning: route to paging receiver "both" has no group_by`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("tocsin.yml", []byte("global: {replica: eu-1}\n"+tc.yaml))
			require.NoError(t, err)
			ws := cfg.Warnings()
			ws.Sort()
			require.Len(t, ws, len(tc.want), "warnings: %v", ws)
			for i, want := range tc.want {
				require.Contains(t, ws[i].Error(), want)
			}
		})
	}
}
