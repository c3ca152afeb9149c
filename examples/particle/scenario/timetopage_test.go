package scenario_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

// Settings of the time-to-page measurement. The probe timeout is the
// largest tocsin accepts below the interval.
const (
	ttpInterval = time.Second
	ttpTimeout  = 900 * time.Millisecond
	// ttpRecoverWithin bounds the wait for the probe to succeed again and
	// for the resolve to be delivered after healing.
	ttpRecoverWithin = 30 * time.Second
	// ttpPageWithin bounds the wait for a page after a break.
	ttpPageWithin = 15 * time.Second
)

// ttpRules pages on the first failed broker round trip.
const ttpRules = `groups:
- name: time-to-page
  rules:
  - alert: BrokerRoundTripFailing
    expr: probe_success{probe="broker-roundtrip"} == 0
    for: 0s
    labels: {severity: page}
    annotations: {summary: 'messages no longer pass through the broker'}
`

// failureShape is one way the broker stops relaying, and its cure.
type failureShape struct {
	name        string
	brk         func(*devicecloud.DeviceCloud)
	heal        func(*devicecloud.DeviceCloud) error
	median, max time.Duration // goals
}

var failureShapes = []failureShape{
	{
		name:   "refused",
		brk:    (*devicecloud.DeviceCloud).StopBroker,
		heal:   (*devicecloud.DeviceCloud).StartBroker,
		median: 150 * time.Millisecond, max: 300 * time.Millisecond,
	},
	{
		name:   "killed-hanging",
		brk:    (*devicecloud.DeviceCloud).KillBrokerLeavingHang,
		heal:   func(dc *devicecloud.DeviceCloud) error { dc.UnhangBroker(); return nil },
		median: ttpTimeout + 150*time.Millisecond, max: ttpTimeout + 300*time.Millisecond,
	},
	{
		name:   "hang",
		brk:    (*devicecloud.DeviceCloud).HangBroker,
		heal:   func(dc *devicecloud.DeviceCloud) error { dc.UnhangBroker(); return nil },
		median: 1600 * time.Millisecond, max: 2100 * time.Millisecond,
	},
	{
		name:   "drop",
		brk:    (*devicecloud.DeviceCloud).BreakRelay,
		heal:   func(dc *devicecloud.DeviceCloud) error { dc.HealRelay(); return nil },
		median: 1600 * time.Millisecond, max: 2100 * time.Millisecond,
	},
}

// BenchmarkTimeToPage measures, for each failure shape, the time from the
// moment the broker stops relaying to the moment the first fake vendor
// accepts the page, over a number of breaks at phases spread over the probe
// schedule (TOCSIN_TTP_BREAKS, default 20). It also reports tocsin's own
// part: from the completion of the probe run that decided to the vendor's
// acceptance. The breaks run once per benchmark, whatever b.N is, because
// each takes seconds of real time.
func BenchmarkTimeToPage(b *testing.B) {
	breaks := 20
	if v := os.Getenv("TOCSIN_TTP_BREAKS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("TOCSIN_TTP_BREAKS=%q: want a positive number", v)
		}
		breaks = n
	}
	for _, shape := range failureShapes {
		b.Run(shape.name, func(b *testing.B) {
			m := measureTimeToPage(b, shape, breaks)
			total, own := summarize(m.total), summarize(m.own)
			b.ReportMetric(total.median.Seconds(), "median-s")
			b.ReportMetric(total.max.Seconds(), "max-s")
			b.ReportMetric(float64(own.median.Microseconds())/1000, "own-median-ms")
			b.ReportMetric(float64(own.max.Microseconds())/1000, "own-max-ms")
			b.ReportMetric(float64(len(m.total)), "breaks")
			b.Logf("%s: time to page median %s max %s (goal %s / %s); own part median %s max %s; reasons %v",
				shape.name, total.median, total.max, shape.median, shape.max, own.median, own.max, m.reasons)
			if os.Getenv("TOCSIN_TTP_VERBOSE") != "" {
				for i := range m.total {
					b.Logf("break %2d: page after %s, own part %s", i+1, m.total[i], m.own[i])
				}
			}
		})
	}
}

// ttpMeasurement holds one time per break.
type ttpMeasurement struct {
	total, own []time.Duration
	reasons    map[probes.Reason]int // reason of the deciding probe run
}

// ttpWatch follows pages and probe results across breaks.
type ttpWatch struct {
	mu       sync.Mutex
	breakAt  time.Time // zero while healthy
	decided  time.Time // completion of the first failing run after the break
	reason   probes.Reason
	paged    chan time.Time
	ok       chan struct{} // a successful run after healing
	resolved chan struct{}
	slot     time.Time // start of the latest successful run: the schedule's phase
	events   []string  // what happened since the break, for TOCSIN_TTP_VERBOSE
}

func (w *ttpWatch) note(format string, args ...any) {
	if !w.breakAt.IsZero() {
		w.events = append(w.events, fmt.Sprintf("%8.1fms ", float64(time.Since(w.breakAt).Microseconds())/1000)+fmt.Sprintf(format, args...))
	}
}

func (w *ttpWatch) onResult(r probes.Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	done := r.Time.Add(r.Duration)
	w.note("result success=%v reason=%s done at %.1fms", r.Success, r.Reason, float64(done.Sub(w.breakAt).Microseconds())/1000)
	switch {
	case r.Success:
		w.slot = r.Time
		select {
		case w.ok <- struct{}{}:
		default:
		}
	case !w.breakAt.IsZero() && w.decided.IsZero() && !done.Before(w.breakAt):
		w.decided, w.reason = done, r.Reason
	}
}

func (w *ttpWatch) onPage(p notifiertest.Page) {
	now := time.Now()
	w.mu.Lock()
	w.note("page %s %s resolved=%v", p.Vendor, p.Action, p.Resolved)
	w.mu.Unlock()
	if p.Resolved {
		select {
		case w.resolved <- struct{}{}:
		default:
		}
		return
	}
	select {
	case w.paged <- now:
	default: // a later vendor's copy of the same page
	}
}

func measureTimeToPage(b *testing.B, shape failureShape, breaks int) ttpMeasurement {
	b.Helper()
	w := &ttpWatch{paged: make(chan time.Time, 1), ok: make(chan struct{}, 1), resolved: make(chan struct{}, 1)}
	s, err := scenario.Start(scenario.Options{
		Dir:           b.TempDir(),
		Interval:      ttpInterval,
		Timeout:       ttpTimeout,
		Rules:         ttpRules,
		Probes:        []string{scenario.ProbeBrokerRoundTrip},
		GroupInterval: 200 * time.Millisecond, // resolves arrive quickly between breaks
		OnPage:        w.onPage,
		OnResult:      w.onResult,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	m := ttpMeasurement{reasons: map[probes.Reason]int{}}
	waitOK := func(what string) {
		drain(w.ok)
		select {
		case <-w.ok:
		case <-time.After(ttpRecoverWithin):
			b.Fatalf("%s: the broker round trip did not succeed within %s", what, ttpRecoverWithin)
		}
	}
	waitOK("start")
	phases := spreadPhases(breaks)
	for i := range breaks {
		w.mu.Lock()
		slot := w.slot
		w.mu.Unlock()
		time.Sleep(untilPhase(slot, phases[i], time.Now()))
		drain(w.paged)
		drain(w.resolved)
		w.mu.Lock()
		w.breakAt, w.decided, w.events = time.Now(), time.Time{}, nil
		breakAt := w.breakAt
		shape.brk(s.Cloud)
		w.mu.Unlock()

		var pagedAt time.Time
		select {
		case pagedAt = <-w.paged:
		case <-time.After(ttpPageWithin):
			b.Fatalf("break %d (%s): no page within %s", i+1, shape.name, ttpPageWithin)
		}
		time.Sleep(20 * time.Millisecond) // let the other vendors' copies show in the events
		w.mu.Lock()
		decided, reason, events := w.decided, w.reason, w.events
		w.breakAt = time.Time{}
		w.mu.Unlock()
		if os.Getenv("TOCSIN_TTP_VERBOSE") != "" && pagedAt.Sub(decided) > 50*time.Millisecond {
			b.Logf("break %d: slow own part:\n%s", i+1, strings.Join(events, "\n"))
		}
		if decided.IsZero() {
			b.Fatalf("break %d (%s): paged without a failing probe run", i+1, shape.name)
		}
		m.total = append(m.total, pagedAt.Sub(breakAt))
		m.own = append(m.own, pagedAt.Sub(decided))
		m.reasons[reason]++

		if err := shape.heal(s.Cloud); err != nil {
			b.Fatal(err)
		}
		waitOK(fmt.Sprintf("break %d (%s): heal", i+1, shape.name))
		select {
		case <-w.resolved:
		case <-time.After(ttpRecoverWithin):
			b.Fatalf("break %d (%s): no resolve within %s", i+1, shape.name, ttpRecoverWithin)
		}
		// The next break must open a new alert group, so that group_wait
		// (0s) applies again rather than the old group's group_interval.
		waitNoGroups(b, s)
	}
	return m
}

// spreadPhases returns n phases of the probe interval, one at a random
// point of each n-th of it, in random order: every phase is as likely as
// with independent draws, but the n breaks cover the interval evenly, so
// that the median of 20 breaks is not at the mercy of a few draws.
func spreadPhases(n int) []time.Duration {
	phases := make([]time.Duration, n)
	width := ttpInterval / time.Duration(n)
	for k := range phases {
		phases[k] = time.Duration(k)*width + rand.N(width)
	}
	rand.Shuffle(n, func(i, j int) { phases[i], phases[j] = phases[j], phases[i] })
	return phases
}

// untilPhase is how long to wait from now until phase past the start of a
// probe run, with runs starting every ttpInterval from slot; it leaves at
// least 100ms so that the current run has ended.
func untilPhase(slot time.Time, phase time.Duration, now time.Time) time.Duration {
	at := slot.Add(phase)
	for at.Before(now.Add(100 * time.Millisecond)) {
		at = at.Add(ttpInterval)
	}
	return at.Sub(now)
}

// waitNoGroups waits until the dispatcher holds no alert group.
func waitNoGroups(b *testing.B, s *scenario.Scenario) {
	b.Helper()
	deadline := time.Now().Add(ttpRecoverWithin)
	for {
		mfs, err := s.Registry.Gather()
		if err != nil {
			b.Fatal(err)
		}
		groups := -1.0
		for _, mf := range mfs {
			if mf.GetName() == "tocsin_dispatcher_aggregation_groups" {
				groups = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if groups == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the dispatcher still holds %v alert groups after %s", groups, ttpRecoverWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

type stats struct{ median, max time.Duration }

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{median: med, max: s[len(s)-1]}
}
