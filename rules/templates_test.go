package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"
)

// templateRules exercise what a template can depend on: the series'
// labels, its value, the external labels and URL, the evaluation time
// (now, query), a label that expands to nothing, an execution error, and
// two rules with one name and query, which Prometheus expands itself.
const templateRules = `groups:
- name: templates
  rules:
  - alert: Failing
    expr: probe_success == 0
    for: 2s
    labels:
      severity: page
      owner: 'team-{{ $labels.service }}'
      empty: '{{ if eq $labels.probe "nothing" }}x{{ end }}'
    annotations:
      summary: 'Probe {{ $labels.probe }} failing on {{ $externalLabels.replica }}'
      link: '{{ $externalURL }}/probes/{{ $labels.probe }}'
      static: 'see the runbook'
  - alert: Sluggish
    expr: probe_duration_seconds > 0.5
    labels:
      bucket: '{{ if gt $value 2.0 }}very{{ else }}somewhat{{ end }}'
    annotations:
      value: '{{ $value | humanizeDuration }}'
      broken: '{{ humanize "not a number" }}'
  - alert: Slow
    expr: probe_duration_seconds > 0.5
    annotations:
      value: '{{ $value | humanizeDuration }}'
  - alert: Slow
    expr: probe_duration_seconds > 0.5
    labels:
      severity: info
  - alert: Counted
    expr: probe_success == 0
    annotations:
      others: '{{ with query "count(probe_success == 0)" }}{{ . | first | value }}{{ end }} failing'
      at: '{{ now }}'
  - alert: Plain
    expr: probe_success == 0
`

// promReference evaluates rule files with Prometheus' rules package alone,
// over its own TSDB, for comparison.
type promReference struct {
	rec    *Recorder
	groups []*promrules.Group
	sent   map[string]labels.Labels // annotations of the last alert sent, by alert labels
}

func newPromReference(t *testing.T, file string, ext labels.Labels, extURL string) *promReference {
	t.Helper()
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(t.TempDir(), "tsdb"), Retention: 24 * time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rec.Close() })
	ref := &promReference{rec: rec, sent: map[string]labels.Labels{}}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	m := promrules.NewManager(&promrules.ManagerOptions{
		QueryFunc:    promrules.EngineQueryFunc(engine, rec),
		AppendableV2: rec,
		Context:      context.Background(),
		Logger:       promslog.NewNopLogger(),
		NotifyFunc: func(_ context.Context, _ string, alerts ...*promrules.Alert) {
			for _, a := range alerts {
				ref.sent[a.Labels.String()] = a.Annotations
			}
		},
	})
	loaded, errs := m.LoadGroups(time.Second, ext, extURL, nil, false, file)
	require.Empty(t, errs)
	for _, g := range loaded {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
		ref.groups = append(ref.groups, g)
	}
	return ref
}

// alertsOf lists the active alerts of every alerting rule as
// "labels state value annotations", sorted.
func alertsOf(groups []*promrules.Group, active func(*promrules.AlertingRule) []*promrules.Alert) []string {
	var out []string
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			for _, a := range active(ar) {
				out = append(out, fmt.Sprintf("%s %s %g %s", a.Labels, a.State, a.Value, a.Annotations))
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestTemplatesExpandAsPrometheusDoes(t *testing.T) {
	t.Parallel()
	h, clock := startHarness(t, templateRules)
	ref := newPromReference(t, h.rules, labels.FromStrings("replica", "eu-1", "team", "iot"), "http://tocsin.example:9797")

	// Three probes; their success and duration change from step to step,
	// so some alerts keep series and value, some keep the series with a
	// new value, and some come, go and come back.
	var sentBy map[string]labels.Labels
	for step := range 12 {
		now := clock.Add(time.Second)
		var samples []Sample
		for i, probe := range []string{"a", "b", "nothing"} {
			base := labels.FromStrings("probe", probe, "kind", "http", "replica", "eu-1", "service", "api")
			ok := float64((step / (i + 2)) % 2)
			dur := 0.1 + float64((step+i)%4)*0.8
			samples = append(samples,
				Sample{Labels: labels.NewBuilder(base).Set("__name__", "probe_success").Labels(), Value: ok},
				Sample{Labels: labels.NewBuilder(base).Set("__name__", "probe_duration_seconds").Labels(), Value: dur})
		}
		require.NoError(t, h.rec.Record(now, samples))
		require.NoError(t, ref.rec.Record(now, samples))

		h.ev.EvaluateAll(context.Background())
		ts := time.UnixMilli(now.UnixMilli()).UTC()
		for _, g := range ref.groups {
			g.Eval(context.Background(), ts)
		}

		view := h.ev.View()
		got := alertsOf(view.Groups, view.ActiveAlerts)
		want := alertsOf(ref.groups, (*promrules.AlertingRule).ActiveAlerts)
		require.Equal(t, want, got, "step %d", step)
		require.NotEmpty(t, got)

		// What was sent carries the same annotations (tocsin adds the
		// external labels to an alert's labels).
		sentBy = map[string]labels.Labels{}
		for _, a := range h.out.take() {
			ls := labels.NewBuilder(labels.EmptyLabels())
			for k, v := range a.Labels {
				if k != "team" { // an external label the series do not have
					ls.Set(string(k), string(v))
				}
			}
			ann := labels.NewBuilder(labels.EmptyLabels())
			for k, v := range a.Annotations {
				ann.Set(string(k), string(v))
			}
			sentBy[ls.Labels().String()] = ann.Labels()
		}
		for k, ann := range sentBy {
			require.Contains(t, ref.sent, k, "step %d", step)
			require.Equal(t, ref.sent[k].String(), ann.String(), "step %d: %s", step, k)
		}
	}

	// The rules as written, not as Prometheus evaluates them.
	view := h.ev.View()
	for _, g := range view.Groups {
		for _, ar := range g.AlertingRules() {
			ls, anns := view.Templates(ar)
			if ar.Name() == "Failing" {
				require.Equal(t, "team-{{ $labels.service }}", ls.Get("owner"))
				require.Equal(t, "see the runbook", anns.Get("static"))
			}
		}
	}
	// ALERTS is the same series for series.
	at := clock.Now()
	require.Equal(t, seriesOf(t, ref.rec, at, "ALERTS"), seriesOf(t, h.rec, at, "ALERTS"))
	require.Equal(t, seriesOf(t, ref.rec, at, "ALERTS_FOR_STATE"), seriesOf(t, h.rec, at, "ALERTS_FOR_STATE"))
}

// seriesOf lists the label sets an instant query returns, sorted.
func seriesOf(t *testing.T, rec *Recorder, at time.Time, query string) []string {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	q, err := engine.NewInstantQuery(context.Background(), rec, nil, query, at)
	require.NoError(t, err)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err)
	v, err := res.Vector()
	require.NoError(t, err)
	var out []string
	for _, s := range v {
		out = append(out, s.Metric.String())
	}
	slices.Sort(out)
	return out
}

func TestReloadChangingOnlyAnAnnotationTakesEffect(t *testing.T) {
	t.Parallel()
	h, clock := startHarness(t, failingRule)
	file := h.rules
	annotate := func(summary string) {
		content := strings.Replace(failingRule, "summary: 'Probe {{ $labels.probe }} failing on {{ $externalLabels.replica }} (value {{ $value }})'",
			"summary: '"+summary+"'", 1)
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
		require.NoError(t, h.ev.Update(file))
	}
	annotate("first {{ $labels.probe }}")
	h.step(t, 0)
	clock.Add(time.Minute)
	firing := h.step(t, 0)
	require.Len(t, firing, 1)
	require.Equal(t, model.LabelValue("first api"), firing[0].Annotations["summary"])

	annotate("second {{ $labels.probe }}")
	view := h.ev.View()
	_, anns := view.Templates(view.Groups[0].AlertingRules()[0])
	require.Equal(t, "second {{ $labels.probe }}", anns.Get("summary"))
	// The alert kept its state through the reload and, until it is
	// evaluated again, its annotations.
	alerts := view.ActiveAlerts(view.Groups[0].AlertingRules()[0])
	require.Len(t, alerts, 1)
	require.Equal(t, promrules.StateFiring, alerts[0].State)
	require.Equal(t, "first api", alerts[0].Annotations.Get("summary"))

	clock.Add(2 * time.Minute) // past the resend delay
	again := h.step(t, 0)
	require.Len(t, again, 1)
	require.Equal(t, model.LabelValue("second api"), again[0].Annotations["summary"])

	// The resolve carries the annotations the alert last had.
	clock.Add(time.Second)
	resolved := h.step(t, 1)
	require.Len(t, resolved, 1)
	require.False(t, resolved[0].EndsAt.After(clock.Now()))
	require.Equal(t, model.LabelValue("second api"), resolved[0].Annotations["summary"])
}
