package probes

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

// BenchmarkMQTTRoundTrip measures round trips through the in-process broker:
// one probe at a time (latency), and many probes sharing one connection
// (throughput). B/op includes the in-process broker's own allocations.
func BenchmarkMQTTRoundTrip(b *testing.B) {
	broker := probetest.StartMQTT(b)
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		b.Run("serial/v"+version, func(b *testing.B) {
			cfg := probeConfig("rt", 5*time.Second, mqttRoundTrip(broker.URL, version, 1, "bench/serial/"+version))
			p, err := New(cfg, Options{Replica: testReplica})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			if r := p.Probe(context.Background()); !r.Success { // connect outside the timing
				b.Fatal(r.Detail)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if r := p.Probe(context.Background()); !r.Success {
					b.Fatal(r.Reason, r.Detail)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "roundtrips/s")
		})
		b.Run("parallel/v"+version, func(b *testing.B) {
			const probers = 64
			pools := newConnPools(testReplica, nil)
			defer pools.close()
			free := make(chan Prober, probers)
			for i := range probers {
				cfg := probeConfig(fmt.Sprintf("rt%d", i), 5*time.Second, mqttRoundTrip(broker.URL, version, 1, fmt.Sprintf("bench/par/%s/%d", version, i)))
				p, err := New(cfg, Options{Replica: testReplica, conns: pools})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				if r := p.Probe(context.Background()); !r.Success {
					b.Fatal(r.Detail)
				}
				free <- p
			}
			var failed atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(probers / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				p := <-free
				defer func() { free <- p }()
				for pb.Next() {
					if r := p.Probe(context.Background()); !r.Success {
						failed.Add(1)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "roundtrips/s")
			if failed.Load() > 0 {
				b.Fatalf("%d round trips failed", failed.Load())
			}
		})
	}
}

// BenchmarkMemoryPerProbe runs 1,000 round-trip probes to one broker under
// the scheduler and reports the steady-state heap and stack they add, per
// probe, once every probe has succeeded twice.
func BenchmarkMemoryPerProbe(b *testing.B) {
	const n = 1000
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		b.Run("v"+version, func(b *testing.B) {
			broker := probetest.StartMQTT(b)
			before := inUse()
			probes := make([]*configs.ProbeConfig, n)
			for i := range probes {
				probes[i] = probeConfig(fmt.Sprintf("rt%d", i), 1500*time.Millisecond, mqttRoundTrip(broker.URL, version, 1, fmt.Sprintf("bench/mem/%d", i)))
				probes[i].Interval = model.Duration(2 * time.Second)
			}
			counts := make([]atomic.Int32, n)
			var ready atomic.Int32
			done := make(chan struct{})
			var failures atomic.Int64
			s, err := NewScheduler(probes, SchedulerOptions{Replica: testReplica, Sink: func(r Result) {
				if !r.Success {
					failures.Add(1)
					return
				}
				var i int
				fmt.Sscanf(r.Probe, "rt%d", &i)
				if counts[i].Add(1) == 2 && ready.Add(1) == n {
					close(done)
				}
			}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { _ = s.Run(ctx); close(stopped) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				b.Fatalf("only %d of %d probes succeeded twice; %d failures", ready.Load(), n, failures.Load())
			}
			after := inUse()
			b.ReportMetric(float64(after-before)/n, "bytes/probe")
			b.ReportMetric(float64(failures.Load()), "failures")
			cancel()
			<-stopped
		})
	}
}

// inUse is the heap and stack memory in use after a full collection.
func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// idleProber's runs do nothing but count themselves.
type idleProber struct {
	name string
	runs *atomic.Int64
}

func (p idleProber) Probe(context.Context) Result {
	p.runs.Add(1)
	return Result{Probe: p.name, Time: time.Now()}
}

func (idleProber) Close() {}

// BenchmarkSchedulerOverhead runs 1,000 probes whose runs do nothing, at
// 100ms, and reports the process's CPU time per run over three seconds:
// what it takes the scheduler to start a run, deliver its result and
// schedule the next. It runs once whatever b.N is.
func BenchmarkSchedulerOverhead(b *testing.B) {
	const (
		n        = 1000
		interval = 100 * time.Millisecond
		span     = 3 * time.Second
	)
	var runs atomic.Int64
	probers := map[string]Prober{}
	for i := range n {
		name := fmt.Sprintf("idle-%d", i)
		probers[name] = idleProber{name, &runs}
	}
	runProbers(b, interval, probers)
	time.Sleep(interval) // every probe has started
	runs0, cpu0 := runs.Load(), cpuTime(b)
	time.Sleep(span)
	runs1, cpu1 := runs.Load(), cpuTime(b)
	b.ReportMetric(float64(runs1-runs0)/span.Seconds(), "runs/s")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(runs1-runs0), "cpu-µs/run")
}

// cpuTime is the user and system CPU time the process has taken.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
