package notifiers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestRouteMatchingAndInheritance(t *testing.T) {
	info, crit := "severity=\"info\"", "severity=~\"critical|page\""
	cfg := routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Minute, time.Hour,
		&configs.Route{Matchers: []string{info}, Receiver: "chat", Continue: true},
		&configs.Route{Matchers: []string{info, "team=\"db\""}, Receiver: "db", GroupBy: []model.LabelName{"..."}},
		&configs.Route{Matchers: []string{crit}, Routes: []*configs.Route{{Matchers: []string{"service!=\"api\""}, Receiver: "broker"}}},
	)
	route, err := NewRoute(cfg)
	require.NoError(t, err)

	tests := []struct {
		name      string
		labels    model.LabelSet
		receivers []string
	}{
		{"no child matches: the root takes it", model.LabelSet{"alertname": "X"}, []string{"oncall"}},
		{"continue lets the next sibling match too", model.LabelSet{"severity": "info", "team": "db"}, []string{"chat", "db"}},
		{"continue with no further match", model.LabelSet{"severity": "info"}, []string{"chat"}},
		{"regex parent, nested child", model.LabelSet{"severity": "page", "service": "broker"}, []string{"broker"}},
		{"nested child does not match: the parent inherits the root's receiver", model.LabelSet{"severity": "critical", "service": "api"}, []string{"oncall"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range route.Match(tc.labels) {
				got = append(got, r.Receiver)
				require.Equal(t, time.Minute, r.GroupInterval, "timers are inherited")
			}
			require.Equal(t, tc.receivers, got)
		})
	}
	db := route.Routes[1]
	require.True(t, db.GroupByAll)
	require.Equal(t, []model.LabelName{"alertname"}, route.Routes[2].Routes[0].GroupBy, "group_by is inherited")
	require.Equal(t, `{}/{severity="info",team="db"}`, db.Key())
}

// A storm of 10,000 alerts becomes one notification per group and
// integration, and nothing more until something changes.
func TestStormBecomesOneNotificationPerGroup(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	h := newHarness(t, routeCfg("oncall", []model.LabelName{"alertname", "service"}, 30*time.Second, 5*time.Minute, 4*time.Hour), Options{},
		receiver("oncall", configs.StrategyAll, 0, integration("a", a, true), integration("b", b, true)))
	now := h.clock.Now()
	const storm = 10000
	alerts := make([]*model.Alert, 0, storm)
	for i := range storm {
		alerts = append(alerts, alert(now, "alertname", fmt.Sprintf("Alert%d", i%2), "service", fmt.Sprintf("svc%d", i%3), "instance", fmt.Sprint(i)))
	}
	for i := 0; i < storm; i += 1000 {
		h.d.Send(alerts[i : i+1000]...)
	}
	require.Empty(t, a.received(), "nothing leaves before group_wait")
	h.clock.Advance(30 * time.Second)
	h.waitFlushes(t, 6)
	for _, r := range []*recorder{a, b} {
		got := r.received()
		require.Len(t, got, 6, "one notification per group")
		total := 0
		keys := map[string]bool{}
		for _, n := range got {
			total += len(n.Alerts)
			keys[n.DedupKey] = true
			require.Equal(t, model.AlertFiring, n.Status)
			require.Len(t, n.GroupLabels, 2)
			require.Equal(t, n.GroupLabels, n.CommonLabels)
		}
		require.Equal(t, storm, total)
		require.Len(t, keys, 6, "one dedup key per group")
	}
	// The same storm again, unchanged: nothing new to say.
	h.d.Send(alerts...)
	h.clock.Advance(5 * time.Minute)
	h.waitFlushes(t, 6)
	require.Len(t, a.received(), 6)
	require.Equal(t, 6.0, testutil.ToFloat64(h.d.metrics.groups))
	require.Equal(t, 6.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "a", OutcomeAccepted)))
}

func TestResolvedNotificationsFollowSendResolved(t *testing.T) {
	wants, ignores := newRecorder(), newRecorder()
	h := newHarness(t, routeCfg("oncall", []model.LabelName{"alertname"}, 10*time.Second, time.Minute, 4*time.Hour), Options{},
		receiver("oncall", configs.StrategyAll, 0, integration("wants", wants, true), integration("ignores", ignores, false)))
	now := h.clock.Now()
	x, y := alert(now, "alertname", "BrokerDown", "probe", "x"), alert(now, "alertname", "BrokerDown", "probe", "y")
	h.d.Send(x, y)
	h.clock.Advance(10 * time.Second)
	h.waitFlushes(t, 1)
	require.Len(t, wants.next(t).Firing(), 2)
	require.Len(t, ignores.next(t).Firing(), 2)

	// One of two resolves: news only for the integration that wants resolved alerts.
	rx := *x
	rx.EndsAt = h.clock.Now()
	h.d.Send(&rx)
	h.clock.Advance(time.Minute)
	h.waitFlushes(t, 1)
	n := wants.next(t)
	require.Equal(t, model.AlertFiring, n.Status)
	require.Len(t, n.Resolved(), 1)
	require.Len(t, n.Firing(), 1)
	require.Len(t, ignores.received(), 1)

	// Both resolved: everyone who knew of the firing alert hears nothing more
	// except through send_resolved; then the group is gone.
	ry := *y
	ry.EndsAt = h.clock.Now()
	h.d.Send(&ry)
	h.clock.Advance(time.Minute)
	h.waitFlushes(t, 1)
	n = wants.next(t)
	require.Equal(t, model.AlertResolved, n.Status)
	require.Len(t, n.Resolved(), 1, "the alert already reported as resolved has left the group")
	require.Len(t, ignores.received(), 1)
	require.Equal(t, 0.0, testutil.ToFloat64(h.d.metrics.groups))

	// It fires again: a new page.
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown", "probe", "x"))
	h.clock.Advance(10 * time.Second)
	h.waitFlushes(t, 1)
	require.Equal(t, model.AlertFiring, wants.next(t).Status)
	require.Equal(t, model.AlertFiring, ignores.next(t).Status)
}

func TestDedupKeyIsStableAcrossRepeats(t *testing.T) {
	a := newRecorder()
	h := newHarness(t, routeCfg("oncall", []model.LabelName{"alertname"}, time.Second, time.Minute, 10*time.Minute), Options{},
		receiver("oncall", configs.StrategyAll, 0, integration("a", a, true)))
	fire := func() { h.d.Send(alert(h.clock.Now(), "alertname", "ProbeFailing", "probe", "api")) }
	fire()
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 1)
	first := a.next(t)
	sum := sha256.Sum256([]byte(first.GroupKey))
	require.Equal(t, hex.EncodeToString(sum[:]), first.DedupKey)
	require.Equal(t, `{}:{alertname="ProbeFailing"}`, first.GroupKey)

	for range 10 { // group intervals without news: no repeat yet
		fire()
		h.clock.Advance(time.Minute)
		h.waitFlushes(t, 1)
	}
	repeat := a.next(t)
	require.Len(t, a.received(), 2, "exactly one repeat after repeat_interval")
	require.Equal(t, first.DedupKey, repeat.DedupKey)
	require.Equal(t, first.GroupKey, repeat.GroupKey)
}

// With strategy all, a vendor that hangs delays no other: the others are
// paged without the clock moving at all past the flush.
func TestAllPagesOthersWhileOneVendorHangs(t *testing.T) {
	stuck, ok1, ok2 := newRecorder(), newRecorder(), newRecorder()
	stuck.answer = hang
	h := newHarness(t, routeCfg("oncall", nil, 0, time.Minute, time.Hour), Options{},
		receiver("oncall", configs.StrategyAll, 0, integration("stuck", stuck, true), integration("ok1", ok1, true), integration("ok2", ok2, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	stuck.next(t)
	require.Equal(t, "BrokerDown", string(ok1.next(t).Alerts[0].Labels["alertname"]))
	require.Equal(t, "BrokerDown", string(ok2.next(t).Alerts[0].Labels["alertname"]))
}

func TestFailoverMovesOnAfterFailoverAfter(t *testing.T) {
	slow, backup := newRecorder(), newRecorder()
	slow.answer = hang
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{AttemptTimeout: time.Minute},
		receiver("oncall", configs.StrategyFailover, 10*time.Second, integration("slow", slow, true), integration("backup", backup, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	slow.next(t)
	h.clock.Advance(9 * time.Second)
	require.Empty(t, backup.received(), "not before failover_after")
	h.clock.Advance(time.Second)
	require.Equal(t, "BrokerDown", string(backup.next(t).Alerts[0].Labels["alertname"]))
	h.waitFlushes(t, 1)
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "slow", OutcomeFailed)))
	require.Equal(t, 0.0, testutil.ToFloat64(h.d.metrics.up.WithLabelValues("oncall", "slow", "0")))
}

func TestFailoverMovesOnAfterPermanentError(t *testing.T) {
	bad, backup, unused := newRecorder(), newRecorder(), newRecorder()
	bad.answer = func(context.Context, int, *Notification) (bool, error) {
		return false, &VendorError{Integration: "bad", StatusCode: 400, Reason: "Invalid routing key"}
	}
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{},
		receiver("oncall", configs.StrategyFailover, time.Hour, integration("bad", bad, true), integration("backup", backup, true), integration("unused", unused, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	require.Equal(t, "BrokerDown", string(backup.next(t).Alerts[0].Labels["alertname"]), "no waiting for failover_after")
	h.waitFlushes(t, 1)
	require.Empty(t, unused.received(), "failover stops at the first integration that accepts")
	require.Len(t, bad.received(), 1)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	limited := newRecorder()
	limited.answer = func(_ context.Context, call int, _ *Notification) (bool, error) {
		if call == 1 {
			return true, &VendorError{Integration: "limited", StatusCode: 429, Reason: "rate limited", RetryAfter: 30 * time.Second}
		}
		return false, nil
	}
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{BackoffMin: time.Second},
		receiver("oncall", configs.StrategyAll, 0, integration("limited", limited, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	limited.next(t)
	h.clock.waitTimer(t, h.clock.Now().Add(30*time.Second))
	h.clock.Advance(29 * time.Second)
	require.Len(t, limited.received(), 1, "not before Retry-After")
	h.clock.Advance(time.Second)
	limited.next(t)
	h.waitFlushes(t, 1)
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.failures.WithLabelValues("oncall", "limited", ReasonRateLimited)))
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "limited", OutcomeAccepted)))
}

func TestServerErrorsAreRetriedWithBackoffUntilTheDeadline(t *testing.T) {
	flaky := newRecorder()
	flaky.answer = func(_ context.Context, call int, _ *Notification) (bool, error) {
		if call <= 3 {
			return true, &VendorError{Integration: "flaky", StatusCode: 503}
		}
		return false, nil
	}
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{BackoffMin: 2 * time.Second},
		receiver("oncall", configs.StrategyAll, 0, integration("flaky", flaky, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	// With no jitter the waits are 1s, 2s, 4s: half of 2s doubling.
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		flaky.next(t)
		h.clock.waitTimer(t, h.clock.Now().Add(wait))
		h.clock.Advance(wait)
	}
	flaky.next(t)
	h.waitFlushes(t, 1)
	require.Equal(t, 3.0, testutil.ToFloat64(h.d.metrics.failures.WithLabelValues("oncall", "flaky", ReasonServerError)))

	// A vendor that never recovers is given up on at the delivery deadline.
	down := newRecorder()
	down.answer = func(context.Context, int, *Notification) (bool, error) {
		return true, &VendorError{Integration: "down", StatusCode: 500}
	}
	h2 := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{BackoffMin: time.Minute, BackoffMax: time.Minute, MaxDeliveryTime: 3 * time.Minute},
		receiver("oncall", configs.StrategyAll, 0, integration("down", down, true)))
	h2.d.Send(alert(h2.clock.Now(), "alertname", "BrokerDown"))
	h2.clock.Advance(time.Second)
	for range 6 { // waits of 30s each: attempts at 0, 30s, ... 3m
		down.next(t)
		h2.clock.waitTimer(t, h2.clock.Now().Add(30*time.Second))
		h2.clock.Advance(30 * time.Second)
	}
	down.next(t)
	h2.waitFlushes(t, 1)
	require.Len(t, down.received(), 7)
	require.Equal(t, 1.0, testutil.ToFloat64(h2.d.metrics.total.WithLabelValues("oncall", "down", OutcomeFailed)))
}

// A 4xx is permanent: one attempt, the vendor's reason in the log, and a
// NotifierFailing alert delivered through the integration that still works.
func TestClientErrorIsNotRetriedAndRaisesNotifierFailing(t *testing.T) {
	bad, good := newRecorder(), newRecorder()
	bad.answer = func(context.Context, int, *Notification) (bool, error) {
		return false, &VendorError{Integration: "pagerduty", StatusCode: 400, Reason: "Event object is invalid: routing_key is invalid"}
	}
	h := newHarness(t, routeCfg("oncall", []model.LabelName{"alertname"}, time.Second, time.Minute, time.Hour), Options{ExternalLabels: model.LabelSet{"replica": "eu-1"}},
		receiver("oncall", configs.StrategyAll, 0, integration("pagerduty", bad, true), integration("slack", good, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	bad.next(t)
	require.Equal(t, "BrokerDown", string(good.next(t).CommonLabels["alertname"]))
	h.waitFlushes(t, 1)
	require.Contains(t, h.logs.String(), "routing_key is invalid", "the vendor's reason is logged")
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "pagerduty", OutcomeRejected)))
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.failures.WithLabelValues("oncall", "pagerduty", ReasonClientError)))
	require.Equal(t, 0.0, testutil.ToFloat64(h.d.metrics.up.WithLabelValues("oncall", "pagerduty", "0")))
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.up.WithLabelValues("oncall", "slack", "0")))

	// NotifierFailing goes out with its own group's group_wait, through slack only.
	h.clock.Advance(time.Second)
	nf := good.next(t)
	require.Equal(t, AlertNotifierFailing, string(nf.CommonLabels["alertname"]))
	require.Equal(t, "pagerduty", string(nf.CommonLabels["integration"]))
	require.Equal(t, "eu-1", string(nf.CommonLabels["replica"]))
	require.Contains(t, string(nf.CommonAnnotations["description"]), "routing_key is invalid", "the vendor's reason reaches the on-call")
	h.waitFlushes(t, 1)
	require.Len(t, bad.received(), 1, "not retried, and never told of its own failure")

	// The next interval tries the failing integration again (it has not
	// accepted BrokerDown yet); once it accepts, NotifierFailing resolves.
	bad.answer = nil
	h.clock.Advance(time.Minute - time.Second)
	require.Equal(t, "BrokerDown", string(bad.next(t).CommonLabels["alertname"]))
	h.waitFlushes(t, 1)
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.up.WithLabelValues("oncall", "pagerduty", "0")))
	h.clock.Advance(time.Second)
	resolved := good.next(t)
	require.Equal(t, AlertNotifierFailing, string(resolved.CommonLabels["alertname"]))
	require.Equal(t, model.AlertResolved, resolved.Status)
	require.Len(t, good.received(), 3, "slack had BrokerDown already; only NotifierFailing changed")
}

func TestUpdateMovesAlertsWithoutPagingTwice(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	recvA := receiver("a", configs.StrategyAll, 0, integration("a", a, true))
	h := newHarness(t, routeCfg("a", []model.LabelName{"alertname"}, time.Second, time.Minute, time.Hour), Options{}, recvA)
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 1)
	a.next(t)

	// Same tree plus a second receiver: the group key stays, nobody is paged again.
	route, err := NewRoute(routeCfg("a", []model.LabelName{"alertname"}, time.Second, time.Minute, time.Hour,
		&configs.Route{Matchers: []string{`alertname="Other"`}, Receiver: "b"}))
	require.NoError(t, err)
	recvB := receiver("b", configs.StrategyAll, 0, integration("b", b, true))
	require.NoError(t, h.d.Update(route, []*Receiver{recvA, recvB}))
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 1)
	require.Len(t, a.received(), 1)

	// A route to an unknown receiver is refused and the old tree stays.
	bad, err := NewRoute(routeCfg("nobody", nil, time.Second, time.Minute, time.Hour))
	require.NoError(t, err)
	require.ErrorContains(t, h.d.Update(bad, []*Receiver{recvA}), `unknown receiver "nobody"`)
	h.d.Send(alert(h.clock.Now(), "alertname", "Other"))
	h.clock.Advance(time.Second)
	h.waitFlushes(t, 1)
	require.Equal(t, "Other", string(b.next(t).CommonLabels["alertname"]))
}

func TestSendAfterStopIsDropped(t *testing.T) {
	a := newRecorder()
	h := newHarness(t, routeCfg("a", nil, 0, time.Minute, time.Hour), Options{}, receiver("a", configs.StrategyAll, 0, integration("a", a, true)))
	h.stop()
	h.d.Send(alert(h.clock.Now(), "alertname", "X"))
	require.Empty(t, a.received())
	require.Error(t, h.d.Update(h.d.route, []*Receiver{receiver("a", configs.StrategyAll, 0)}))
}

func TestAttemptTimeoutEndsAHangingCallAndRetries(t *testing.T) {
	slow := newRecorder()
	slow.answer = func(ctx context.Context, call int, n *Notification) (bool, error) {
		if call == 1 {
			return hang(ctx, call, n)
		}
		return false, nil
	}
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 5*time.Minute, time.Hour), Options{AttemptTimeout: 5 * time.Second, BackoffMin: 2 * time.Second},
		receiver("oncall", configs.StrategyAll, 0, integration("slow", slow, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	slow.next(t)
	h.clock.Advance(5 * time.Second) // the attempt times out
	h.clock.waitTimer(t, h.clock.Now().Add(time.Second))
	h.clock.Advance(time.Second) // backoff
	slow.next(t)
	h.waitFlushes(t, 1)
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.failures.WithLabelValues("oncall", "slow", ReasonTimeout)))
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "slow", OutcomeAccepted)))
}
