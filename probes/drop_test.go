package probes

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

// stoppedClock is a scheduler clock standing at the start of a probe's
// slot, so that its next regular run is a whole interval away: any run the
// test sees was started by something else.
func stoppedClock(name string, interval time.Duration) func() time.Time {
	offset := (&Scheduler{opts: SchedulerOptions{Replica: testReplica}}).offset(name, interval)
	at := time.Unix(0, 0).Add(offset)
	return func() time.Time { return at }
}

// waitConnected waits until every broker connection of s is up.
func waitConnected(t *testing.T, s *Scheduler) {
	t.Helper()
	s.pools.mu.Lock()
	var states []*connState
	for _, c := range s.pools.mqtt {
		states = append(states, c.state)
	}
	for _, c := range s.pools.nats {
		states = append(states, c.state)
	}
	s.pools.mu.Unlock()
	require.NotEmpty(t, states)
	for _, st := range states {
		ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
		_, err := st.await(ctx)
		cancel()
		require.NoError(t, err)
	}
}

// TestProbeRunsWhenItsConnectionDrops closes the broker under a probe whose
// next regular run is an hour away: the drop alone must start a run, which
// finds the broker gone and fails with the refusal.
func TestProbeRunsWhenItsConnectionDrops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) (set func(*configs.ProbeConfig), stop func())
	}{
		{name: "mqtt 3.1.1", start: func(t *testing.T) (func(*configs.ProbeConfig), func()) {
			b := probetest.StartMQTT(t)
			return mqttRoundTrip(b.URL, configs.MQTTv311, 1, "canary/drop"), b.Close
		}},
		{name: "mqtt 5", start: func(t *testing.T) (func(*configs.ProbeConfig), func()) {
			b := probetest.StartMQTT(t)
			return mqttRoundTrip(b.URL, configs.MQTTv5, 1, "canary/drop"), b.Close
		}},
		{name: "nats", start: func(t *testing.T) (func(*configs.ProbeConfig), func()) {
			n := probetest.StartNATS(t)
			return func(p *configs.ProbeConfig) {
				tr := &configs.NATSTransport{URL: n.URL, Subject: "canary.drop"}
				p.RoundTrip = &configs.RoundTripProbe{Send: configs.RoundTripSend{NATS: tr}, Expect: configs.RoundTripExpect{NATS: tr}}
			}, n.Close
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, stop := tc.start(t)
			// A run that hangs ends well before waitFor gives up.
			cfg := &configs.ProbeConfig{Name: "drop", Interval: model.Duration(time.Hour), Timeout: model.Duration(hangGuard / 4)}
			set(cfg)
			s, results := startScheduler(t, []*configs.ProbeConfig{cfg}, SchedulerOptions{Now: stoppedClock(cfg.Name, time.Hour)})
			waitConnected(t, s)
			require.Empty(t, results, "no run is due for an hour")

			stop()
			r := waitFor(t, results, 1, "drop")["drop"]
			require.False(t, r.Success)
			require.Equal(t, ReasonConnect, r.Reason, r.Detail)
			// The broker drops its clients before it closes its
			// listener, so the run may reach the listener as it goes:
			// refused, reset, or accepted by a server that no longer
			// answers, until the run's timeout.
			require.Regexp(t, `connection (refused|reset by peer)|i/o timeout`, r.Detail)
		})
	}
}

// TestHTTPSenderSignalsAClosedKeepAlive checks the HTTP send side: a kept
// alive connection that the server closes signals a drop, and the run it
// starts sends on a new connection, not the dead one; a connection that
// tocsin closes itself signals nothing.
func TestHTTPSenderSignalsAClosedKeepAlive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer srv.Close()
	drops := newSignal()
	s, err := newHTTPSender(&configs.HTTPSend{URL: srv.URL, Method: http.MethodPost}, drops)
	require.NoError(t, err)

	_, err = s.send(t.Context(), []byte(`{}`))
	require.NoError(t, err)
	require.Empty(t, drops.ch)
	srv.CloseClientConnections()
	select {
	case <-drops.ch:
	case <-time.After(hangGuard):
		t.Fatal("the closed keep-alive connection was not signalled")
	}

	_, err = s.send(t.Context(), []byte(`{}`))
	require.NoError(t, err)
	s.close() // marks the idle connection closed before closing it
	require.Empty(t, drops.ch)
}

// signalProber answers at once and drops its connection when the test
// says so. It stands in for a broker probe inside a synctest bubble, whose
// fake clock cannot run with real network connections.
type signalProber struct {
	name  string
	drops *signal
	mu    *sync.Mutex
	runs  map[string][]time.Time
}

func (p *signalProber) Probe(context.Context) Result {
	now := time.Now()
	p.mu.Lock()
	p.runs[p.name] = append(p.runs[p.name], now)
	p.mu.Unlock()
	return Result{Probe: p.name, Time: now}
}

func (p *signalProber) Close()           {}
func (p *signalProber) dropped() *signal { return p.drops }

// startSignalProbers runs n signalProbers at interval in a scheduler; the
// returned function reads every probe's run times.
func startSignalProbers(t *testing.T, n int, interval time.Duration) (probers []*signalProber, runs func() map[string][]time.Time) {
	var mu sync.Mutex
	all := map[string][]time.Time{}
	byName := map[string]Prober{}
	for i := range n {
		p := &signalProber{name: fmt.Sprintf("p%d", i), drops: newSignal(), mu: &mu, runs: all}
		byName[p.name] = p
		probers = append(probers, p)
	}
	runProbers(t, interval, byName)
	return probers, func() map[string][]time.Time {
		mu.Lock()
		defer mu.Unlock()
		out := map[string][]time.Time{}
		for k, v := range all {
			out[k] = slices.Clone(v)
		}
		return out
	}
}

// TestDropRunsAreBoundedPerProbe drops a probe's connection again and again:
// it gets maxDropRuns extra runs per interval, and its regular run.
func TestDropRunsAreBoundedPerProbe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const interval = time.Second
		start := time.Now()
		probers, runs := startSignalProbers(t, 1, interval)
		p := probers[0]
		offset := (&Scheduler{opts: SchedulerOptions{Replica: testReplica}}).offset(p.name, interval)
		require.Positive(t, offset, "the test needs the regular run after the start")

		dropMany := func() {
			for range 5 * maxDropRuns {
				p.drops.notify()
				synctest.Wait()
			}
		}
		dropMany()
		require.Equal(t, []time.Time{start, start}, runs()[p.name], "a drop runs the probe at once, twice at most")

		time.Sleep(interval)
		synctest.Wait()
		dropMany()
		got := runs()[p.name]
		require.Equal(t, []time.Time{start, start, start.Add(offset), start.Add(interval), start.Add(interval)}, got,
			"the regular run, then again %d runs for drops once the interval has passed", maxDropRuns)
	})
}

// TestDropRunsOfManyProbesAreSpread drops the connections of 1,000 probes
// at once: dropBurst run at once, the others follow at maxDropRuns times
// the probes' regular rate, and a probe whose turn would come after its
// regular run waits for that instead.
func TestDropRunsOfManyProbesAreSpread(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const (
			n        = 1000
			interval = time.Second
		)
		start := time.Now()
		probers, runs := startSignalProbers(t, n, interval)
		s := &Scheduler{opts: SchedulerOptions{Replica: testReplica}}
		for _, p := range probers {
			p.drops.notify()
		}
		time.Sleep(interval)
		synctest.Wait()

		var extra []time.Duration
		for _, p := range probers {
			regular := start.Add(s.offset(p.name, interval))
			for _, at := range runs()[p.name] {
				if !at.Equal(regular) {
					extra = append(extra, at.Sub(start))
				}
			}
		}
		slices.Sort(extra)
		require.LessOrEqual(t, len(extra), n, "one drop each, one extra run each at most")
		perSecond := float64(maxDropRuns * n)
		for k, at := range extra {
			earliest := time.Duration(float64(max(0, k+1-dropBurst)) / perSecond * float64(time.Second))
			require.GreaterOrEqual(t, at, earliest, "extra run %d started too early: the runs were not spread", k)
		}
		require.Equal(t, time.Duration(0), extra[dropBurst-1], "the first %d run at once", dropBurst)
		t.Logf("%d of %d probes ran for the drop, the last %s after it", len(extra), n, extra[len(extra)-1])
	})
}

// BenchmarkDropStorm runs 1,000 MQTT round-trip probes, each on its own
// connection, at a 1 s interval against the in-process broker, then closes
// the broker: 1,000 connections drop at once. It reports how many runs
// start in the interval after the drop (each probe has one regular run in
// it, so the rest are extra), the most runs of one probe, and how the
// extra runs are spread. It runs once whatever b.N is: the drop takes
// seconds of real time.
func BenchmarkDropStorm(b *testing.B) {
	const (
		n        = 1000
		interval = time.Second
	)
	broker := probetest.StartMQTT(b)
	var probes []*configs.ProbeConfig
	for i := range n {
		cfg := probeConfig(fmt.Sprintf("storm-%d", i), 900*time.Millisecond, mqttRoundTrip(broker.URL, configs.MQTTv311, 1, fmt.Sprintf("storm/%d", i)))
		cfg.Interval = model.Duration(interval)
		cfg.RoundTrip.Send.MQTT.ClientID = fmt.Sprintf("storm-%d", i) // a connection per probe
		cfg.RoundTrip.Expect.MQTT.ClientID = cfg.RoundTrip.Send.MQTT.ClientID
		probes = append(probes, cfg)
	}
	type run struct {
		probe string
		at    time.Time
		ok    bool
	}
	var (
		mu   sync.Mutex
		runs []run
		up   = map[string]bool{}
		all  = make(chan struct{})
	)
	s, err := NewScheduler(probes, SchedulerOptions{Replica: testReplica, Sink: func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		runs = append(runs, run{r.Probe, r.Time, r.Success})
		if r.Success && !up[r.Probe] {
			up[r.Probe] = true
			if len(up) == n {
				close(all)
			}
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		b.Fatalf("only %d of %d probes succeeded within 60s", len(up), n)
	}
	time.Sleep(interval) // every probe connected and settled
	dropAt := time.Now()
	broker.Close()
	time.Sleep(2 * interval)

	mu.Lock()
	perProbe := map[string][]time.Duration{} // run starts since the drop, in order
	total := 0
	for _, r := range runs {
		if d := r.at.Sub(dropAt); d >= 0 && d < interval {
			perProbe[r.probe] = append(perProbe[r.probe], d)
			total++
		}
	}
	mu.Unlock()
	// An extra run is admitted only when it starts before the probe's next
	// regular run, so of two runs in the interval the first is the extra.
	most := 0
	var extra []time.Duration
	for _, starts := range perProbe {
		most = max(most, len(starts))
		slices.Sort(starts)
		if len(starts) > 1 {
			extra = append(extra, starts[:len(starts)-1]...)
		}
	}
	slices.Sort(extra)
	busiest := 0 // most extra runs starting within 10ms
	for i, j := 0, 0; i < len(extra); i++ {
		for extra[i]-extra[j] >= 10*time.Millisecond {
			j++
		}
		busiest = max(busiest, i-j+1)
	}
	if os.Getenv("TOCSIN_DROP_VERBOSE") != "" {
		hist := map[time.Duration]int{}
		for _, d := range extra {
			hist[d.Truncate(10*time.Millisecond)]++
		}
		for k := time.Duration(0); k < interval; k += 10 * time.Millisecond {
			fmt.Fprintf(os.Stderr, "extra runs starting %4dms after the drop: %d\n", k.Milliseconds(), hist[k])
		}
	}
	last := time.Duration(0)
	if len(extra) > 0 {
		last = extra[len(extra)-1]
	}
	b.ReportMetric(float64(total), "runs-1st-interval")
	b.ReportMetric(float64(len(extra)), "extra-runs")
	b.ReportMetric(float64(most), "max-runs-per-probe")
	b.ReportMetric(float64(busiest), "max-extra-per-10ms")
	b.ReportMetric(float64(last.Milliseconds()), "last-extra-ms")
	b.Logf("%d probes, %d runs in the interval after the drop (%d extra), at most %d of one probe, at most %d extra runs starting within 10ms, the last %s after the drop",
		n, total, len(extra), most, busiest, last)
}
