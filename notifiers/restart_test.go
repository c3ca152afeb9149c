package notifiers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tocsin-alerting/tocsin/configs"
)

// openState opens the state file in dir and closes it with the test.
func openState(t *testing.T, dir string) *State {
	t.Helper()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// restart stops h as a crash would leave it (nothing more is written
// after the stop) and starts a dispatcher on the same state file and clock.
func restart(t *testing.T, h *harness, dir string, rc *configs.Route, receivers ...*Receiver) *harness {
	t.Helper()
	h.stop()
	require.NoError(t, h.d.state.Close())
	return newHarness(t, rc, Options{Clock: h.clock, State: openState(t, dir)}, receivers...)
}

func pageRoute() *configs.Route {
	return routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Minute, 4*time.Hour)
}

func TestRestartDoesNotPageAgainBeforeRepeatInterval(t *testing.T) {
	dir := t.TempDir()
	before := newRecorder()
	h := newHarness(t, pageRoute(), Options{State: openState(t, dir)},
		receiver("oncall", configs.StrategyAll, 0, integration("a", before, true)))
	a := alert(h.clock.Now(), "alertname", "BrokerDown")
	a.EndsAt = a.StartsAt.Add(24 * time.Hour)
	h.d.Send(a)
	h.waitFlushes(t, 1)
	require.Len(t, before.received(), 1)

	after := newRecorder()
	h = restart(t, h, dir, pageRoute(), receiver("oncall", configs.StrategyAll, 0, integration("a", after, true)))
	h.waitFlushes(t, 1) // the restored group flushes at once, and finds nothing new
	h.d.Send(a)         // the rules say it again
	h.clock.Advance(time.Minute)
	h.waitFlushes(t, 1)
	require.Empty(t, after.received(), "the vendor already has this page")

	h.clock.Advance(4*time.Hour - time.Minute)
	n := after.next(t)
	require.Equal(t, model.AlertFiring, n.Status, "repeat_interval after the first page, a repeat")
}

func TestPendingDeliveryResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	failing := newRecorder()
	failing.answer = func(context.Context, int, *Notification) (bool, error) {
		return true, &VendorError{Integration: "a", StatusCode: 500, Reason: "500 Internal Server Error"}
	}
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 0, 10*time.Minute, 4*time.Hour)
	h := newHarness(t, rc, Options{State: openState(t, dir), BackoffMin: time.Second, BackoffMax: time.Second},
		receiver("oncall", configs.StrategyAll, 0, integration("a", failing, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	failing.next(t)
	advanceUntilCalled(t, h, failing) // two attempts failed, retries go on

	p, ok := h.d.state.pending(logGroup{groupKey: firstGroupKey(t, h), receiver: "oncall"}, integrationKey{"a", 0})
	require.True(t, ok, "the delivery is in the outbox")
	require.GreaterOrEqual(t, p.Attempts, 1)

	healed := newRecorder()
	h = restart(t, h, dir, rc, receiver("oncall", configs.StrategyAll, 0, integration("a", healed, true)))
	n := healed.next(t) // no alert was sent again: the outbox alone pages
	require.Equal(t, model.AlertFiring, n.Status)
	h.waitFlushes(t, 1)
	_, ok = h.d.state.pending(logGroup{groupKey: n.GroupKey, receiver: "oncall"}, integrationKey{"a", 0})
	require.False(t, ok, "accepted: the outbox entry is gone")
}

func TestResolveIsSentForAnAlertThatEndedWhileDown(t *testing.T) {
	dir := t.TempDir()
	before := newRecorder()
	h := newHarness(t, pageRoute(), Options{State: openState(t, dir)},
		receiver("oncall", configs.StrategyAll, 0, integration("a", before, true)))
	a := alert(h.clock.Now(), "alertname", "BrokerDown")
	a.EndsAt = h.clock.Now().Add(time.Minute) // what the rules last said
	h.d.Send(a)
	h.waitFlushes(t, 1)
	require.Equal(t, model.AlertFiring, before.next(t).Status)

	h.stop()
	h.clock.Advance(10 * time.Minute) // down past the alert's end
	after := newRecorder()
	h = restart(t, h, dir, pageRoute(), receiver("oncall", configs.StrategyAll, 0, integration("a", after, true)))
	n := after.next(t)
	require.Equal(t, model.AlertResolved, n.Status)
	require.Equal(t, a.Labels, n.Alerts[0].Labels)
	h.waitFlushes(t, 1)
	require.Equal(t, 0.0, testutilGroups(h), "the resolved group has left the dispatcher")
}

func TestRetryAfterOutlivesARestart(t *testing.T) {
	dir := t.TempDir()
	limited := newRecorder()
	limited.answer = func(context.Context, int, *Notification) (bool, error) {
		return true, &VendorError{Integration: "a", StatusCode: 429, Reason: "429 Too Many Requests", RetryAfter: time.Hour}
	}
	// group_interval 2h: the delivery's retries may last that long, so it
	// waits out the vendor's hour instead of giving up.
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 0, 2*time.Hour, 4*time.Hour)
	h := newHarness(t, rc, Options{State: openState(t, dir)},
		receiver("oncall", configs.StrategyAll, 0, integration("a", limited, true)))
	windowEnds := h.clock.Now().Add(time.Hour)
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	limited.next(t)
	h.clock.waitTimer(t, windowEnds) // the delivery waits for the window; tocsin dies meanwhile

	after := newRecorder()
	h = restart(t, h, dir, rc, receiver("oncall", configs.StrategyAll, 0, integration("a", after, true)))
	h.clock.waitTimer(t, windowEnds) // the resumed delivery waits for the same window
	h.clock.Advance(time.Hour - time.Second)
	require.Empty(t, after.received(), "the vendor asked not to be called for an hour")
	h.clock.Advance(time.Second)
	require.Equal(t, model.AlertFiring, after.next(t).Status)
}

func TestOutboxIsOnDiskBeforeTheVendorIsCalled(t *testing.T) {
	dir := t.TempDir()
	var h *harness
	var onDisk bool
	check := newRecorder()
	check.answer = func(context.Context, int, *Notification) (bool, error) {
		err := h.d.state.db.View(func(tx *bolt.Tx) error {
			onDisk = tx.Bucket(bucketAlerts).Stats().KeyN == 1 && tx.Bucket(bucketOutbox).Stats().KeyN == 1
			return nil
		})
		return false, err
	}
	h = newHarness(t, pageRoute(), Options{State: openState(t, dir)},
		receiver("oncall", configs.StrategyAll, 0, integration("a", check, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	check.next(t)
	h.waitFlushes(t, 1)
	require.True(t, onDisk, "the group and its pending delivery were committed before the call")
}

func firstGroupKey(t *testing.T, h *harness) string {
	t.Helper()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	for _, g := range h.d.groups {
		return g.key
	}
	t.Fatal("no group")
	return ""
}

func testutilGroups(h *harness) float64 {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	return float64(len(h.d.groups))
}

// advanceUntilCalled moves the clock a second at a time until r is called:
// the retry's timer is armed by another goroutine after the last failure.
func advanceUntilCalled(t *testing.T, h *harness, r *recorder) {
	t.Helper()
	for range 200 {
		h.clock.Advance(time.Second)
		select {
		case <-r.calls:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	logs := h.logs.String()
	t.Fatalf("the vendor was not called again; the dispatcher's log ends:\n%s", logs[max(0, len(logs)-4000):])
}

func TestGCDropsWhatOutlivedTheRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, time.Hour)
	require.NoError(t, err)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	gone, live := logGroup{"gone", "oncall"}, logGroup{"live", "oncall"}
	k := integrationKey{"a", 0}
	for _, g := range []logGroup{gone, live} {
		a := alert(now, "alertname", g.groupKey)
		s.putAlert(g, a.Fingerprint(), a, now)
		require.NoError(t, s.record(g, k, &logEntry{At: now}))
	}
	isLive := func(g logGroup) bool { return g == live }

	n, err := s.GC(now.Add(30*time.Minute), isLive)
	require.NoError(t, err)
	require.Zero(t, n, "younger than the retention")
	n, err = s.GC(now.Add(2*time.Hour), isLive)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the gone group's log entry and record")
	require.NoError(t, s.Close())

	s = openState(t, dir)
	require.Nil(t, s.logEntryOf(gone, k), "dropped on disk too")
	require.NotNil(t, s.logEntryOf(live, k))
	require.Len(t, s.restore(), 1)
}

// An alert sent between the start and the restore is newer than the copy
// the state file kept: the restore must not bring the old one back.
func TestRestoreKeepsAlertsSentSinceTheStart(t *testing.T) {
	dir := t.TempDir()
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 10*time.Second, time.Minute, 4*time.Hour)
	before := newRecorder()
	h := newHarness(t, rc, Options{State: openState(t, dir)},
		receiver("oncall", configs.StrategyAll, 0, integration("a", before, true)))
	a := alert(h.clock.Now(), "alertname", "BrokerDown")
	h.d.Send(a)
	h.clock.Advance(10 * time.Second)
	h.waitFlushes(t, 1)
	require.Len(t, before.received(), 1)
	h.stop()
	require.NoError(t, h.d.state.Close())

	route, err := NewRoute(rc)
	require.NoError(t, err)
	after := newRecorder()
	d, err := NewDispatcher(route, []*Receiver{receiver("oncall", configs.StrategyAll, 0, integration("a", after, true))},
		Options{Clock: h.clock, State: openState(t, dir)})
	require.NoError(t, err)
	resolved := *a
	resolved.StartsAt, resolved.EndsAt = h.clock.Now(), h.clock.Now()
	d.Send(&resolved) // before the restore
	d.restore()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h.clock.Advance(10 * time.Second)
	require.Equal(t, model.AlertResolved, after.next(t).Status, "the resolve, not the restored firing alert")
}
