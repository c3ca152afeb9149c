// Package rules evaluates Prometheus alerting and recording rules over
// tocsin's local TSDB, records probe results into that TSDB, and checks and
// unit-tests rule files the way promtool does.
//
// Rule semantics (for, keep_firing_for, templates, limit, ALERTS and
// ALERTS_FOR_STATE, restoring for state after a restart, resend delay) are
// Prometheus' own: groups are built and evaluated by the Prometheus rules
// package. tocsin drives the evaluation itself, so that a group is also
// evaluated right after a probe reports a series the group reads.
package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
)

// Defaults applied by NewEvaluator to zero options.
const (
	DefaultEvaluationInterval = 5 * time.Second
	// DefaultResendDelay is Prometheus' --rules.alert.resend-delay.
	DefaultResendDelay = time.Minute
	// DefaultOutageTolerance is Prometheus' --rules.alert.for-outage-tolerance.
	DefaultOutageTolerance = time.Hour
	// DefaultLookbackDelta is how far back an instant query looks for a sample.
	DefaultLookbackDelta = 5 * time.Minute
	// DefaultQueryTimeout bounds one rule's query.
	DefaultQueryTimeout = 30 * time.Second
)

// AlertFunc receives the alerts of one evaluation pass: firing alerts, and
// resolved ones (EndsAt in the past) for 15 minutes after they resolve, each
// resent every resend delay, exactly as Prometheus sends to Alertmanager.
// Labels include the external labels (replica among them) unless the rule
// set them itself. It is called once per evaluated group, never
// concurrently, and should hand the alerts on rather than block.
type AlertFunc func(ctx context.Context, alerts []*model.Alert)

// EvaluatorOptions build an Evaluator.
type EvaluatorOptions struct {
	// Files are rule file paths or glob patterns.
	Files []string
	// Interval is the evaluation interval of groups that set none.
	Interval time.Duration
	// ExternalLabels are added to every alert and are $externalLabels in
	// templates. The replica label belongs here.
	ExternalLabels labels.Labels
	// ExternalURL is $externalURL in templates and the base of the
	// alerts' generator URL.
	ExternalURL string
	// Storage is read by the rules and receives ALERTS and ALERTS_FOR_STATE.
	Storage Storage
	// Alerts receives firing and resolved alerts. Required.
	Alerts AlertFunc
	// Logger; nil discards logs.
	Logger *slog.Logger
	// Now is the clock. Evaluation timestamps, `for`, `keep_firing_for`
	// and regular ticks follow it. Nil means time.Now.
	Now func() time.Time
	// ResendDelay is the minimum time between two sends of a firing alert.
	ResendDelay time.Duration
	// OutageTolerance is how long tocsin may have been down for the
	// `for` state of alerts to be restored from ALERTS_FOR_STATE.
	OutageTolerance time.Duration
	// ForGracePeriod is the minimum `for` left to an alert after its state
	// is restored. Zero (tocsin's default, unlike Prometheus' 10m) lets an
	// alert that was pending before a restart fire as soon as its
	// remaining `for` has passed, because probes resume at once.
	ForGracePeriod time.Duration
	// LookbackDelta is the staleness window of instant queries.
	LookbackDelta time.Duration
	// QueryTimeout bounds each rule query.
	QueryTimeout time.Duration
	// Registerer, when set, receives the Prometheus rule and engine metrics.
	Registerer prometheus.Registerer
	// MaxConcurrency is how many groups are evaluated at once; zero means
	// GOMAXPROCS. Rules within a group always run in order.
	MaxConcurrency int
}

// Evaluator evaluates rule groups on their interval and, between ticks,
// right after new samples arrive for series they read.
type Evaluator struct {
	opts    EvaluatorOptions
	logger  *slog.Logger
	now     func() time.Time
	manager *promrules.Manager
	engine  *promql.Engine
	parser  parser.Parser
	extURL  *url.URL
	wake    chan struct{}
	outMu   sync.Mutex // the alert output is never called concurrently

	// mu guards the rule set and is held for a whole evaluation pass, so
	// a reload never swaps groups under a running evaluation.
	mu     sync.Mutex
	groups []*group
	files  []string
	// current is groups for Trigger, readable while a pass holds mu.
	current atomic.Pointer[[]*group]

	// pendMu guards pending; Trigger takes only this lock, so probes never
	// wait for an evaluation.
	pendMu  sync.Mutex
	pending map[*group]struct{}
}

// group is one Prometheus rule group with tocsin's scheduling state.
type group struct {
	g         *promrules.Group
	key       string
	selectors [][]*labels.Matcher
	next      time.Time // next regular evaluation
	last      time.Time // last evaluation timestamp
	restore   bool      // restore `for` state after the first evaluation
}

// NewEvaluator loads and validates the rule files. A bad file yields
// Diagnostics naming file, line and column.
func NewEvaluator(opts EvaluatorOptions) (*Evaluator, error) {
	if opts.Storage == nil {
		return nil, errors.New("rules: evaluator needs a storage")
	}
	if opts.Alerts == nil {
		return nil, errors.New("rules: evaluator needs an alert output")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultEvaluationInterval
	}
	if opts.ResendDelay <= 0 {
		opts.ResendDelay = DefaultResendDelay
	}
	if opts.OutageTolerance <= 0 {
		opts.OutageTolerance = DefaultOutageTolerance
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = DefaultLookbackDelta
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = runtime.GOMAXPROCS(0)
	}
	logger := opts.Logger
	if logger == nil {
		logger = promslog.NewNopLogger()
	}
	extURL, err := url.Parse(opts.ExternalURL)
	if err != nil {
		return nil, fmt.Errorf("rules: external URL: %w", err)
	}
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:               logger.With("component", "query engine"),
		Reg:                  opts.Registerer,
		MaxSamples:           50_000_000,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               p,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return opts.Interval.Milliseconds()
		},
	})
	e := &Evaluator{
		opts:    opts,
		logger:  logger,
		now:     opts.Now,
		engine:  engine,
		parser:  p,
		extURL:  extURL,
		wake:    make(chan struct{}, 1),
		pending: map[*group]struct{}{},
	}
	e.manager = promrules.NewManager(&promrules.ManagerOptions{
		ExternalURL:     extURL,
		QueryFunc:       promrules.EngineQueryFunc(engine, opts.Storage),
		NotifyFunc:      e.collect,
		Context:         context.Background(),
		AppendableV2:    opts.Storage,
		Queryable:       opts.Storage,
		Logger:          logger,
		Registerer:      opts.Registerer,
		OutageTolerance: opts.OutageTolerance,
		ForGracePeriod:  opts.ForGracePeriod,
		ResendDelay:     opts.ResendDelay,
		Parser:          p,
	})
	if err := e.Update(opts.Files...); err != nil {
		return nil, err
	}
	return e, nil
}

// Update validates files and, only if every one is good, replaces the rule
// set. Groups that did not change keep running untouched; changed groups
// keep the state of their alerts. On error the old rules stay in force and
// the error is a Diagnostics with positions.
func (e *Evaluator) Update(files ...string) error {
	paths, err := expandFiles(files)
	if err != nil {
		return err
	}
	if diags := CheckFiles(paths, CheckOptions{}); diags.HasErrors() {
		return diags.Errors()
	}
	extLabels := e.opts.ExternalLabels
	loaded, errs := e.manager.LoadGroups(e.opts.Interval, extLabels, e.opts.ExternalURL, nil, false, paths...)
	if len(errs) > 0 {
		return fmt.Errorf("rules: load: %w", errors.Join(errs...))
	}

	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	old := make(map[string]*group, len(e.groups))
	for _, g := range e.groups {
		old[g.key] = g
	}
	fresh := make([]*group, 0, len(loaded))
	for key, pg := range loaded {
		ng := &group{g: pg, key: key, selectors: groupSelectors(pg), next: now, restore: true}
		if og, ok := old[key]; ok {
			if og.g.Equals(pg) {
				fresh = append(fresh, og)
				continue
			}
			pg.CopyState(og.g)
			for _, ar := range pg.AlertingRules() {
				ar.SetRestored(true)
			}
			ng.restore = false
			ng.last = og.last
		}
		fresh = append(fresh, ng)
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].key < fresh[j].key })
	e.groups = fresh
	e.current.Store(&fresh)
	e.files = paths

	// Forget pending triggers of groups that no longer exist.
	e.pendMu.Lock()
	for g := range e.pending {
		if !slices.Contains(fresh, g) {
			delete(e.pending, g)
		}
	}
	e.pendMu.Unlock()
	e.poke()
	return nil
}

// expandFiles resolves glob patterns. A plain path that does not exist is
// an error; a pattern that matches nothing is not.
func expandFiles(patterns []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, pat := range patterns {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rules: bad rule file pattern %q: %w", pat, err)
		}
		if len(matches) == 0 && !strings.ContainsAny(pat, "*?[") {
			return nil, fmt.Errorf("rules: rule file %s does not exist", pat)
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// Files returns the rule files in force.
func (e *Evaluator) Files() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.files)
}

// Groups returns the Prometheus rule groups in force, ordered by file and
// name, for status pages and APIs. Their rules report state and health.
func (e *Evaluator) Groups() []*promrules.Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*promrules.Group, len(e.groups))
	for i, g := range e.groups {
		out[i] = g.g
	}
	return out
}

// Trigger asks for the groups that read any of series to be evaluated now.
// Calls made while an evaluation runs are coalesced into the next pass.
// It never blocks on evaluation; call it right after Recorder.Record.
func (e *Evaluator) Trigger(series []labels.Labels) {
	if len(series) == 0 {
		return
	}
	var hit []*group
	for _, g := range *e.current.Load() {
		if g.reads(series) {
			hit = append(hit, g)
		}
	}
	if len(hit) == 0 {
		return
	}
	e.pendMu.Lock()
	for _, g := range hit {
		e.pending[g] = struct{}{}
	}
	e.pendMu.Unlock()
	e.poke()
}

func (e *Evaluator) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run evaluates groups until ctx is cancelled: every group once at start
// (restoring `for` state from the TSDB), then on its interval and whenever
// Trigger names it.
func (e *Evaluator) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := e.pass(ctx, false)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// EvaluateAll evaluates every group once at the clock's current time,
// whatever its schedule. Tools and tests use it; Run does not need it.
func (e *Evaluator) EvaluateAll(ctx context.Context) {
	e.pass(ctx, true)
}

// pass evaluates the groups that are due or triggered and returns how long
// to sleep until the next regular evaluation.
func (e *Evaluator) pass(ctx context.Context, all bool) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pendMu.Lock()
	triggered := e.pending
	e.pending = make(map[*group]struct{}, len(triggered))
	e.pendMu.Unlock()

	now := e.now()
	var due []*group
	for _, g := range e.groups {
		_, trig := triggered[g]
		if all || trig || !now.Before(g.next) {
			due = append(due, g)
		}
	}
	// Groups are independent, as in Prometheus where each runs on its own:
	// evaluate them side by side, a few at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opts.MaxConcurrency)
	for _, g := range due {
		if ctx.Err() != nil {
			break
		}
		if len(due) == 1 {
			e.evalGroup(ctx, g, now)
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.evalGroup(ctx, g, now)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return 0
	}
	wait := time.Duration(1<<63 - 1)
	for _, g := range e.groups {
		wait = min(wait, g.next.Sub(now))
	}
	return max(wait, time.Millisecond)
}

// evalGroup evaluates one group at now and hands its alerts on.
func (e *Evaluator) evalGroup(ctx context.Context, g *group, now time.Time) {
	ts := time.UnixMilli(now.UnixMilli()).UTC()
	if ts.Before(g.last) {
		ts = g.last // the clock stepped back; never write into the past
	}
	buf := &alertBuffer{}
	gctx := context.WithValue(ctx, alertBufferKey{}, buf)
	g.g.Eval(gctx, ts)
	if g.restore {
		// The first evaluation found the active alerts; give them back the
		// time they had already been active before the restart, then
		// evaluate again so an alert that was firing fires now rather than
		// an interval later. The first evaluation wrote no alert series, so
		// the second one at the same timestamp writes nothing twice.
		g.g.RestoreForState(ts)
		g.restore = false
		g.g.Eval(gctx, ts)
	}
	g.last = ts
	if !now.Before(g.next) {
		g.next = now.Add(g.g.Interval())
	}
	if len(buf.alerts) > 0 {
		e.outMu.Lock()
		defer e.outMu.Unlock()
		e.opts.Alerts(ctx, buf.alerts)
	}
}

type alertBufferKey struct{}

// alertBuffer gathers the alerts of one group evaluation so the output is
// called once per group, not once per rule.
type alertBuffer struct{ alerts []*model.Alert }

// collect is the Prometheus NotifyFunc: it turns rule alerts into
// model.Alerts the way Prometheus' notifier does, adding external labels.
func (e *Evaluator) collect(ctx context.Context, _ string, alerts ...*promrules.Alert) {
	if len(alerts) == 0 {
		return
	}
	buf, _ := ctx.Value(alertBufferKey{}).(*alertBuffer)
	if buf == nil {
		return
	}
	for _, a := range alerts {
		ls := make(model.LabelSet, a.Labels.Len()+e.opts.ExternalLabels.Len())
		e.opts.ExternalLabels.Range(func(l labels.Label) {
			ls[model.LabelName(l.Name)] = model.LabelValue(l.Value)
		})
		a.Labels.Range(func(l labels.Label) {
			ls[model.LabelName(l.Name)] = model.LabelValue(l.Value)
		})
		ann := make(model.LabelSet, a.Annotations.Len())
		a.Annotations.Range(func(l labels.Label) {
			ann[model.LabelName(l.Name)] = model.LabelValue(l.Value)
		})
		out := &model.Alert{
			Labels:       ls,
			Annotations:  ann,
			StartsAt:     a.FiredAt,
			EndsAt:       a.ValidUntil,
			GeneratorURL: e.generatorURL(ls),
		}
		if !a.ResolvedAt.IsZero() {
			out.EndsAt = a.ResolvedAt
		}
		buf.alerts = append(buf.alerts, out)
	}
}

// generatorURL is the status page an alert links to: its probe's page
// when it is about a probe, else the alerts page. Prometheus links to its
// expression browser instead, which tocsin does not have.
func (e *Evaluator) generatorURL(ls model.LabelSet) string {
	if e.opts.ExternalURL == "" {
		return ""
	}
	base := strings.TrimSuffix(e.opts.ExternalURL, "/")
	if probe := ls["probe"]; probe != "" {
		return base + "/probes/" + url.PathEscape(string(probe))
	}
	return base + "/alerts"
}

// groupSelectors lists the label matchers of every vector selector in the
// group's rules; a new sample matching one of them may change the result.
func groupSelectors(g *promrules.Group) [][]*labels.Matcher {
	var sels [][]*labels.Matcher
	for _, r := range g.Rules() {
		parser.Inspect(r.Query(), func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				sels = append(sels, vs.LabelMatchers)
			}
			return nil
		})
	}
	return sels
}

// reads reports whether any of series is selected by the group.
func (g *group) reads(series []labels.Labels) bool {
	for _, sel := range g.selectors {
		for _, s := range series {
			if matchAll(sel, s) {
				return true
			}
		}
	}
	return false
}

func matchAll(ms []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}
