package notifiers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// configHarness is a harness whose route tree comes from a whole config,
// with its inhibit rules and time intervals.
func configHarness(t *testing.T, yaml string, receivers ...*Receiver) *harness {
	t.Helper()
	cfg, err := configs.Load("tocsin.yml", []byte(yaml))
	require.NoError(t, err)
	route, err := NewRouteFromConfig(cfg)
	require.NoError(t, err)
	h := newHarness(t, routeCfg("oncall", nil, 0, time.Minute, time.Hour), Options{}, receivers...)
	require.NoError(t, h.d.Update(route, receivers))
	return h
}

func alertNames(n *Notification) []string {
	var out []string
	for _, a := range n.Alerts {
		out = append(out, string(a.Labels["alertname"])+"/"+string(a.Labels["service"]))
	}
	return out
}

func TestInhibitStageLeavesInhibitedAlertsOutUntilTheSourceResolves(t *testing.T) {
	rec := newRecorder()
	h := configHarness(t, `global: {replica: eu-1}
route: {receiver: oncall, group_by: [alertname], group_wait: 1s, group_interval: 1m, repeat_interval: 4h}
inhibit_rules:
- source_matchers: [alertname="BrokerDown"]
  target_matchers: [alertname="ProbeFailing"]
  equal: [service]
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`, receiver("oncall", configs.StrategyAll, 0, integration("a", rec, true)))
	now := h.clock.Now()
	source := alert(now, "alertname", "BrokerDown", "service", "broker")
	h.d.Send(source, alert(now, "alertname", "ProbeFailing", "service", "broker"), alert(now, "alertname", "ProbeFailing", "service", "api"))
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 2)
	got := map[string][]string{}
	for _, n := range rec.received() {
		got[string(n.GroupLabels["alertname"])] = alertNames(n)
	}
	require.Equal(t, map[string][]string{
		"BrokerDown":   {"BrokerDown/broker"},
		"ProbeFailing": {"ProbeFailing/api"},
	}, got)

	// The broker comes back: the probe alert it inhibited is news.
	resolved := *source
	resolved.EndsAt = h.clock.Now()
	h.d.Send(&resolved)
	h.clock.Advance(time.Minute)
	h.waitFlushes(t, 2)
	var probe *Notification
	for _, n := range rec.received()[2:] {
		if n.GroupLabels["alertname"] == "ProbeFailing" {
			probe = n
		}
	}
	require.NotNil(t, probe, "the probe group is sent again")
	require.ElementsMatch(t, []string{"ProbeFailing/broker", "ProbeFailing/api"}, alertNames(probe))
}

func TestInhibitStageSendsNothingWhenEveryAlertIsInhibited(t *testing.T) {
	rec := newRecorder()
	h := configHarness(t, `global: {replica: eu-1}
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1m
  routes:
  - {matchers: [alertname="BrokerDown"], group_wait: 10s}
inhibit_rules:
- {source_matchers: [alertname="BrokerDown"], target_matchers: [alertname="ProbeFailing"]}
receivers:
- name: oncall
  webhook_configs: [{url: 'http://hook.example/x'}]
`, receiver("oncall", configs.StrategyAll, 0, integration("a", rec, true)))
	now := h.clock.Now()
	// The source's own group waits longer than the target's: it inhibits
	// from the moment it arrives all the same.
	h.d.Send(alert(now, "alertname", "BrokerDown"), alert(now, "alertname", "ProbeFailing"))
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 1)
	require.Empty(t, rec.received())
	h.clock.Advance(9 * time.Second)
	h.waitFlushes(t, 1)
	require.Len(t, rec.received(), 1)
	require.Equal(t, []string{"BrokerDown/"}, alertNames(rec.received()[0]))
}
