package notifiers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestTimeToPageIsTheLongerTimerPlusFailoverSteps(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
time_intervals: [{name: nights, time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]}]
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
  - {matchers: [severity="info"], receiver: chat, group_wait: 10m, mute_time_intervals: [nights]}
receivers:
- name: oncall
  strategy: failover
  failover_after: 15s
  pagerduty_configs: [{routing_key: a}]
  opsgenie_configs: [{api_key: b}]
  webhook_configs: [{url: 'http://hook.example/x'}]
- name: chat
  webhook_configs: [{url: 'http://hook.example/y'}]
`))
	require.NoError(t, err)
	route, err := NewRouteFromConfig(cfg)
	require.NoError(t, err)
	oncall := receiver("oncall", configs.StrategyFailover, 15*time.Second, Integration{Name: "a"}, Integration{Name: "b"}, Integration{Name: "c"})
	chat := receiver("chat", configs.StrategyAll, 0, Integration{Name: "a"})
	require.Equal(t, time.Minute+30*time.Second, route.WorstCaseToPage(oncall))
	require.Equal(t, 10*time.Minute, route.Routes[0].WorstCaseToPage(chat))
	require.Equal(t, `{}→oncall 1m30s {}/{severity="info"}→chat 10m0s (or later: time intervals)`, TimeToPage(route, []*Receiver{oncall, chat}))
}
