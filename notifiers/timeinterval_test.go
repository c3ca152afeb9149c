package notifiers

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestRoutesMutedByTimeIntervals(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
time_intervals:
- name: weekends
  time_intervals:
  - weekdays: [saturday, sunday]
mute_time_intervals:
- name: office-hours
  time_intervals:
  - times: [{start_time: "09:00", end_time: "17:00"}]
    weekdays: ['monday:friday']
    location: Europe/Berlin
route:
  receiver: oncall
  routes:
  - matchers: [severity="info"]
    mute_time_intervals: [weekends]
    routes:
    - matchers: [team="a"]
  - matchers: [severity="ticket"]
    active_time_intervals: [office-hours]
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`))
	require.NoError(t, err)
	root, err := NewRouteFromConfig(cfg)
	require.NoError(t, err)
	info, child, ticket := root.Routes[0], root.Routes[0].Routes[0], root.Routes[1]

	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	mondayNoonBerlin := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	mondayNight := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		route *Route
		at    time.Time
		want  bool
	}{
		{"mute interval in effect", info, saturday, true},
		{"mute interval not in effect", info, mondayNoonBerlin, false},
		{"mute intervals are not inherited", child, saturday, false},
		{"root has none", root, saturday, false},
		{"inside the active interval, in its location", ticket, mondayNoonBerlin, false},
		{"outside the active interval", ticket, mondayNight, true},
		{"outside the active interval on a weekend", ticket, saturday, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := tt.route.MutedAt(tt.at)
			require.Equal(t, tt.want, got)
		})
	}

	_, err = NewRoute(cfg.Route)
	require.ErrorContains(t, err, `time interval "weekends" is not defined`)
}

func TestDeprecatedMatchAndMatchREOnRoutes(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route:
  receiver: oncall
  routes:
  - match: {severity: info}
    match_re: {service: 'broker|api'}
    receiver: chat
  - match_re: {service: 'broker'}
    continue: true
  - matchers: [service="broker"]
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
- name: chat
  webhook_configs: [{url: 'http://hook.example/y'}]
`))
	require.NoError(t, err)
	root, err := NewRouteFromConfig(cfg)
	require.NoError(t, err)
	require.Equal(t, `{}/{service=~"broker|api",severity="info"}`, root.Routes[0].Key(), "matchers are sorted, as in Alertmanager")

	got := root.Match(model.LabelSet{"severity": "info", "service": "api"})
	require.Equal(t, []*Route{root.Routes[0]}, got)
	got = root.Match(model.LabelSet{"severity": "info", "service": "apiserver"})
	require.Equal(t, []*Route{root}, got, "match_re is anchored")
	got = root.Match(model.LabelSet{"service": "broker"})
	require.Equal(t, []*Route{root.Routes[1], root.Routes[2]}, got, "continue goes on to the next sibling")
}
