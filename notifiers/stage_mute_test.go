package notifiers

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestMuteStageHoldsPagesDuringMuteTimeIntervals(t *testing.T) {
	rec := newRecorder()
	// The fake clock starts on Friday 2026-01-02 at 03:04 UTC.
	h := configHarness(t, `global: {replica: eu-1}
time_intervals:
- name: night-maintenance
  time_intervals: [{times: [{start_time: '03:00', end_time: '04:00'}]}]
- name: fridays
  time_intervals: [{weekdays: [friday]}]
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 1s
  group_interval: 30m
  routes:
  - {matchers: [team="db"], mute_time_intervals: [night-maintenance]}
  - {matchers: [team="web"], active_time_intervals: [fridays]}
  - {matchers: [team="ops"], active_time_intervals: [night-maintenance]}
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`, receiver("oncall", configs.StrategyAll, 0, integration("a", rec, true)))
	now := h.clock.Now()
	var alerts []*model.Alert
	for _, team := range []string{"db", "web", "ops"} {
		a := alert(now, "alertname", strings.ToUpper(team), "team", team)
		a.EndsAt = now.Add(24 * time.Hour)
		alerts = append(alerts, a)
	}
	h.d.Send(alerts...)
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 3)
	var names []string
	for _, n := range rec.received() {
		names = append(names, string(n.GroupLabels["alertname"]))
	}
	require.ElementsMatch(t, []string{"WEB", "OPS"}, names, "db is muted; web and ops are active")

	h.clock.Advance(30 * time.Minute)
	h.waitFlushes(t, 3)
	require.Len(t, rec.received(), 2, "03:34: db still muted")

	// After 04:00 the maintenance window is over: db pages.
	h.clock.Advance(30 * time.Minute)
	h.waitFlushes(t, 3)
	names = nil
	for _, n := range rec.received()[2:] {
		names = append(names, string(n.GroupLabels["alertname"]))
	}
	require.Equal(t, []string{"DB"}, names)
}
