package rules

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/template"
)

// Prometheus' AlertingRule.Eval expands every label and annotation
// template of every active alert on every evaluation, parsing each one
// anew: 40–45 µs a template, 160–185 µs an alert for the shipped
// ProbeFailing (BenchmarkProbeFailingTemplates). With a thousand probes
// failing that is most of each evaluation, and the first page of a mass
// outage waits for it (docs/benchmarks.md, "A mass outage").
//
// So tocsin hands Prometheus' rules package each templated alerting rule
// without its labels and annotations, and expands them itself: once per
// result series and value, with the same data, functions and error text
// as Prometheus, and again on every evaluation only for templates that
// call query or now, whose output can change while series and value stay.
// The rule's labels are set on the query result before Prometheus builds
// its alerts from it, so alerts, ALERTS and ALERTS_FOR_STATE carry exactly
// the labels Prometheus gives them; the annotations are kept here, by
// alert, for notifications and for the status pages (View).

// templateDefs are the variables Prometheus defines before each template.
const templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// volatileCall finds, inside a template action, a call of the functions
// whose output depends on the evaluation time rather than on the series
// and value alone.
var volatileCall = regexp.MustCompile(`\{\{[^}]*\b(query|now)\b`)

// ruleKey names an alerting rule within its group for the query hook,
// which learns of the rule only from the query's origin.
type ruleKey struct{ name, query string }

// alertTemplates is one alerting rule whose templates tocsin expands.
type alertTemplates struct {
	// rule is the rule Prometheus evaluates: the same name, expression,
	// `for` and `keep_firing_for`, without labels and annotations.
	rule        *promrules.AlertingRule
	labels      labels.Labels // as written, group labels included
	annotations labels.Labels // as written
	volatile    bool          // a template calls query or now

	externalLabels map[string]string
	externalURL    string
	logger         *slog.Logger

	// series caches each result series' expansion, by the hash of the
	// series' labels. Only its group's evaluation touches it.
	series map[uint64]*expansion
	pass   uint64

	mu sync.Mutex
	// byAlert are the annotations of each of the rule's alerts, by the
	// hash of the alert's labels, as of the last evaluation whose result
	// held the alert; a resolved alert keeps its last ones, as in Prometheus.
	byAlert map[uint64]labels.Labels
}

// expansion is one series' expanded templates.
type expansion struct {
	source      labels.Labels // the series as the query returned it
	value       uint64        // the value's bits
	metric      labels.Labels // source with the rule's labels set
	alert       uint64        // hash of the alert's labels
	annotations labels.Labels
	pass        uint64 // last evaluation that returned the series
}

// newAlertTemplates wraps ar, a rule as Prometheus loaded it; nil when ar
// has nothing to expand.
func newAlertTemplates(ar *promrules.AlertingRule, externalLabels labels.Labels, externalURL string, logger *slog.Logger) *alertTemplates {
	if ar.Labels().IsEmpty() && ar.Annotations().IsEmpty() {
		return nil
	}
	logger = logger.With("alert", ar.Name())
	t := &alertTemplates{
		rule: promrules.NewAlertingRule(ar.Name(), ar.Query(), ar.HoldDuration(), ar.KeepFiringFor(),
			labels.EmptyLabels(), labels.EmptyLabels(), externalLabels, externalURL, ar.Restored(), logger),
		labels:         ar.Labels(),
		annotations:    ar.Annotations(),
		externalLabels: externalLabels.Map(),
		externalURL:    externalURL,
		logger:         logger,
		series:         map[uint64]*expansion{},
		byAlert:        map[uint64]labels.Labels{},
	}
	for _, ls := range []labels.Labels{t.labels, t.annotations} {
		ls.Range(func(l labels.Label) { t.volatile = t.volatile || volatileCall.MatchString(l.Value) })
	}
	return t
}

// sameTemplates reports whether two rules expand the same templates.
func (t *alertTemplates) sameTemplates(o *alertTemplates) bool {
	return labels.Equal(t.labels, o.labels) && labels.Equal(t.annotations, o.annotations)
}

// apply sets the rule's labels on each series of res, the result of the
// rule's query at ts, and records the annotations of the alert each
// series makes. query and extURL serve the templates' query functions.
func (t *alertTemplates) apply(ctx context.Context, res promql.Vector, ts time.Time, query promrules.QueryFunc, extURL *url.URL) promql.Vector {
	t.pass++
	name := t.rule.Name()
	lb := labels.NewBuilder(labels.EmptyLabels())
	fresh := make([]*expansion, 0, len(res))
	for i := range res {
		s := &res[i]
		h := s.Metric.Hash()
		e := t.series[h]
		if e == nil || t.volatile || e.value != math.Float64bits(s.F) || !labels.Equal(e.source, s.Metric) {
			e = t.expand(ctx, lb, name, *s, ts, query, extURL)
			if !t.volatile {
				t.series[h] = e
			}
		}
		e.pass = t.pass
		s.Metric = e.metric
		fresh = append(fresh, e)
	}
	if len(t.series) > len(res) {
		for h, e := range t.series {
			if e.pass != t.pass {
				delete(t.series, h)
			}
		}
	}
	t.mu.Lock()
	for _, e := range fresh {
		t.byAlert[e.alert] = e.annotations
	}
	t.mu.Unlock()
	return res
}

// expand expands the rule's templates for one series as Prometheus'
// AlertingRule.Eval does.
func (t *alertTemplates) expand(ctx context.Context, lb *labels.Builder, name string, s promql.Sample, ts time.Time, query promrules.QueryFunc, extURL *url.URL) *expansion {
	var data any
	expand := func(text string) string {
		if !strings.Contains(text, "{{") {
			return text // what the template engine would print
		}
		if data == nil {
			data = template.AlertTemplateData(s.Metric.Map(), t.externalLabels, t.externalURL, s)
		}
		te := template.NewTemplateExpander(ctx, templateDefs+text, "__alert_"+name, data,
			model.Time(timestamp.FromTime(ts)), template.QueryFunc(query), extURL, nil)
		out, err := te.Expand()
		if err != nil {
			out = fmt.Sprintf("<error expanding template: %s>", err)
			t.logger.Warn("Expanding alert template failed", "err", err, "data", data)
		}
		return out
	}
	e := &expansion{source: s.Metric, value: math.Float64bits(s.F)}
	lb.Reset(s.Metric)
	t.labels.Range(func(l labels.Label) { lb.Set(l.Name, expand(l.Value)) })
	e.metric = lb.Labels()
	lb.Del(model.MetricNameLabel)
	lb.Set(labels.AlertName, name)
	e.alert = lb.Labels().Hash()
	sb := labels.NewScratchBuilder(t.annotations.Len())
	t.annotations.Range(func(a labels.Label) { sb.Add(a.Name, expand(a.Value)) })
	e.annotations = sb.Labels()
	return e
}

// annotationsOf returns the annotations of the rule's alert with labels ls.
func (t *alertTemplates) annotationsOf(ls labels.Labels) labels.Labels {
	h := ls.Hash()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byAlert[h]
}

// forget drops the annotations of alerts the rule no longer holds.
func (t *alertTemplates) forget() {
	t.mu.Lock()
	kept := len(t.byAlert)
	t.mu.Unlock()
	held := 0
	t.rule.ForEachActiveAlert(func(*promrules.Alert) { held++ })
	if kept <= held {
		return
	}
	live := make(map[uint64]struct{}, held)
	t.rule.ForEachActiveAlert(func(a *promrules.Alert) { live[a.Labels.Hash()] = struct{}{} })
	t.mu.Lock()
	defer t.mu.Unlock()
	for h := range t.byAlert {
		if _, ok := live[h]; !ok {
			delete(t.byAlert, h)
		}
	}
}

// takeOver gives t the annotations of the alerts of from, the rule that
// Prometheus' Group.CopyState copies t's rule's alerts from on a reload.
func (t *alertTemplates) takeOver(from *alertTemplates) {
	from.mu.Lock()
	defer from.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	maps.Copy(t.byAlert, from.byAlert)
}

// queryHook wraps the rules' query function: for an alerting rule whose
// templates tocsin expands, it sets the rule's labels on the result and
// records the annotations (see alertTemplates).
func (e *Evaluator) queryHook(base promrules.QueryFunc) promrules.QueryFunc {
	return func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
		res, err := base(ctx, q, ts)
		if err != nil {
			return res, err
		}
		buf, _ := ctx.Value(alertBufferKey{}).(*alertBuffer)
		if buf == nil || buf.group == nil {
			return res, nil
		}
		rd := promrules.FromOriginContext(ctx)
		if rd.Kind != promrules.KindAlerting {
			return res, nil
		}
		t := buf.group.templates[ruleKey{rd.Name, q}]
		if t == nil {
			return res, nil
		}
		// Templates see the evaluation's time, as in Prometheus, not the
		// query's, which is earlier by the group's query offset.
		return t.apply(ctx, res, ts.Add(buf.group.g.QueryOffset()), base, e.extURL), nil
	}
}

// View is the rules in force as status pages and APIs show them: rules
// with their labels and annotations as written, alerts with theirs
// expanded.
type View struct {
	// Groups are the rule groups, ordered by file and name.
	Groups    []*promrules.Group
	templates map[*promrules.AlertingRule]*alertTemplates
}

// Templates returns ar's labels and annotations as its file wrote them.
func (v View) Templates(ar *promrules.AlertingRule) (ruleLabels, annotations labels.Labels) {
	if t := v.templates[ar]; t != nil {
		return t.labels, t.annotations
	}
	return ar.Labels(), ar.Annotations()
}

// ActiveAlerts returns ar's active alerts, copies, with their annotations.
func (v View) ActiveAlerts(ar *promrules.AlertingRule) []*promrules.Alert {
	alerts := ar.ActiveAlerts()
	if t := v.templates[ar]; t != nil {
		for _, a := range alerts {
			a.Annotations = t.annotationsOf(a.Labels)
		}
	}
	return alerts
}

// withTemplates returns pg as a tocsin group: each templated alerting rule
// replaced by one without templates, which tocsin expands (see
// alertTemplates). Rules that share name and query within the group stay
// as Prometheus loaded them, because the query hook could not tell them
// apart; so does a group with nothing to expand.
func (e *Evaluator) withTemplates(pg *promrules.Group) *group {
	g := &group{g: pg, templates: map[ruleKey]*alertTemplates{}}
	rules := pg.Rules()
	seen := map[ruleKey]int{}
	for _, r := range rules {
		if _, ok := r.(*promrules.AlertingRule); ok {
			seen[ruleKey{r.Name(), r.Query().String()}]++
		}
	}
	out := make([]promrules.Rule, len(rules))
	g.rules = make([]*alertTemplates, len(rules))
	for i, r := range rules {
		out[i] = r
		ar, ok := r.(*promrules.AlertingRule)
		key := ruleKey{r.Name(), r.Query().String()}
		if !ok || seen[key] > 1 {
			continue
		}
		t := newAlertTemplates(ar, e.opts.ExternalLabels, e.opts.ExternalURL, e.logger)
		if t == nil {
			continue
		}
		out[i], g.rules[i], g.templates[key] = t.rule, t, t
	}
	if len(g.templates) == 0 {
		return g
	}
	e.mopts.RuleDependencyController.AnalyseRules(out)
	offset := pg.QueryOffset()
	g.g = promrules.NewGroup(promrules.GroupOptions{
		Name: pg.Name(), File: pg.File(), Interval: pg.Interval(), Limit: pg.Limit(),
		Rules: out, ShouldRestore: true, Opts: e.mopts, QueryOffset: &offset,
	})
	return g
}

// equals reports whether g and o are the same group with the same rules,
// the templates tocsin expands included.
func (g *group) equals(o *group) bool {
	if !g.g.Equals(o.g) || len(g.rules) != len(o.rules) {
		return false
	}
	for i, t := range g.rules {
		if (t == nil) != (o.rules[i] == nil) || t != nil && !t.sameTemplates(o.rules[i]) {
			return false
		}
	}
	return true
}

// takeOver gives g's rules the annotations of the alerts that
// Group.CopyState copied into them from the rules of from: rules are
// matched as CopyState matches them, by name and labels, in order.
func (g *group) takeOver(from *group) {
	byName := map[string][]int{}
	for i, r := range from.g.Rules() {
		k := r.Name() + r.Labels().String()
		byName[k] = append(byName[k], i)
	}
	for i, r := range g.g.Rules() {
		k := r.Name() + r.Labels().String()
		idx := byName[k]
		if len(idx) == 0 {
			continue
		}
		byName[k] = idx[1:]
		to, old := g.rules[i], from.rules[idx[0]]
		switch {
		case to != nil && old != nil:
			to.takeOver(old)
		case to != nil:
			// Prometheus expanded the old rule's annotations into its alerts.
			to.rule.ForEachActiveAlert(func(a *promrules.Alert) { to.byAlert[a.Labels.Hash()] = a.Annotations })
		case old != nil:
			// Prometheus expands the new rule's: give the copied alerts theirs.
			ar, ok := r.(*promrules.AlertingRule)
			if !ok {
				continue
			}
			ar.ForEachActiveAlert(func(a *promrules.Alert) { a.Annotations = old.annotationsOf(a.Labels) })
		}
	}
}

// View returns the rules in force for status pages and APIs.
func (e *Evaluator) View() View {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := View{Groups: make([]*promrules.Group, len(e.set.groups)), templates: map[*promrules.AlertingRule]*alertTemplates{}}
	for i, g := range e.set.groups {
		v.Groups[i] = g.g
		for _, t := range g.rules {
			if t != nil {
				v.templates[t.rule] = t
			}
		}
	}
	return v
}
