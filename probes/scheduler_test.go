package probes

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// holdingServer accepts connections and holds them open until the client
// closes, counting the most held at once.
type holdingServer struct {
	ln          net.Listener
	wg          sync.WaitGroup
	active, max atomic.Int32
	total       atomic.Int32
}

func newHoldingServer(t *testing.T) *holdingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &holdingServer{ln: ln}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.total.Add(1)
			n := h.active.Add(1)
			for {
				m := h.max.Load()
				if n <= m || h.max.CompareAndSwap(m, n) {
					break
				}
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				_, _ = io.Copy(io.Discard, c)
				h.active.Add(-1)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); h.wg.Wait() })
	return h
}

func tcpProbe(name, addr string, expect string) *configs.ProbeConfig {
	return &configs.ProbeConfig{Name: name, Interval: model.Duration(60 * time.Millisecond), Timeout: model.Duration(30 * time.Millisecond),
		TCP: &configs.TCPProbe{Address: addr, Expect: expect}}
}

func startScheduler(t *testing.T, probes []*configs.ProbeConfig, opts SchedulerOptions) (*Scheduler, chan Result) {
	results := make(chan Result, 1000)
	opts.Replica = testReplica
	opts.Sink = func(r Result) {
		select {
		case results <- r:
		default:
		}
	}
	s, err := NewScheduler(probes, opts)
	require.NoError(t, err)
	runUntilCleanup(t, s)
	return s, results
}

// runUntilCleanup runs s until the test ends.
func runUntilCleanup(t testing.TB, s *Scheduler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// waitFor reads results until every named probe has delivered n of them.
func waitFor(t *testing.T, results chan Result, n int, names ...string) map[string]Result {
	t.Helper()
	seen := map[string]int{}
	last := map[string]Result{}
	timeout := time.After(10 * time.Second)
	for {
		done := true
		for _, name := range names {
			if seen[name] < n {
				done = false
			}
		}
		if done {
			return last
		}
		select {
		case r := <-results:
			seen[r.Probe]++
			last[r.Probe] = r
		case <-timeout:
			t.Fatalf("timed out waiting for %v; seen %v", names, seen)
		}
	}
}

func TestSchedulerRunsUpdatesAndCollects(t *testing.T) {
	t.Parallel()
	srv := newHoldingServer(t)
	addr := srv.ln.Addr().String()
	s, results := startScheduler(t, []*configs.ProbeConfig{tcpProbe("a", addr, ""), tcpProbe("b", addr, ""), tcpProbe("c", addr, "")}, SchedulerOptions{})
	got := waitFor(t, results, 2, "a", "b", "c")
	require.True(t, got["a"].Success, got["a"].Detail)

	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP probe_success Whether the probe's last run succeeded.
# TYPE probe_success gauge
probe_success{kind="tcp",probe="a",replica="test-1"} 1
probe_success{kind="tcp",probe="b",replica="test-1"} 1
probe_success{kind="tcp",probe="c",replica="test-1"} 1
`), "probe_success"))

	s.mu.Lock()
	unchanged := s.runners["a"].prober
	s.mu.Unlock()
	// b is removed, c changes (it now expects a line that never comes), d is new.
	require.NoError(t, s.Update([]*configs.ProbeConfig{tcpProbe("a", addr, ""), tcpProbe("c", addr, "never"), tcpProbe("d", addr, "")}))
	s.mu.Lock()
	require.Same(t, unchanged, s.runners["a"].prober)
	require.NotContains(t, s.runners, "b")
	s.mu.Unlock()
	for {
		got = waitFor(t, results, 1, "c", "d")
		if got["c"].Reason != "" {
			break
		}
	}
	require.Equal(t, ReasonTimeout, got["c"].Reason)
	require.Equal(t, 3, testutil.CollectAndCount(s, "probe_success"))

	// A probe that cannot be built leaves everything as it was.
	bad := tcpProbe("e", addr, "")
	bad.TCP.Expect = "("
	require.Error(t, s.Update([]*configs.ProbeConfig{bad}))
	s.mu.Lock()
	require.Len(t, s.runners, 3)
	s.mu.Unlock()
}

func TestSchedulerBoundsConcurrency(t *testing.T) {
	t.Parallel()
	srv := newHoldingServer(t)
	addr := srv.ln.Addr().String()
	var probes []*configs.ProbeConfig
	for _, name := range []string{"a", "b", "c", "d"} {
		probes = append(probes, tcpProbe(name, addr, "never")) // each run holds its connection until the timeout
	}
	_, results := startScheduler(t, probes, SchedulerOptions{MaxConcurrent: 1})
	var runs []Result
	for len(runs) < 8 {
		runs = append(runs, <-results)
	}
	// With one run at a time, no two runs overlap.
	slices.SortFunc(runs, func(a, b Result) int { return a.Time.Compare(b.Time) })
	for i := 1; i < len(runs); i++ {
		prevEnd := runs[i-1].Time.Add(runs[i-1].Duration)
		require.False(t, runs[i].Time.Before(prevEnd), "run %d of %s started before %s ended", i, runs[i].Probe, runs[i-1].Probe)
	}
}

func TestSchedulerHeartbeatIsRecordedAtOnce(t *testing.T) {
	t.Parallel()
	hb := &configs.ProbeConfig{Name: "hb", Interval: model.Duration(time.Hour), Timeout: model.Duration(time.Second),
		Heartbeat: &configs.HeartbeatProbe{Grace: model.Duration(time.Minute), Token: "t"}}
	s, results := startScheduler(t, []*configs.ProbeConfig{hb}, SchedulerOptions{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+HeartbeatPath+"hb", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	r := waitFor(t, results, 1, "hb")["hb"]
	require.True(t, r.Success)
	require.False(t, r.LastHeartbeat.IsZero())
}

func TestNextRunSpreadsAndSkipsMissedSlots(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0) // a multiple of 10s
	require.Equal(t, 3*time.Second, nextRun(now, 10*time.Second, 3*time.Second))
	require.Equal(t, 10*time.Second, nextRun(now, 10*time.Second, 0))
	require.Equal(t, 2*time.Second, nextRun(now.Add(11*time.Second), 10*time.Second, 3*time.Second))

	s := &Scheduler{opts: SchedulerOptions{Replica: "eu-1"}}
	offsets := map[time.Duration]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		o := s.offset(name, 10*time.Second)
		require.Less(t, o, 10*time.Second)
		offsets[o] = true
	}
	require.Greater(t, len(offsets), 3, "probes should not all start together")
}

// TestOnSlot: a scheduled run is recorded at its slot when it started within
// the tolerance of it, else at its start.
func TestOnSlot(t *testing.T) {
	due := time.Date(2026, 11, 30, 12, 0, 1, 250_000_000, time.UTC)
	for _, tc := range []struct {
		name  string
		start time.Time
		want  time.Time
	}{
		{"on the slot", due, due},
		{"late within tolerance", due.Add(1500 * time.Microsecond), due},
		{"at the tolerance", due.Add(timestampTolerance), due},
		{"early within tolerance", due.Add(-time.Millisecond), due},
		{"too late", due.Add(timestampTolerance + time.Microsecond), due.Add(timestampTolerance + time.Microsecond)},
		{"too early", due.Add(-3 * time.Millisecond), due.Add(-3 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, onSlot(tc.start, due))
		})
	}
}

// runProbers runs probers, by probe name, at interval in a scheduler; they
// are not built from configs, so that tests can stand in their own.
func runProbers(t testing.TB, interval time.Duration, probers map[string]Prober) *Scheduler {
	s, err := NewScheduler(nil, SchedulerOptions{Replica: testReplica})
	require.NoError(t, err)
	var intervals []time.Duration
	for name, p := range probers {
		cfg := &configs.ProbeConfig{Name: name, Interval: model.Duration(interval)}
		s.runners[name] = &runner{cfg: cfg, prober: p, dropRuns: probeDropLimiter(interval)}
		intervals = append(intervals, interval)
	}
	s.drops.setRate(time.Now(), intervals)
	runUntilCleanup(t, s)
	return s
}

// TestSchedulerKeepsNoGoroutinePerProbe: a thousand probes waiting for
// their slots and for their connections to drop take a few goroutines in
// all, not one each.
func TestSchedulerKeepsNoGoroutinePerProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := runtime.NumGoroutine()
		_, runs := startSignalProbers(t, 1000, time.Second)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Len(t, runs(), 1000, "every probe ran")
		require.Less(t, runtime.NumGoroutine()-before, 10)
	})
}

// heldProber records when each run starts and holds the run until the
// test releases it, whether or not the run is cancelled.
type heldProber struct {
	release chan struct{}
	closed  atomic.Bool
	mu      sync.Mutex
	runs    []time.Time
}

func newHeldProber() *heldProber { return &heldProber{release: make(chan struct{})} }

func (p *heldProber) Probe(context.Context) Result {
	now := time.Now()
	p.mu.Lock()
	p.runs = append(p.runs, now)
	p.mu.Unlock()
	<-p.release
	return Result{Probe: "held", Time: now}
}

func (p *heldProber) Close() { p.closed.Store(true) }

func (p *heldProber) started() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.runs)
}

type heldWaker struct {
	*heldProber
	w *signal
}

func (p heldWaker) wake() *signal { return p.w }

type heldDropper struct {
	*heldProber
	d *signal
}

func (p heldDropper) dropped() *signal { return p.d }

// TestSignalsDuringARun: wakes during a run run the probe once more right
// after it, and after that at once on every wake; drops during a run ask
// for one extra run after it, within the probe's maxDropRuns an interval.
func TestSignalsDuringARun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		probe func(*heldProber) (Prober, func())
		runs  int
	}{
		{"wake", func(h *heldProber) (Prober, func()) {
			p := heldWaker{h, newSignal()}
			return p, p.w.notify
		}, 3},
		{"drop", func(h *heldProber) (Prober, func()) {
			p := heldDropper{h, newSignal()}
			return p, p.d.notify
		}, maxDropRuns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				held := newHeldProber()
				p, signal := tc.probe(held)
				runProbers(t, time.Hour, map[string]Prober{"held": p})
				for range 3 { // the first starts a run, the others come during it
					signal()
					synctest.Wait()
				}
				require.Len(t, held.started(), 1)
				close(held.release)
				synctest.Wait()
				signal()
				synctest.Wait()
				require.Equal(t, slices.Repeat([]time.Time{start}, tc.runs), held.started())
			})
		})
	}
}

// TestUpdateWaitsForTheRunOfARemovedProbe: Update returns once the run of
// a probe it removes has ended, delivers nothing of it, and closes its
// prober.
func TestUpdateWaitsForTheRunOfARemovedProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		held := newHeldProber()
		p := heldWaker{held, newSignal()}
		s := runProbers(t, time.Hour, map[string]Prober{"held": p})
		p.w.notify()
		synctest.Wait()
		require.Len(t, held.started(), 1)

		updated := make(chan error)
		go func() { updated <- s.Update(nil) }()
		synctest.Wait()
		select {
		case <-updated:
			t.Fatal("Update returned while the removed probe's run went on")
		default:
		}
		require.False(t, held.closed.Load())
		close(held.release)
		require.NoError(t, <-updated)
		require.True(t, held.closed.Load())
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Empty(t, s.latest)
		require.Empty(t, s.queue)
	})
}

// TestSignalLeftBeforeTheSchedulerWatches: a wake that came before the
// scheduler watched the probe's signals is not lost; the probe runs at
// once when the scheduler starts watching.
func TestSignalLeftBeforeTheSchedulerWatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		held := newHeldProber()
		close(held.release)
		p := heldWaker{held, newSignal()}
		p.w.notify()
		start := time.Now()
		runProbers(t, time.Hour, map[string]Prober{"held": p})
		synctest.Wait()
		require.Equal(t, []time.Time{start}, held.started())
	})
}

// wakeCounter counts its runs, and says when one ended.
type wakeCounter struct {
	w   *signal
	ran chan struct{}
}

func (p *wakeCounter) Probe(context.Context) Result {
	notify(p.ran)
	return Result{Probe: "wake", Time: time.Now()}
}
func (p *wakeCounter) Close()        {}
func (p *wakeCounter) wake() *signal { return p.w }

// BenchmarkWakeAmong1000Probes is the time from a heartbeat's wake to the
// end of the run it starts, while the scheduler watches 1,000 probes that
// can be woken: what watching every probe's signals costs each one.
func BenchmarkWakeAmong1000Probes(b *testing.B) {
	probers := map[string]Prober{}
	all := make([]*wakeCounter, 1000)
	for i := range all {
		all[i] = &wakeCounter{w: newSignal(), ran: make(chan struct{}, 1)}
		probers[fmt.Sprintf("p%04d", i)] = all[i]
	}
	runProbers(b, time.Hour, probers)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := all[i%len(all)]
		select { // a run at the probe's own slot, if one came
		case <-p.ran:
		default:
		}
		p.w.notify()
		<-p.ran
	}
}
