package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/junitxml"
	"go.yaml.in/yaml/v3"
)

// TestOptions tune RunTestFiles like promtool test rules' flags.
type TestOptions struct {
	// Run, when set, runs only the test groups whose name matches.
	Run *regexp.Regexp
	// JUnit, when set, receives a JUnit XML report.
	JUnit io.Writer
	// IgnoreUnknownFields accepts keys the file format does not know.
	IgnoreUnknownFields bool
	// Now stamps the JUnit report; nil means time.Now.
	Now func() time.Time
}

// RunTestFiles runs the rule unit tests in files, in promtool's test file
// format and with promtool's results, printing progress and failures with
// a diff to out. It reports whether every test passed.
func RunTestFiles(out io.Writer, opts TestOptions, files ...string) (bool, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	junit := &junitxml.JUnitXML{}
	passed := true
	for _, f := range files {
		fmt.Fprintf(out, "Processing test file: %s\n", f)
		suite := junit.Suite(f)
		suite.Settime(now().Format("2006-01-02T15:04:05"))
		if errs := runTestFile(out, f, opts, suite); len(errs) > 0 {
			passed = false
			fmt.Fprintln(out, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(out, e.Error())
				fmt.Fprintln(out)
			}
		} else {
			fmt.Fprintln(out, "  SUCCESS")
		}
		fmt.Fprintln(out)
	}
	if opts.JUnit != nil {
		if err := junit.WriteXML(opts.JUnit); err != nil {
			return passed, fmt.Errorf("write JUnit report: %w", err)
		}
	}
	return passed, nil
}

// testFile is a rule unit test file (promtool's format).
type testFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval,omitempty"`
	GroupEvalOrder     []string       `yaml:"group_eval_order"`
	Tests              []testGroup    `yaml:"tests"`
	FuzzyCompare       bool           `yaml:"fuzzy_compare,omitempty"`
}

// testGroup is a set of input series and the expectations over them.
type testGroup struct {
	Interval        model.Duration `yaml:"interval"`
	InputSeries     []inputSeries  `yaml:"input_series"`
	AlertRuleTests  []alertTest    `yaml:"alert_rule_test,omitempty"`
	PromqlExprTests []exprTest     `yaml:"promql_expr_test,omitempty"`
	ExternalLabels  labels.Labels  `yaml:"external_labels,omitempty"`
	ExternalURL     string         `yaml:"external_url,omitempty"`
	Name            string         `yaml:"name,omitempty"`
	StartTimestamp  startTimestamp `yaml:"start_timestamp,omitempty"`

	parser        parser.Parser
	fuzzy         bool
	groupOrder    map[string]int
	evalInterval  time.Duration
	ruleFiles     []string
	ignoreUnknown bool
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTest struct {
	EvalTime  model.Duration  `yaml:"eval_time"`
	Alertname string          `yaml:"alertname"`
	ExpAlerts []expectedAlert `yaml:"exp_alerts"`
}

type expectedAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type exprTest struct {
	Expr       string           `yaml:"expr"`
	EvalTime   model.Duration   `yaml:"eval_time"`
	ExpSamples []expectedSample `yaml:"exp_samples"`
}

type expectedSample struct {
	Labels    string  `yaml:"labels"`
	Value     float64 `yaml:"value"`
	Histogram string  `yaml:"histogram"`
}

// startTimestamp accepts RFC 3339 or Unix seconds, as promtool does.
type startTimestamp struct{ time.Time }

// UnmarshalYAML parses the timestamp.
func (s *startTimestamp) UnmarshalYAML(n *yaml.Node) error {
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
		sec, frac := math.Modf(f)
		s.Time = time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC()
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: cannot parse %q to a valid timestamp", n.Line, n.Value)
	}
	s.Time = t
	return nil
}

func runTestFile(out io.Writer, file string, opts TestOptions, suite *junitxml.TestSuite) []error {
	tf, err := loadTestFile(out, file, opts.IgnoreUnknownFields)
	if err != nil {
		suite.Abort(err)
		return []error{err}
	}
	order := map[string]int{}
	for i, name := range tf.GroupEvalOrder {
		if _, dup := order[name]; dup {
			err := fmt.Errorf("group name repeated in evaluation order: %s", name)
			suite.Abort(err)
			return []error{err}
		}
		order[name] = i
	}
	p := parser.NewParser(parser.Options{})
	var errs []error
	for i := range tf.Tests {
		tg := &tf.Tests[i]
		if opts.Run != nil && !opts.Run.MatchString(tg.Name) {
			continue
		}
		name := tg.Name
		if name == "" {
			name = fmt.Sprintf("unnamed#%d", i)
		}
		suite.Case(name)
		if tg.Interval == 0 {
			tg.Interval = tf.EvaluationInterval
		}
		tg.parser, tg.fuzzy, tg.groupOrder = p, tf.FuzzyCompare, order
		tg.evalInterval, tg.ruleFiles, tg.ignoreUnknown = time.Duration(tf.EvaluationInterval), tf.RuleFiles, opts.IgnoreUnknownFields
		for _, e := range tg.run() {
			suite.Fail(e.Error())
			errs = append(errs, e)
		}
	}
	return errs
}

// loadTestFile decodes a test file strictly and resolves its rule files
// relative to it.
func loadTestFile(warn io.Writer, file string, ignoreUnknown bool) (*testFile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tf testFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(!ignoreUnknown)
	if err := dec.Decode(&tf); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var globbed []string
	for _, rf := range tf.RuleFiles {
		if rf != "" && !filepath.IsAbs(rf) {
			rf = filepath.Join(filepath.Dir(file), rf)
		}
		m, err := filepath.Glob(rf)
		if err != nil {
			return nil, fmt.Errorf("%s: rule_files: %w", file, err)
		}
		if len(m) == 0 {
			// promtool warns and goes on; the tests then show what is missing.
			fmt.Fprintf(warn, "  WARNING: no file match pattern %s\n", rf)
		}
		globbed = append(globbed, m...)
	}
	tf.RuleFiles = globbed
	if tf.EvaluationInterval == 0 {
		tf.EvaluationInterval = model.Duration(time.Minute)
	}
	return &tf, nil
}

// run evaluates the rules over the input series step by step, comparing
// alerts at their eval_time, then the PromQL expectations.
func (tg *testGroup) run() (errs []error) {
	suite, err := promqltest.NewLazyLoader(tg.loadCommand(), promqltest.LazyLoaderOpts{
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		StartTime:            tg.StartTimestamp.Time,
		Parser:               tg.parser,
	})
	if err != nil {
		return []error{err}
	}
	defer func() {
		if err := suite.Close(); err != nil {
			errs = append(errs, err)
		}
	}()
	suite.SubqueryInterval = tg.evalInterval

	m := promrules.NewManager(&promrules.ManagerOptions{
		QueryFunc:    promrules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		AppendableV2: suite.Storage(),
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*promrules.Alert) {},
		Logger:       promslog.NewNopLogger(),
		Parser:       tg.parser,
	})
	loaded, lerrs := m.LoadGroups(time.Duration(tg.Interval), tg.ExternalLabels, tg.ExternalURL, nil, tg.ignoreUnknown, tg.ruleFiles...)
	if lerrs != nil {
		return lerrs
	}
	groups := make([]*promrules.Group, 0, len(loaded))
	for _, g := range loaded {
		groups = append(groups, g)
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true) // so ALERTS is written from the first step
		}
	}
	sort.Slice(groups, func(i, j int) bool { return tg.groupOrder[groups[i].Name()] < tg.groupOrder[groups[j].Name()] })

	mint := time.Unix(0, 0).UTC()
	if !tg.StartTimestamp.IsZero() {
		mint = tg.StartTimestamp.Time
	}
	maxt := mint.Add(tg.maxEvalTime())

	byTime := map[model.Duration][]alertTest{}
	var times []model.Duration
	for _, at := range tg.AlertRuleTests {
		if at.Alertname == "" {
			where := ""
			if tg.Name != "" {
				where = fmt.Sprintf(" (in TestGroup %s)", tg.Name)
			}
			return []error{fmt.Errorf("an item under alert_rule_test misses required attribute alertname at eval_time %v%s", at.EvalTime, where)}
		}
		if _, ok := byTime[at.EvalTime]; !ok {
			times = append(times, at.EvalTime)
		}
		byTime[at.EvalTime] = append(byTime[at.EvalTime], at)
	}
	slices.Sort(times)

	curr := 0
	for ts := mint; !ts.After(maxt); ts = ts.Add(tg.evalInterval) {
		var evalErrs []error
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						evalErrs = append(evalErrs, fmt.Errorf("    rule: %s, time: %s, err: %w", r.Name(), ts.Sub(time.Unix(0, 0).UTC()), r.LastError()))
					}
				}
			}
		})
		errs = append(errs, evalErrs...)
		if len(evalErrs) > 0 {
			return errs
		}
		// Alerts expected at t are compared with the step at ts when
		// ts <= t < ts+interval, as promtool does.
		for curr < len(times) && ts.Sub(mint) <= time.Duration(times[curr]) && time.Duration(times[curr]) < ts.Add(tg.evalInterval).Sub(mint) {
			errs = append(errs, tg.compareAlerts(groups, byTime[times[curr]])...)
			curr++
		}
	}
	for _, et := range tg.PromqlExprTests {
		if err := tg.compareExpr(suite, mint, et); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// loadCommand renders the input series as a promqltest load command.
func (tg *testGroup) loadCommand() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load %v\n", shortDuration(tg.Interval))
	for _, s := range tg.InputSeries {
		fmt.Fprintf(&b, "  %v %v\n", s.Series, s.Values)
	}
	return b.String()
}

func shortDuration(d model.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func (tg *testGroup) maxEvalTime() time.Duration {
	var m model.Duration
	for _, a := range tg.AlertRuleTests {
		m = max(m, a.EvalTime)
	}
	for _, e := range tg.PromqlExprTests {
		m = max(m, e.EvalTime)
	}
	return time.Duration(m)
}

// compareAlerts checks the firing alerts of every tested alert name.
func (tg *testGroup) compareAlerts(groups []*promrules.Group, tests []alertTest) []error {
	var errs []error
	for _, at := range tests {
		var got alertList
		for _, g := range groups {
			for _, r := range g.Rules() {
				ar, ok := r.(*promrules.AlertingRule)
				if !ok || ar.Name() != at.Alertname {
					continue
				}
				for _, a := range ar.ActiveAlerts() {
					if a.State == promrules.StateFiring {
						got = append(got, alertEntry{labels: a.Labels.Copy(), annotations: a.Annotations.Copy()})
					}
				}
			}
		}
		var exp alertList
		for _, ea := range at.ExpAlerts {
			ls := make(map[string]string, len(ea.ExpLabels)+1)
			for k, v := range ea.ExpLabels {
				ls[k] = v
			}
			ls[labels.AlertName] = at.Alertname
			exp = append(exp, alertEntry{labels: labels.FromMap(ls), annotations: labels.FromMap(ea.ExpAnnotations)})
		}
		sort.Sort(got)
		sort.Sort(exp)
		if exp.equal(got) {
			continue
		}
		name := ""
		if tg.Name != "" {
			name = fmt.Sprintf("    name: %s,\n", tg.Name)
		}
		errs = append(errs, fmt.Errorf("%s    alertname: %s, time: %s, \n        exp:%v, \n        got:%v\n        diff (- expected, + got):\n%s",
			name, at.Alertname, at.EvalTime, indent(exp.String(), "            "), indent(got.String(), "            "),
			lineDiff(exp.lines(), got.lines(), "            ")))
	}
	return errs
}

// compareExpr evaluates one promql_expr_test.
func (tg *testGroup) compareExpr(suite *promqltest.LazyLoader, mint time.Time, et exprTest) error {
	got, err := instantQuery(suite.Context(), suite.QueryEngine(), suite.Queryable(), et.Expr, mint.Add(time.Duration(et.EvalTime)))
	if err != nil {
		return fmt.Errorf("    expr: %q, time: %s, err: %s", et.Expr, et.EvalTime, err)
	}
	var gotS, expS sampleList
	for _, s := range got {
		gotS = append(gotS, testSample{labels: s.Metric.Copy(), value: s.F, histogram: promqltest.HistogramTestExpression(s.H)})
	}
	for _, s := range et.ExpSamples {
		lb, err := tg.parser.ParseMetric(s.Labels)
		var h *histogram.FloatHistogram
		if err == nil && s.Histogram != "" {
			_, vals, perr := tg.parser.ParseSeriesDesc("{} " + s.Histogram)
			switch {
			case perr != nil:
				err = perr
			case len(vals) != 1:
				err = fmt.Errorf("expected 1 value, got %d", len(vals))
			case vals[0].Histogram == nil:
				err = fmt.Errorf("expected histogram, got %v", vals[0])
			default:
				h = vals[0].Histogram
			}
		}
		if err != nil {
			return fmt.Errorf("    expr: %q, time: %s, err: labels %q: %w", et.Expr, et.EvalTime, s.Labels, err)
		}
		expS = append(expS, testSample{labels: lb, value: s.Value, histogram: promqltest.HistogramTestExpression(h)})
	}
	sort.Slice(expS, func(i, j int) bool { return labels.Compare(expS[i].labels, expS[j].labels) <= 0 })
	sort.Slice(gotS, func(i, j int) bool { return labels.Compare(gotS[i].labels, gotS[j].labels) <= 0 })
	if expS.equal(gotS, tg.fuzzy) {
		return nil
	}
	return fmt.Errorf("    expr: %q, time: %s,\n        exp: %v\n        got: %v\n        diff (- expected, + got):\n%s",
		et.Expr, et.EvalTime, expS.String(), gotS.String(), lineDiff(expS.lines(), gotS.lines(), "            "))
}

func instantQuery(ctx context.Context, engine *promql.Engine, q storage.Queryable, expr string, at time.Time) (promql.Vector, error) {
	qry, err := engine.NewInstantQuery(ctx, q, nil, expr, at)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, errors.New("rule result is not a vector or scalar")
	}
}
