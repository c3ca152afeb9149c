// Package rules evaluates Prometheus alerting and recording rules over
// tocsin's local TSDB, records probe results into that TSDB, and checks and
// unit-tests rule files the way promtool does.
//
// Rule semantics (for, keep_firing_for, templates, limit, ALERTS and
// ALERTS_FOR_STATE, restoring for state after a restart, resend delay) are
// Prometheus' own: groups are built and evaluated by the Prometheus rules
// package. tocsin drives the evaluation itself, so that a group is also
// evaluated right after a probe reports a series the group reads directly,
// and expands alert templates itself, once per alert (templates.go).
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
	// DefaultRestoreWindow is how long after start alerts get back their
	// `for` state: long enough for every probe to report once.
	DefaultRestoreWindow = time.Minute
	// DefaultMinTriggerSpacing bounds triggered evaluations to four per
	// second per group when every probe fails at once, while a first
	// failure after a quiet spell is still evaluated at once.
	DefaultMinTriggerSpacing = 250 * time.Millisecond
	// triggerDutyCycle: the spacing between triggered evaluations of a
	// group is also at least this many times its last evaluation's
	// duration, so that triggers keep one group busy a fifth of the time
	// at most, however expensive its rules become in a storm.
	triggerDutyCycle = 4
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
	// Start is when this tocsin started; zero means when NewEvaluator is
	// called. Rule queries never see samples older than Start, so that a
	// result stored before a restart cannot page on its own; the `for`
	// state of alerts is restored from ALERTS_FOR_STATE written before it.
	Start time.Time
	// RestoreWindow is how long after Start an alert that becomes active
	// again gets back the `for` state it had before the restart; probes
	// must report within it. Zero means DefaultRestoreWindow.
	RestoreWindow time.Duration
	// MinTriggerSpacing is the shortest time between two triggered
	// evaluations of one group; triggers in between are merged into one
	// evaluation at the end of it. The spacing also grows to four times
	// the group's last evaluation duration. Zero means
	// DefaultMinTriggerSpacing.
	MinTriggerSpacing time.Duration
}

// Evaluator evaluates rule groups on their interval and, between ticks,
// right after new samples arrive for series they read.
type Evaluator struct {
	opts    EvaluatorOptions
	logger  *slog.Logger
	now     func() time.Time
	manager *promrules.Manager
	mopts   *promrules.ManagerOptions
	engine  *promql.Engine
	parser  parser.Parser
	extURL  *url.URL
	wake    chan struct{}
	outMu   sync.Mutex // the alert output is never called concurrently

	// mu guards the rule set and is held for a whole evaluation pass, so
	// a reload never swaps groups under a running evaluation.
	mu  sync.Mutex
	set *RuleSet
	// current is the groups for Trigger, readable while a pass holds mu.
	current atomic.Pointer[[]*group]

	// pendMu guards pending; Trigger takes only this lock, so probes never
	// wait for an evaluation.
	pendMu  sync.Mutex
	pending map[*group]struct{}
}

// RuleSet is a checked set of rule groups. One from Load is not in force
// until Swap; one that Swap returns is the set it replaced, with the state
// its alerts had, for Restore.
type RuleSet struct {
	files  []string
	groups []*group
	// saved holds the alerts of groups that a changed group took over
	// (they share the alerts), as they were at the swap.
	saved map[*promrules.Alert]promrules.Alert
}

// group is one Prometheus rule group with tocsin's scheduling state.
type group struct {
	g         *promrules.Group
	key       string
	selectors [][]*labels.Matcher
	next      time.Time     // next regular evaluation
	last      time.Time     // last evaluation timestamp
	evaluated time.Time     // clock time of the last evaluation, for trigger spacing
	took      time.Duration // how long the last evaluation took
	fires     time.Time     // when the `for` of its earliest pending alert runs out; zero when none
	// restore: restore the `for` state of alerts that become active (see
	// restoreForState); restored names the alerts already restored.
	restore  bool
	restored map[uint64]struct{}
	// rules are the templates tocsin expands for g's rules, by rule
	// index (nil for a rule Prometheus expands itself); templates are the
	// same by name and query.
	rules     []*alertTemplates
	templates map[ruleKey]*alertTemplates
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
	if opts.Start.IsZero() {
		opts.Start = opts.Now()
	}
	if opts.RestoreWindow <= 0 {
		opts.RestoreWindow = DefaultRestoreWindow
	}
	if opts.MinTriggerSpacing <= 0 {
		opts.MinTriggerSpacing = DefaultMinTriggerSpacing
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
		set:     &RuleSet{},
	}
	e.current.Store(&e.set.groups)
	e.mopts = &promrules.ManagerOptions{
		ExternalURL:     extURL,
		QueryFunc:       e.queryHook(promrules.EngineQueryFunc(engine, sinceStart(opts.Storage, opts.Start))),
		NotifyFunc:      e.collect,
		Context:         context.Background(),
		AppendableV2:    opts.Storage,
		Queryable:       beforeStart(opts.Storage, opts.Start), // only restores `for` state
		Logger:          logger,
		Registerer:      opts.Registerer,
		OutageTolerance: opts.OutageTolerance,
		ForGracePeriod:  opts.ForGracePeriod,
		ResendDelay:     opts.ResendDelay,
		Parser:          p,
	}
	e.manager = promrules.NewManager(e.mopts)
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
	next, err := e.Load(files...)
	if err != nil {
		return err
	}
	e.Swap(next)
	return nil
}

// Load reads and checks files into a RuleSet without putting it in force.
// A bad file yields Diagnostics naming file, line and column.
func (e *Evaluator) Load(files ...string) (*RuleSet, error) {
	paths, err := expandFiles(files)
	if err != nil {
		return nil, err
	}
	if diags := CheckFiles(paths, CheckOptions{}); diags.HasErrors() {
		return nil, diags.Errors()
	}
	loaded, errs := e.manager.LoadGroups(e.opts.Interval, e.opts.ExternalLabels, e.opts.ExternalURL, nil, false, paths...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("rules: load: %w", errors.Join(errs...))
	}
	set := &RuleSet{files: paths, groups: make([]*group, 0, len(loaded))}
	for key, pg := range loaded {
		g := e.withTemplates(pg)
		g.key, g.selectors, g.restore = key, groupSelectors(g.g), true
		set.groups = append(set.groups, g)
	}
	sort.Slice(set.groups, func(i, j int) bool { return set.groups[i].key < set.groups[j].key })
	return set, nil
}

// Swap puts next, a set from Load, in force and returns the set it
// replaced. Groups that did not change keep running untouched; a changed
// group takes over the state of its alerts. Restore(prev) undoes it.
func (e *Evaluator) Swap(next *RuleSet) (prev *RuleSet) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	prev = e.set
	prev.saved = map[*promrules.Alert]promrules.Alert{}
	old := make(map[string]*group, len(prev.groups))
	for _, g := range prev.groups {
		old[g.key] = g
	}
	for i, ng := range next.groups {
		ng.next = now
		og, ok := old[ng.key]
		if !ok {
			continue
		}
		if og.equals(ng) {
			next.groups[i] = og
			continue
		}
		for _, ar := range og.g.AlertingRules() {
			ar.ForEachActiveAlert(func(a *promrules.Alert) { prev.saved[a] = *a })
		}
		ng.g.CopyState(og.g)
		ng.takeOver(og)
		for _, ar := range ng.g.AlertingRules() {
			ar.SetRestored(true)
		}
		ng.restore = false
		ng.last, ng.evaluated = og.last, og.evaluated
	}
	e.install(next)
	return prev
}

// Restore puts prev, a set Swap returned, back in force exactly as it was:
// the same groups, their alerts in the state they had at the swap, even if
// the files on disk have changed since.
func (e *Evaluator) Restore(prev *RuleSet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range prev.groups {
		for _, ar := range g.g.AlertingRules() {
			ar.ForEachActiveAlert(func(a *promrules.Alert) {
				if saved, ok := prev.saved[a]; ok {
					*a = saved
				}
			})
		}
	}
	prev.saved = nil
	e.install(prev)
}

// install makes set the one in force; e.mu is held.
func (e *Evaluator) install(set *RuleSet) {
	e.set = set
	e.current.Store(&set.groups)
	// Forget pending triggers of groups that are no longer in force.
	e.pendMu.Lock()
	for g := range e.pending {
		if !slices.Contains(set.groups, g) {
			delete(e.pending, g)
		}
	}
	e.pendMu.Unlock()
	e.poke()
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
	return slices.Clone(e.set.files)
}

// Groups returns the Prometheus rule groups in force, ordered by file and
// name, for status pages and APIs. Their rules report state and health.
func (e *Evaluator) Groups() []*promrules.Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*promrules.Group, len(e.set.groups))
	for i, g := range e.set.groups {
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
// to sleep until the next regular evaluation or held trigger.
func (e *Evaluator) pass(ctx context.Context, all bool) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pendMu.Lock()
	triggered := e.pending
	e.pending = make(map[*group]struct{}, len(triggered))
	e.pendMu.Unlock()

	now := e.now()
	groups := e.set.groups
	// Groups that may page now (an alert's `for` ran out, or a probe
	// reported a failure they read) are evaluated first, on their own,
	// and hand their alerts on before the groups that are merely due
	// start: a page neither waits for nor shares the cores with the
	// range queries of regular evaluations.
	var urgent, due, held []*group
	for _, g := range groups {
		_, trig := triggered[g]
		fire := e.fireTime(g)
		switch {
		case !fire.IsZero() && !now.Before(fire):
			urgent = append(urgent, g)
		case trig && now.Before(e.nextTriggered(g)) && !all && now.Before(g.next):
			// Evaluated a moment ago: the triggers of a storm wait for
			// one evaluation at the end of the spacing.
			held = append(held, g)
		case trig:
			urgent = append(urgent, g)
		case all || !now.Before(g.next):
			due = append(due, g)
		}
	}

	if len(held) > 0 {
		e.pendMu.Lock()
		for _, g := range held {
			e.pending[g] = struct{}{}
		}
		e.pendMu.Unlock()
	}
	e.evalGroups(ctx, urgent, now)
	e.evalGroups(ctx, due, now)
	if ctx.Err() != nil {
		return 0
	}
	wait := time.Duration(1<<63 - 1)
	for _, g := range groups {
		wait = min(wait, g.next.Sub(now))
		if fire := e.fireTime(g); !fire.IsZero() {
			wait = min(wait, fire.Sub(now))
		}
	}
	for _, g := range held {
		wait = min(wait, e.nextTriggered(g).Sub(now))
	}
	return max(wait, time.Millisecond)
}

// nextTriggered is the earliest time a trigger may evaluate g again.
func (e *Evaluator) nextTriggered(g *group) time.Time {
	return g.evaluated.Add(max(e.opts.MinTriggerSpacing, triggerDutyCycle*g.took))
}

// fireTime is when g is evaluated so that its earliest pending alert
// fires: the moment the alert's `for` runs out, not at the next trigger
// or tick, which in a storm may come seconds later (the spacing grows with
// the group's duration). It keeps the minimum spacing after the group's
// last evaluation, so each such evaluation answers for all the alerts
// whose `for` ran out since. Zero when no alert is pending.
func (e *Evaluator) fireTime(g *group) time.Time {
	if g.fires.IsZero() {
		return time.Time{}
	}
	if earliest := g.evaluated.Add(e.opts.MinTriggerSpacing); g.fires.Before(earliest) {
		return earliest
	}
	return g.fires
}

// pendingUntil is when the `for` of the earliest pending alert of g runs
// out; zero when no alert is pending.
func pendingUntil(g *promrules.Group) time.Time {
	var at time.Time
	for _, r := range g.Rules() {
		ar, ok := r.(*promrules.AlertingRule)
		if !ok || ar.HoldDuration() <= 0 {
			continue
		}
		ar.ForEachActiveAlert(func(a *promrules.Alert) {
			if a.State != promrules.StatePending {
				return
			}
			if t := a.ActiveAt.Add(ar.HoldDuration()); at.IsZero() || t.Before(at) {
				at = t
			}
		})
	}
	return at
}

// evalGroups evaluates groups at now. Groups are independent, as in
// Prometheus where each runs on its own: evaluate them side by side, a few
// at a time.
func (e *Evaluator) evalGroups(ctx context.Context, groups []*group, now time.Time) {
	if len(groups) == 1 {
		e.evalGroup(ctx, groups[0], now)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opts.MaxConcurrency)
	for _, g := range groups {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.evalGroup(ctx, g, now)
		})
	}
	wg.Wait()
}

// evalGroup evaluates one group at now and hands its alerts on. Each
// evaluation, triggered or on the tick, is an iteration of the group as in
// Prometheus, so prometheus_rule_group_last_evaluation_timestamp_seconds
// and its friends move with it.
func (e *Evaluator) evalGroup(ctx context.Context, g *group, now time.Time) {
	ts := time.UnixMilli(now.UnixMilli()).UTC()
	if !ts.After(g.last) && !g.last.IsZero() {
		// Never write into the past (the clock stepped back), nor twice
		// at one timestamp.
		ts = g.last.Add(time.Millisecond)
	}
	buf := &alertBuffer{group: g}
	gctx := context.WithValue(ctx, alertBufferKey{}, buf)
	// Timed on the evaluator's clock, as the spacing it sets is.
	began := e.opts.Now()
	promrules.DefaultEvalIterationFunc(gctx, g.g, ts)
	if g.restore {
		if g.restoreForState(ts) {
			// An alert got back the time it had been active before the
			// restart: evaluate again so that one that was firing fires
			// now rather than at the next evaluation. A millisecond later,
			// because the first evaluation already wrote its samples.
			ts = ts.Add(time.Millisecond)
			promrules.DefaultEvalIterationFunc(gctx, g.g, ts)
		}
		if !ts.Before(e.opts.Start.Add(e.opts.RestoreWindow)) {
			g.restore, g.restored = false, nil
		}
	}
	for _, t := range g.rules {
		if t != nil {
			t.forget()
		}
	}
	g.last, g.evaluated, g.took = ts, now, e.opts.Now().Sub(began)
	g.fires = pendingUntil(g.g)
	if !now.Before(g.next) {
		g.next = now.Add(g.g.Interval())
	}
}

type alertBufferKey struct{}

// alertBuffer tells the query hook and collect which group is evaluated.
type alertBuffer struct {
	group *group
}

// collect is the Prometheus NotifyFunc: it turns rule alerts into
// model.Alerts the way Prometheus' notifier does, adding external labels,
// and hands them on at once. Prometheus' rules package calls it as soon as
// a rule is evaluated, before it writes the rule's ALERTS and
// ALERTS_FOR_STATE samples and evaluates the group's next rule, so a page
// does not wait for those.
func (e *Evaluator) collect(ctx context.Context, expr string, alerts ...*promrules.Alert) {
	if len(alerts) == 0 {
		return
	}
	buf, _ := ctx.Value(alertBufferKey{}).(*alertBuffer)
	if buf == nil {
		return
	}
	var t *alertTemplates
	if buf.group != nil {
		t = buf.group.templates[ruleKey{alerts[0].Labels.Get(labels.AlertName), expr}]
	}
	out := make([]*model.Alert, 0, len(alerts))
	for _, a := range alerts {
		if t != nil {
			a.Annotations = t.annotationsOf(a.Labels)
		}
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
		ma := &model.Alert{
			Labels:       ls,
			Annotations:  ann,
			StartsAt:     a.FiredAt,
			EndsAt:       a.ValidUntil,
			GeneratorURL: e.generatorURL(ls),
		}
		if !a.ResolvedAt.IsZero() {
			ma.EndsAt = a.ResolvedAt
		}
		out = append(out, ma)
	}
	e.outMu.Lock()
	defer e.outMu.Unlock()
	e.opts.Alerts(ctx, out)
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

// groupSelectors lists the label matchers of the instant vector selectors
// in the group's rules (`probe_success == 0`); a new sample matching one of
// them may change the result at once. Selectors inside a range
// (`avg_over_time(x[2m])`, subqueries) are left out: one more sample moves
// such a result by a fraction of its window, and rescanning every probe's
// history on each new result is what makes a mass outage expensive, so
// those rules run on the group's interval.
func groupSelectors(g *promrules.Group) [][]*labels.Matcher {
	var sels [][]*labels.Matcher
	for _, r := range g.Rules() {
		parser.Inspect(r.Query(), func(node parser.Node, path []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			for _, n := range path {
				switch n.(type) {
				case *parser.MatrixSelector, *parser.SubqueryExpr:
					return nil
				}
			}
			sels = append(sels, vs.LabelMatchers)
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
