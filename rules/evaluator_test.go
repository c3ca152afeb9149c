package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// sink collects the alert output.
type sink struct {
	mu     sync.Mutex
	alerts []*model.Alert
	ch     chan []*model.Alert
}

func newSink() *sink { return &sink{ch: make(chan []*model.Alert, 100)} }

func (s *sink) send(_ context.Context, as []*model.Alert) {
	s.mu.Lock()
	s.alerts = append(s.alerts, as...)
	s.mu.Unlock()
	s.ch <- as
}

// take returns and forgets what was sent so far.
func (s *sink) take() []*model.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.alerts
	s.alerts = nil
	for len(s.ch) > 0 {
		<-s.ch
	}
	return out
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	rec   *Recorder
	ev    *Evaluator
	clock *fakeClock
	out   *sink
	dir   string
	rules string
}

func writeRules(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "rules.yml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// newHarness opens a recorder in dir and an evaluator over rulesFile.
func newHarness(t *testing.T, dir, rulesFile string, clock *fakeClock) *harness {
	t.Helper()
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(dir, "tsdb"), Retention: 24 * time.Hour})
	require.NoError(t, err)
	out := newSink()
	ev, err := NewEvaluator(EvaluatorOptions{
		Files:          []string{rulesFile},
		Interval:       time.Hour,
		ExternalLabels: labels.FromStrings("replica", "eu-1", "team", "iot"),
		ExternalURL:    "http://tocsin.example:9797",
		Storage:        rec,
		Alerts:         out.send,
		Now:            clock.Now,
	})
	require.NoError(t, err)
	return &harness{rec: rec, ev: ev, clock: clock, out: out, dir: dir, rules: rulesFile}
}

// startHarness is a harness over a rule file with content, in a
// temporary directory, closed when the test ends; its clock starts at t0.
func startHarness(t *testing.T, content string) (*harness, *fakeClock) {
	t.Helper()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, writeRules(t, dir, content), clock)
	t.Cleanup(func() { h.close(t) })
	return h, clock
}

func (h *harness) close(t *testing.T) {
	t.Helper()
	require.NoError(t, h.rec.Close())
}

// probe records one probe_success sample at the clock's time and
// evaluates as the pipeline would: record, then trigger.
func (h *harness) probe(t *testing.T, name string, success float64) []labels.Labels {
	t.Helper()
	ls := labels.FromStrings("__name__", "probe_success", "probe", name, "kind", "http", "replica", "eu-1", "service", "api")
	require.NoError(t, h.rec.Record(h.clock.Now(), []Sample{{Labels: ls, Value: success}}))
	h.ev.Trigger([]labels.Labels{ls})
	return []labels.Labels{ls}
}

// step records a probe result and runs one evaluation pass.
func (h *harness) step(t *testing.T, success float64) []*model.Alert {
	t.Helper()
	h.probe(t, "api", success)
	h.ev.pass(context.Background(), false)
	return h.out.take()
}

const failingRule = `groups:
- name: liveness
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
    for: 1m
    labels:
      severity: page
    annotations:
      summary: 'Probe {{ $labels.probe }} failing on {{ $externalLabels.replica }} (value {{ $value }})'
`

func TestForPendingFiringResolved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, writeRules(t, dir, failingRule), clock)
	defer h.close(t)

	require.Empty(t, h.step(t, 0), "pending alerts are not sent")
	clock.Add(30 * time.Second)
	require.Empty(t, h.step(t, 0))
	fireAt := clock.Add(30 * time.Second)
	got := h.step(t, 0)
	require.Len(t, got, 1)
	a := got[0]
	require.Equal(t, model.LabelSet{
		"alertname": "ProbeFailing", "severity": "page", "probe": "api", "kind": "http",
		"replica": "eu-1", "service": "api", "team": "iot",
	}, a.Labels)
	require.Equal(t, model.LabelValue("Probe api failing on eu-1 (value 0)"), a.Annotations["summary"])
	require.Equal(t, fireAt, a.StartsAt)
	require.True(t, a.EndsAt.After(fireAt), "a firing alert is valid for a while")
	require.Equal(t, "http://tocsin.example:9797/probes/api", a.GeneratorURL, "an alert about a probe links to its page")

	// Still failing: not resent before the resend delay.
	clock.Add(10 * time.Second)
	require.Empty(t, h.step(t, 0))

	// ALERTS is written like Prometheus does.
	requireSeries(t, h.rec, clock.Now(), `ALERTS{alertname="ProbeFailing",alertstate="firing"}`, 1)

	// Recovery resolves and sends the resolved alert at once.
	resolvedAt := clock.Add(5 * time.Second)
	got = h.step(t, 1)
	require.Len(t, got, 1)
	require.Equal(t, resolvedAt, got[0].EndsAt)
	require.Equal(t, fireAt, got[0].StartsAt)

	// The resolved alert is sent again after the resend delay.
	clock.Add(DefaultResendDelay + time.Second)
	got = h.step(t, 1)
	require.Len(t, got, 1)
	require.Equal(t, resolvedAt, got[0].EndsAt)

	// And forgotten after 15 minutes.
	clock.Add(16 * time.Minute)
	require.Empty(t, h.step(t, 1))
	clock.Add(2 * time.Minute)
	require.Empty(t, h.step(t, 1))
}

func TestKeepFiringFor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, writeRules(t, dir, `groups:
- name: g
  rules:
  - alert: Flapping
    expr: probe_success == 0
    keep_firing_for: 2m
`), clock)
	defer h.close(t)

	got := h.step(t, 0)
	require.Len(t, got, 1)
	require.True(t, got[0].EndsAt.After(clock.Now()))

	clock.Add(time.Minute)
	h.step(t, 1)
	require.Equal(t, 1, firingCount(h.ev), "keeps firing within keep_firing_for")

	clock.Add(time.Minute)
	h.step(t, 1)
	require.Equal(t, 1, firingCount(h.ev), "keep_firing_for counts from when the condition stopped")

	clock.Add(time.Minute)
	got = h.step(t, 1)
	require.Equal(t, 0, firingCount(h.ev))
	require.Len(t, got, 1)
	require.Equal(t, clock.Now(), got[0].EndsAt, "resolved once keep_firing_for has passed")
}

func firingCount(ev *Evaluator) int {
	n := 0
	for _, g := range ev.Groups() {
		for _, r := range g.AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if a.State.String() == "firing" {
					n++
				}
			}
		}
	}
	return n
}

func TestRestoreForStateAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rulesFile := writeRules(t, dir, `groups:
- name: g
  rules:
  - alert: Slow
    expr: probe_success == 0
    for: 10m
`)
	clock := &fakeClock{t: t0}

	// First life: failing from t0, firing at t0+10m.
	h := newHarness(t, dir, rulesFile, clock)
	for range 10 {
		require.Empty(t, h.step(t, 0))
		clock.Add(time.Minute)
	}
	require.Len(t, h.step(t, 0), 1)
	h.close(t)

	// Down for two minutes; the alert fires again at once after restart
	// rather than after another ten minutes of pending.
	clock.Add(2 * time.Minute)
	h = newHarness(t, dir, rulesFile, clock)
	got := h.step(t, 0)
	require.Len(t, got, 1)
	// The evaluation that restored the state is repeated a millisecond
	// later, and that one fires.
	require.Equal(t, clock.Now().Add(time.Millisecond), got[0].StartsAt)
	h.close(t)

	// A fresh store has no state to restore: pending again.
	fresh := newHarness(t, t.TempDir(), rulesFile, clock)
	defer fresh.close(t)
	require.Empty(t, fresh.step(t, 0))
}

func TestRestorePendingKeepsTimeSpent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rulesFile := writeRules(t, dir, `groups:
- name: g
  rules:
  - alert: Slow
    expr: probe_success == 0
    for: 10m
`)
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, rulesFile, clock)
	for range 4 { // pending at t0, +1m, +2m, +3m
		require.Empty(t, h.step(t, 0))
		clock.Add(time.Minute)
	}
	h.close(t)

	// Restart at t0+5m: 3m spent pending before the outage count.
	clock.Add(time.Minute)
	h = newHarness(t, dir, rulesFile, clock)
	defer h.close(t)
	require.Empty(t, h.step(t, 0))
	clock.Add(6*time.Minute + 59*time.Second)
	require.Empty(t, h.step(t, 0))
	clock.Add(time.Second)
	require.Len(t, h.step(t, 0), 1, "fires 7m after restart: 10m for minus 3m already spent")
}

func TestTriggerEvaluatesOnlyReadingGroupsAtProbeTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rulesFile := writeRules(t, dir, `groups:
- name: probes
  rules:
  - alert: ProbeFailing
    expr: probe_success{probe="api"} == 0
- name: heartbeats
  rules:
  - alert: HeartbeatMissing
    expr: time() - heartbeat_last_received_timestamp_seconds > 120
`)
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, rulesFile, clock)
	defer h.close(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ev.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	// The start-up pass evaluates every group once; the interval (1h)
	// is far away, so from here on only triggers evaluate.
	require.Eventually(t, func() bool { return lastEval(h.ev, "heartbeats").Equal(t0) }, 10*time.Second, time.Millisecond)

	probeAt := clock.Add(1500 * time.Millisecond)
	h.probe(t, "api", 0)
	select {
	case got := <-h.out.ch:
		require.Len(t, got, 1)
		require.Equal(t, probeAt, got[0].StartsAt, "decided at the probe's time, not at the next tick")
	case <-time.After(10 * time.Second):
		t.Fatal("no alert after the trigger")
	}
	require.Equal(t, t0, lastEval(h.ev, "heartbeats"), "a group that does not read the series is not evaluated")
	require.Equal(t, probeAt, lastEval(h.ev, "probes"))

	// A series no group reads triggers nothing.
	h.ev.Trigger([]labels.Labels{labels.FromStrings("__name__", "probe_success", "probe", "other")})
	h.ev.pendMu.Lock()
	require.Empty(t, h.ev.pending)
	h.ev.pendMu.Unlock()
}

func TestTriggersCoalesce(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: t0}
	reg := prometheus.NewRegistry()
	ev := failingRuleEvaluator(t, clock, reg, time.Hour)
	ev.pass(context.Background(), false) // start-up evaluation
	series := []labels.Labels{labels.FromStrings("__name__", "probe_success", "probe", "api")}
	before := counterValue(t, reg, "prometheus_rule_evaluations_total")
	for range 50 {
		ev.Trigger(series)
	}
	clock.Add(time.Second)
	ev.pass(context.Background(), false)
	require.Equal(t, before+1, counterValue(t, reg, "prometheus_rule_evaluations_total"), "50 triggers, one evaluation")
}

// counterValue sums a counter family of reg.
func counterValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func lastEval(ev *Evaluator, name string) time.Time {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, g := range ev.set.groups {
		if g.g.Name() == name {
			return g.last
		}
	}
	return time.Time{}
}

func TestGroupIntervalSchedulesTicks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rulesFile := writeRules(t, dir, `groups:
- name: fast
  interval: 10s
  rules:
  - record: r1
    expr: vector(1)
- name: slow
  rules:
  - record: r2
    expr: vector(2)
`)
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, rulesFile, clock)
	defer h.close(t)
	wait := h.ev.pass(context.Background(), false)
	require.Equal(t, 10*time.Second, wait)
	clock.Add(10 * time.Second)
	h.ev.pass(context.Background(), false)
	require.Equal(t, t0.Add(10*time.Second), lastEval(h.ev, "fast"))
	require.Equal(t, t0, lastEval(h.ev, "slow"))
	requireSeries(t, h.rec, clock.Now(), `r1`, 1)
}

func TestLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, writeRules(t, dir, `groups:
- name: g
  limit: 1
  rules:
  - alert: Down
    expr: probe_success == 0
`), clock)
	defer h.close(t)
	h.probe(t, "a", 0)
	h.probe(t, "b", 0)
	h.ev.pass(context.Background(), false)
	require.Empty(t, h.out.take())
	rule := h.ev.Groups()[0].Rules()[0]
	require.ErrorContains(t, rule.LastError(), "exceeded limit of 1 with 2 alerts")
}

func TestUpdateKeepsOldRulesOnError(t *testing.T) {
	t.Parallel()
	h, clock := startHarness(t, failingRule)
	good := h.rules
	h.step(t, 0)

	bad := filepath.Join(h.dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: up ==\n"), 0o600))
	err := h.ev.Update(good, bad)
	var diags Diagnostics
	require.ErrorAs(t, err, &diags)
	require.Equal(t, bad, diags[0].File)
	require.Equal(t, 5, diags[0].Line)
	require.Equal(t, []string{good}, h.ev.Files())

	// A changed rule keeps the pending alert's state.
	require.NoError(t, os.WriteFile(good, []byte(failingRule+"  - alert: Other\n    expr: vector(0) > 1\n"), 0o600))
	require.NoError(t, h.ev.Update(good))
	clock.Add(time.Minute)
	require.Len(t, h.step(t, 0), 1, "the `for` already spent survives the reload")
}

// requireSeries asserts that an instant query returns n series.
func requireSeries(t *testing.T, rec *Recorder, at time.Time, query string, n int) {
	t.Helper()
	ev, err := NewEvaluator(EvaluatorOptions{Storage: rec, Alerts: func(context.Context, []*model.Alert) {}})
	require.NoError(t, err)
	q, err := ev.engine.NewInstantQuery(context.Background(), rec, nil, query, at)
	require.NoError(t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err)
	v, err := res.Vector()
	require.NoError(t, err)
	require.Len(t, v, n, "%s", v)
}

func TestEveryEvaluationMovesTheGroupMetrics(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: t0}
	reg := prometheus.NewRegistry()
	ev := failingRuleEvaluator(t, clock, reg, time.Minute)
	series := []labels.Labels{labels.FromStrings("__name__", "probe_success", "probe", "api")}

	iterations := func() float64 { return counterValue(t, reg, "prometheus_rule_group_iterations_total") }
	lastEvalTS := func() float64 { return gaugeValue(t, reg, "prometheus_rule_group_last_evaluation_timestamp_seconds") }
	lastDuration := func() float64 { return gaugeValue(t, reg, "prometheus_rule_group_last_duration_seconds") }
	require.Zero(t, iterations())

	steps := []struct {
		name string
		run  func()
	}{
		{"start-up", func() { ev.pass(context.Background(), false) }},
		{"triggered", func() { clock.Add(time.Second); ev.Trigger(series); ev.pass(context.Background(), false) }},
		{"on the tick", func() { clock.Add(time.Minute); ev.pass(context.Background(), false) }},
	}
	for i, s := range steps {
		before := lastEvalTS()
		s.run()
		require.Equal(t, float64(i+1), iterations(), s.name)
		require.Greater(t, lastEvalTS(), before, s.name)
		require.Positive(t, lastDuration(), s.name)
	}
}

// gaugeValue is the largest value of a gauge family of reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				out = max(out, m.GetGauge().GetValue())
			}
		}
	}
	return out
}

// TestRestartDoesNotPageFromOldSamples reopens a real TSDB directory: the
// failing samples of the previous life neither fire nor start a pending
// `for`, and neither does the shipped pack's ProbeResultsMissing; fresh
// failing samples fire after `for` as always.
func TestRestartDoesNotPageFromOldSamples(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pack, err := os.ReadFile("../configs/rules/liveness.yml")
	require.NoError(t, err)
	rulesFile := writeRules(t, dir, string(pack))
	clock := &fakeClock{t: t0}
	probe := func(h *harness, success, roundtrip float64) {
		ls := labels.FromStrings("probe", "broker", "kind", "roundtrip", "replica", "eu-1", "service", "devices")
		b := labels.NewBuilder(ls)
		samples := []Sample{
			{Labels: b.Set("__name__", "probe_success").Labels(), Value: success},
			{Labels: b.Set("__name__", "probe_roundtrip_seconds").Labels(), Value: roundtrip},
		}
		require.NoError(t, h.rec.Record(clock.Now(), samples))
		h.ev.Trigger([]labels.Labels{samples[0].Labels, samples[1].Labels})
	}
	// Watchdog, the feed of the dead-man's switch, fires always.
	firing := func(h *harness) []string {
		var names []string
		for _, a := range h.out.take() {
			if a.EndsAt.After(clock.Now()) && a.Labels["alertname"] != "Watchdog" {
				names = append(names, string(a.Labels["alertname"]))
			}
		}
		return names
	}

	// First life: failing, and slow before that, for ten seconds (not
	// yet the 15s of ProbeFailing's `for`), then tocsin stops.
	h := newHarness(t, dir, rulesFile, clock)
	for range 5 {
		probe(h, 0, 3)
		h.ev.pass(context.Background(), false)
		clock.Add(2 * time.Second)
	}
	require.Empty(t, firing(h))
	h.close(t)

	// Down for two minutes; meanwhile the probe recovered. The first
	// evaluations after the start, before and long after the old
	// failure's `for` would have passed, page nothing.
	clock.Add(2 * time.Minute)
	h = newHarness(t, dir, rulesFile, clock)
	defer h.close(t)
	h.ev.pass(context.Background(), false)
	require.Empty(t, firing(h), "no page from samples older than the start")
	for range 14 { // past the restore window, so `for` starts afresh below
		clock.Add(5 * time.Second)
		h.ev.EvaluateAll(context.Background())
		require.Empty(t, firing(h), "no pending `for` from old samples, no ProbeResultsMissing")
	}
	require.Equal(t, 1, firingCount(h.ev), "only Watchdog")

	// Fresh failures after the start fire after `for`, as always.
	clock.Add(time.Second)
	for range 8 {
		probe(h, 0, 0.1)
		h.ev.pass(context.Background(), false)
		require.Empty(t, firing(h))
		clock.Add(2 * time.Second)
	}
	probe(h, 0, 0.1)
	h.ev.pass(context.Background(), false)
	require.Equal(t, []string{"ProbeFailing"}, firing(h))
}

// TestRestoreBringsBackTheExactPreviousRules: a set that was swapped in and
// evaluated (its changed group shares the alerts of the old one) is undone
// by Restore: the old rules, their alerts as they were at the swap, even
// though the file now holds the new content.
func TestRestoreBringsBackTheExactPreviousRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	file := writeRules(t, dir, failingRule) // for: 1m
	h := newHarness(t, dir, file, clock)
	defer h.close(t)
	require.Empty(t, h.step(t, 0))
	require.Empty(t, h.step(t, 0))

	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(failingRule, "for: 1m", "for: 10s", 1)), 0o600))
	next, err := h.ev.Load(file)
	require.NoError(t, err)
	require.Equal(t, time.Minute, h.ev.Groups()[0].AlertingRules()[0].HoldDuration(), "Load puts nothing in force")
	prev := h.ev.Swap(next)
	clock.Add(30 * time.Second)
	require.Len(t, h.step(t, 0), 1, "the new rule fires: 30s pending of its 10s")

	h.ev.Restore(prev)
	rule := h.ev.Groups()[0].AlertingRules()[0]
	require.Equal(t, time.Minute, rule.HoldDuration())
	alerts := rule.ActiveAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, "pending", alerts[0].State.String())
	require.Equal(t, t0, alerts[0].ActiveAt)
	require.True(t, alerts[0].FiredAt.IsZero())
	clock.Add(29 * time.Second)
	require.Empty(t, h.step(t, 0), "59s pending of the restored rule's minute")
	clock.Add(time.Second)
	require.Len(t, h.step(t, 0), 1)
}

// TestTriggersAreSpacedPerGroup: the first trigger after a quiet spell
// evaluates at once; triggers within the spacing wait for one evaluation
// at its end; a group whose rules read the series only over a range is
// left to its interval.
func TestTriggersAreSpacedPerGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	h := newHarness(t, dir, writeRules(t, dir, `groups:
- name: failing
  rules:
  - alert: Failing
    expr: probe_success == 0
- name: missing
  rules:
  - alert: Missing
    expr: present_over_time(probe_success[1h]) unless present_over_time(probe_success[1m])
`), clock)
	defer h.close(t)
	ctx := context.Background()
	h.ev.pass(ctx, false) // start-up evaluation of both groups

	steps := []struct {
		advance time.Duration
		failing time.Time     // last evaluation of the group "failing" after the pass
		wait    time.Duration // until the pass is needed again
	}{
		{time.Second, t0.Add(time.Second), time.Hour - time.Second},                                 // quiet before: at once
		{100 * time.Millisecond, t0.Add(time.Second), 150 * time.Millisecond},                       // held until 250ms after
		{100 * time.Millisecond, t0.Add(time.Second), 50 * time.Millisecond},                        // still held
		{50 * time.Millisecond, t0.Add(1250 * time.Millisecond), time.Hour - 1250*time.Millisecond}, // one evaluation for three triggers
	}
	for i, s := range steps {
		clock.Add(s.advance)
		h.probe(t, "api", 0)
		require.Equal(t, s.wait, h.ev.pass(ctx, false), "step %d", i)
		require.Equal(t, s.failing, lastEval(h.ev, "failing"), "step %d", i)
		require.Equal(t, t0, lastEval(h.ev, "missing"), "step %d: range-only rules wait for the tick", i)
	}
}

// failingRuleEvaluator evaluates failingRule every interval over a TSDB in
// a temp dir, on clock, with its metrics in reg.
func failingRuleEvaluator(t *testing.T, clock *fakeClock, reg *prometheus.Registry, interval time.Duration) *Evaluator {
	t.Helper()
	dir := t.TempDir()
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(dir, "tsdb")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rec.Close()) })
	ev, err := NewEvaluator(EvaluatorOptions{
		Files:      []string{writeRules(t, dir, failingRule)},
		Interval:   interval,
		Storage:    rec,
		Alerts:     func(context.Context, []*model.Alert) {},
		Now:        clock.Now,
		Registerer: reg,
	})
	require.NoError(t, err)
	return ev
}

// TestPendingAlertFiresWhenItsForRunsOut: with no trigger or tick in
// between, the group is evaluated the moment a pending alert's `for` runs
// out, but not sooner than the minimum spacing after its last evaluation.
func TestPendingAlertFiresWhenItsForRunsOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hold, wait time.Duration
	}{
		{15 * time.Second, 15 * time.Second},
		{100 * time.Millisecond, DefaultMinTriggerSpacing},
	}
	for _, tc := range tests {
		t.Run(tc.hold.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clock := &fakeClock{t: t0}
			h := newHarness(t, dir, writeRules(t, dir, fmt.Sprintf(`groups:
- name: liveness
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
    for: %s
`, model.Duration(tc.hold))), clock)
			defer h.close(t)
			ctx := context.Background()
			h.ev.pass(ctx, false) // start-up evaluation

			clock.Add(time.Second)
			h.probe(t, "api", 0)
			require.Equal(t, tc.wait, h.ev.pass(ctx, false), "pending: the next pass is when its for runs out")
			require.Empty(t, h.out.take())

			at := clock.Add(tc.wait)
			h.ev.pass(ctx, false)
			alerts := h.out.take()
			require.Len(t, alerts, 1)
			require.Equal(t, at, alerts[0].StartsAt)
		})
	}
}

func TestGroupsThatMayPageAreEvaluatedFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	file := writeRules(t, dir, `groups:
- name: a-regular
  interval: 1s
  rules:
  - alert: Always
    expr: vector(1)
- name: b-probes
  interval: 1h
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
`)
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(dir, "tsdb")})
	require.NoError(t, err)
	defer func() { require.NoError(t, rec.Close()) }()
	var order []string
	ev, err := NewEvaluator(EvaluatorOptions{
		Files:   []string{file},
		Storage: rec,
		Alerts: func(_ context.Context, as []*model.Alert) {
			order = append(order, string(as[0].Labels[model.AlertNameLabel]))
		},
		Now:            clock.Now,
		ResendDelay:    time.Nanosecond, // every evaluation sends
		MaxConcurrency: 1,
	})
	require.NoError(t, err)
	ctx := context.Background()
	ev.pass(ctx, false)
	require.Equal(t, []string{"Always"}, order)

	// a-regular is due on its interval, b-probes is woken by a failure:
	// b-probes goes first, though a-regular sorts before it.
	order = nil
	now := clock.Add(time.Second)
	ls := labels.FromStrings("__name__", "probe_success", "probe", "api")
	require.NoError(t, rec.Record(now, []Sample{{Labels: ls, Value: 0}}))
	ev.Trigger([]labels.Labels{ls})
	ev.pass(ctx, false)
	require.Equal(t, []string{"ProbeFailing", "Always"}, order)
}

// TestAlertsLeaveRuleByRule: a firing alert is handed on as soon as its
// rule is evaluated, as Prometheus sends alerts, not after the rest of its
// group (the group's other rules, its ALERTS samples): one call per rule,
// in the rules' order.
func TestAlertsLeaveRuleByRule(t *testing.T) {
	t.Parallel()
	const rules = `groups:
- name: liveness
  rules:
  - alert: First
    expr: probe_success == 0
  - alert: Second
    expr: probe_success == 0
`
	h, _ := startHarness(t, rules)
	h.probe(t, "api", 0)
	h.ev.pass(context.Background(), false)

	var calls [][]string
	for len(h.out.ch) > 0 {
		var names []string
		for _, a := range <-h.out.ch {
			names = append(names, string(a.Labels[model.AlertNameLabel]))
		}
		calls = append(calls, names)
	}
	require.Equal(t, [][]string{{"First"}, {"Second"}}, calls)
}
