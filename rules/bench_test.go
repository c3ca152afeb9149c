package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/template"
)

const (
	benchSeries   = 10_000 // probe_success series, plus as many round-trip series
	benchRules    = 1_000  // alerting rules
	benchServices = 1_000  // one service per rule; 10 probes per service
)

// benchRuleFile writes n alerting rules in groups of 100, each reading the
// probes of one service, with label and annotation templates like the
// shipped pack.
func benchRuleFile(tb testing.TB, dir string, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("groups:\n")
	for i := range n {
		if i%100 == 0 {
			fmt.Fprintf(&b, "- name: services-%d\n  rules:\n", i/100)
		}
		expr := fmt.Sprintf(`probe_success{service="svc-%d"} == 0`, i%benchServices)
		if i%2 == 1 {
			expr = fmt.Sprintf(`avg_over_time(probe_roundtrip_seconds{service="svc-%d"}[2m]) > 2`, i%benchServices)
		}
		fmt.Fprintf(&b, `  - alert: Rule%d
    expr: '%s'
    for: 1m
    labels:
      severity: page
      team: '{{ $labels.service }}'
    annotations:
      summary: 'Probe {{ $labels.probe }} of {{ $labels.service }} failing ({{ $value | humanize }})'
      runbook_url: 'https://runbooks.example/{{ $labels.probe }}'
`, i, expr)
	}
	p := filepath.Join(dir, "bench.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchSamples returns one result of every probe: 1% of probes failing
// and slow, so rules produce alerts and templates are expanded.
func benchSamples() ([]Sample, []labels.Labels) {
	samples := make([]Sample, 0, 2*benchSeries)
	var probe []labels.Labels
	for i := range benchSeries {
		svc := fmt.Sprintf("svc-%d", i%benchServices)
		name := fmt.Sprintf("probe-%d", i)
		ok, rt := 1.0, 0.05
		if i%100 == 0 {
			ok, rt = 0, 3
		}
		s := labels.FromStrings("__name__", "probe_success", "probe", name, "kind", "roundtrip", "replica", "eu-1", "service", svc)
		samples = append(samples,
			Sample{Labels: s, Value: ok},
			Sample{Labels: labels.FromStrings("__name__", "probe_roundtrip_seconds", "probe", name, "kind", "roundtrip", "replica", "eu-1", "service", svc), Value: rt},
		)
		if i == 0 {
			probe = []labels.Labels{s}
		}
	}
	return samples, probe
}

// benchRecorder opens a TSDB under dir for the benchmark's duration.
func benchRecorder(b *testing.B, dir string) *Recorder {
	b.Helper()
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(dir, "tsdb")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rec.Close() })
	return rec
}

type benchEnv struct {
	rec   *Recorder
	ev    *Evaluator
	clock *fakeClock
	alert int
}

func newBenchEnv(b *testing.B) *benchEnv {
	dir := b.TempDir()
	rec := benchRecorder(b, dir)
	env := &benchEnv{rec: rec, clock: &fakeClock{t: t0}}
	samples, _ := benchSamples()
	// Two minutes of history every 10s.
	for range 12 {
		if err := rec.Record(env.clock.Now(), samples); err != nil {
			b.Fatal(err)
		}
		env.clock.Add(10 * time.Second)
	}
	var err error
	env.ev, err = NewEvaluator(EvaluatorOptions{
		Files:          []string{benchRuleFile(b, dir, benchRules)},
		Interval:       time.Hour,
		ExternalLabels: labels.FromStrings("replica", "eu-1"),
		Storage:        rec,
		Alerts:         func(_ context.Context, as []*model.Alert) { env.alert += len(as) },
		Now:            env.clock.Now,
		Start:          t0, // the history above is this life's
	})
	if err != nil {
		b.Fatal(err)
	}
	env.ev.EvaluateAll(context.Background()) // start-up pass and restore
	return env
}

// BenchmarkEvaluationCycle is one evaluation of 1,000 alerting rules over
// 10,000 probes (20,000 series), 1% of them failing.
func BenchmarkEvaluationCycle(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		env.clock.Add(time.Second)
		env.ev.EvaluateAll(ctx)
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(benchRules), "rules/op")
}

// BenchmarkTriggeredEvaluation is what one probe result costs: record its
// sample, trigger, and evaluate the one group (100 rules) that reads it.
func BenchmarkTriggeredEvaluation(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	_, probe := benchSamples()
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		now := env.clock.Add(time.Second)
		if err := env.rec.Record(now, []Sample{{Labels: probe[0], Value: 0}}); err != nil {
			b.Fatal(err)
		}
		env.ev.Trigger(probe)
		env.ev.pass(ctx, false)
	}
}

// BenchmarkCheckRules checks a file of 1,000 alerting rules.
func BenchmarkCheckRules(b *testing.B) {
	file := benchRuleFile(b, b.TempDir(), benchRules)
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		res := CheckFile(file, CheckOptions{LintDuplicates: true})
		if len(res.Diagnostics) > 0 || res.Rules != benchRules {
			b.Fatalf("unexpected result: %d rules, %v", res.Rules, res.Diagnostics)
		}
	}
}

// cpuTime is the process' user and system CPU time so far. Reported per
// operation next to ns/op, it stays meaningful on a busy machine, where
// wall time also counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

const (
	outageProbes  = 1_000
	outageHistory = 10 * time.Minute // of healthy results every second before the outage
)

// outageSeries are the series one round-trip probe writes per result.
type outageSeries struct {
	success, duration, roundtrip, failures labels.Labels
}

func newOutageSeries(i int) outageSeries {
	base := labels.FromStrings("probe", fmt.Sprintf("broker-%d", i), "kind", "roundtrip", "replica", "eu-1", "service", "devices")
	b := labels.NewBuilder(base)
	return outageSeries{
		success:   b.Set("__name__", "probe_success").Labels(),
		duration:  b.Set("__name__", "probe_duration_seconds").Labels(),
		roundtrip: b.Set("__name__", "probe_roundtrip_seconds").Labels(),
		failures:  b.Set("__name__", "probe_failures_total").Set("reason", "timeout").Labels(),
	}
}

// BenchmarkMassOutage breaks 1,000 round-trip probes at once under the
// shipped liveness pack, after ten minutes of healthy history. One op is
// one second of the outage: every probe reports a failure (1 ms apart) and
// each result is recorded and triggers the rules. The evaluator runs as
// Run does: a pass as soon as a trigger finds it idle, and triggers that
// arrive while a pass runs (as long as the pass took) wait for the next.
// It reports the rule evaluations and the CPU time per trigger, regular
// evaluations left out.
func BenchmarkMassOutage(b *testing.B) {
	dir := b.TempDir()
	rec := benchRecorder(b, dir)
	clock := &fakeClock{t: t0}
	reg := prometheus.NewRegistry()
	ev, err := NewEvaluator(EvaluatorOptions{
		Files: []string{"../configs/rules/liveness.yml"},
		// Regular evaluations cost the same in an outage as without one;
		// leave them out so the figures are what the outage adds.
		Interval:       time.Hour,
		ExternalLabels: labels.FromStrings("replica", "eu-1"),
		Storage:        rec,
		Alerts:         func(context.Context, []*model.Alert) {},
		Now:            clock.Now,
		Registerer:     reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	probes := make([]outageSeries, outageProbes)
	for i := range probes {
		probes[i] = newOutageSeries(i)
	}
	healthy := make([]Sample, 0, 3*outageProbes)
	for _, p := range probes {
		healthy = append(healthy, Sample{Labels: p.success, Value: 1}, Sample{Labels: p.duration, Value: 0.05}, Sample{Labels: p.roundtrip, Value: 0.04})
	}
	for range int(outageHistory / time.Second) {
		if err := rec.Record(clock.Add(time.Second), healthy); err != nil {
			b.Fatal(err)
		}
		ev.pass(ctx, false)
	}

	evals := func() float64 { return counterValue(b, reg, "prometheus_rule_evaluations_total") }
	failures := 0.0
	step := time.Second / outageProbes
	var busyUntil time.Time
	before := evals()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		failures++
		for _, p := range probes {
			now := clock.Add(step)
			err := rec.Record(now, []Sample{{Labels: p.success}, {Labels: p.duration, Value: 0.9}, {Labels: p.failures, Value: failures}})
			if err != nil {
				b.Fatal(err)
			}
			ev.Trigger([]labels.Labels{p.success, p.duration, p.failures})
			if now.Before(busyUntil) {
				continue
			}
			began := time.Now()
			ev.pass(ctx, false)
			busyUntil = now.Add(time.Since(began))
		}
	}
	triggers := float64(b.N * outageProbes)
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/triggers, "cpu-µs/trigger")
	b.ReportMetric((evals()-before)/triggers, "rule-evals/trigger")
}

// BenchmarkProbeFailingTemplates expands the label and annotation templates
// of the shipped pack's ProbeFailing for one alert, as Prometheus' rules
// package does for every active alert on every evaluation of its group:
// in a mass outage, a thousand times per evaluation.
func BenchmarkProbeFailingTemplates(b *testing.B) {
	content, err := os.ReadFile("../configs/rules/liveness.yml")
	if err != nil {
		b.Fatal(err)
	}
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var texts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert != "ProbeFailing" {
				continue
			}
			for _, v := range r.Labels {
				texts = append(texts, v)
			}
			for _, v := range r.Annotations {
				texts = append(texts, v)
			}
		}
	}
	if len(texts) == 0 {
		b.Fatal("no ProbeFailing in the shipped pack")
	}
	smpl := promql.Sample{Metric: labels.FromStrings("probe", "rt-1", "kind", "roundtrip", "replica", "a")}
	for b.Loop() {
		data := template.AlertTemplateData(smpl.Metric.Map(), nil, "", smpl)
		for _, text := range texts {
			te := template.NewTemplateExpander(context.Background(), templateDefs+text, "__alert_ProbeFailing", data, 0, nil, nil, nil)
			if _, err := te.Expand(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(texts)), "templates/op")
}

// BenchmarkOutageEvaluation is one evaluation of ProbeFailing's group in
// the shipped pack with 1,000 round-trip probes failing, their alerts
// firing: the evaluation a mass outage's pages wait for (a pass evaluates
// such a group on its own). Recording the results is left out.
func BenchmarkOutageEvaluation(b *testing.B) {
	dir := b.TempDir()
	rec := benchRecorder(b, dir)
	clock := &fakeClock{t: t0}
	sent := 0
	ev, err := NewEvaluator(EvaluatorOptions{
		Files:          []string{"../configs/rules/liveness.yml"},
		Interval:       time.Hour,
		ExternalLabels: labels.FromStrings("replica", "eu-1"),
		Storage:        rec,
		Alerts:         func(_ context.Context, as []*model.Alert) { sent += len(as) },
		Now:            clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	probes := make([]outageSeries, outageProbes)
	for i := range probes {
		probes[i] = newOutageSeries(i)
	}
	record := func(ok float64) {
		samples := make([]Sample, 0, 2*outageProbes)
		for _, p := range probes {
			samples = append(samples, Sample{Labels: p.success, Value: ok}, Sample{Labels: p.duration, Value: 0.05})
		}
		if err := rec.Record(clock.Add(time.Second), samples); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for range 60 {
		record(1)
	}
	ev.EvaluateAll(ctx)
	for range 20 { // past ProbeFailing's `for`: every alert fires
		record(0)
		ev.EvaluateAll(ctx)
	}
	if sent < outageProbes {
		b.Fatalf("%d alerts sent, want %d", sent, outageProbes)
	}
	var probesGroup *group
	for _, g := range ev.set.groups {
		if slices.ContainsFunc(g.g.Rules(), func(r promrules.Rule) bool { return r.Name() == "ProbeFailing" }) {
			probesGroup = g
		}
	}
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		record(0)
		began := cpuTime()
		b.StartTimer()
		ev.evalGroup(ctx, probesGroup, clock.Now())
		cpu += cpuTime() - began
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
