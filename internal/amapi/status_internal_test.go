package amapi

import (
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestStatusConfigKeepsAlertmanagersRoutingKeys(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
time_intervals:
- name: office
  time_intervals: [{weekdays: ['monday:friday'], times: [{start_time: '09:00', end_time: '17:00'}], location: Europe/Berlin}]
mute_time_intervals:
- name: nights
  time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
route:
  receiver: oncall
  labels: {team: '{{ .CommonLabels.service }}'}
  routes:
  - match: {severity: info}
    labels: {tier: '2'}
    match_re: {service: 'broker|api'}
    receiver: chat
    mute_time_intervals: [nights]
    active_time_intervals: [office]
inhibit_rules:
- {source_match: {severity: critical}, target_matchers: [severity="warning"], equal: [alertname]}
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
- name: chat
  webhook_configs: [{url: 'http://hook.example/y'}]
`))
	require.NoError(t, err)
	text, err := alertmanagerConfig(cfg)
	require.NoError(t, err)
	am, err := amconfig.Load(text)
	require.NoError(t, err, "Alertmanager's own loader reads it:\n%s", text)
	require.Len(t, am.InhibitRules, 1)
	require.Len(t, am.TimeIntervals, 1)
	require.Len(t, am.MuteTimeIntervals, 1)

	// amtool config routes test: match and match_re still route.
	route := dispatch.NewRoute(am.Route, nil)
	got := route.Match(model.LabelSet{"severity": "info", "service": "api"})
	require.Equal(t, "chat", got[0].RouteOpts.Receiver)
	require.Equal(t, []string{"nights"}, got[0].RouteOpts.MuteTimeIntervals)
	require.Equal(t, model.LabelSet{"team": "{{ .CommonLabels.service }}", "tier": "2"}, got[0].RouteOpts.Labels, "route labels, inherited")
	got = route.Match(model.LabelSet{"severity": "info", "service": "db"})
	require.Equal(t, "oncall", got[0].RouteOpts.Receiver)
}
