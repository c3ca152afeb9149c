package ui_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/internal/ui"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

const (
	benchProbes   = 1_000
	benchInterval = 10 * time.Second
)

// benchSource is a pipeline's state with 1,000 probes and an hour of their
// results in a real TSDB, 1% of them failing.
type benchSource struct {
	snap pipeline.Snapshot
	rec  *rules.Recorder
}

func (s *benchSource) Snapshot() pipeline.Snapshot  { return s.snap }
func (s *benchSource) Queryable() storage.Queryable { return s.rec }

func newBenchSource(b *testing.B, now time.Time) *benchSource {
	b.Helper()
	rec, err := rules.OpenRecorder(rules.RecorderOptions{Dir: b.TempDir(), Retention: 2 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rec.Close() })
	cfg := &configs.Config{Global: configs.GlobalConfig{Replica: "bench"}}
	latest := map[string]probes.Result{}
	for i := range benchProbes {
		name := fmt.Sprintf("probe-%04d", i)
		cfg.Probes = append(cfg.Probes, &configs.ProbeConfig{
			Name: name, Interval: model.Duration(benchInterval), Timeout: model.Duration(5 * time.Second),
			Labels: model.LabelSet{"service": model.LabelValue(fmt.Sprintf("svc-%d", i%50))},
			TCP:    &configs.TCPProbe{Address: "broker:8883"},
		})
		latest[name] = probes.Result{Probe: name, Kind: "tcp", Time: now, Success: i%100 != 0, Duration: 3 * time.Millisecond}
	}
	for t := now.Add(-time.Hour); !t.After(now); t = t.Add(benchInterval) {
		samples := make([]rules.Sample, 0, 2*benchProbes)
		for i := range benchProbes {
			ls := func(metric string) labels.Labels {
				return labels.FromStrings("__name__", metric, "probe", fmt.Sprintf("probe-%04d", i), "kind", "tcp", "replica", "bench")
			}
			ok := 1.0
			if i%100 == 0 {
				ok = 0
			}
			samples = append(samples,
				rules.Sample{Labels: ls(probes.MetricSuccess), Value: ok},
				rules.Sample{Labels: ls(probes.MetricDuration), Value: 0.003})
		}
		if err := rec.Record(t, samples); err != nil {
			b.Fatal(err)
		}
	}
	return &benchSource{snap: pipeline.Snapshot{Config: cfg, Started: now.Add(-time.Hour), Latest: latest}, rec: rec}
}

// BenchmarkOverview renders / for 1,000 probes: their states and an hour of
// success and duration history each, drawn from the TSDB.
func BenchmarkOverview(b *testing.B) {
	now := time.Now()
	src := newBenchSource(b, now)
	pages, err := ui.New(ui.Options{Source: src, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		pages.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		b.ReportMetric(float64(w.Body.Len())/1024, "KiB/page")
	}
}
