package api

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

// staleAfter is how many intervals may pass without a finished run before
// a probe counts as stale.
const staleAfter = 3

// NewStatus builds the overview from a pipeline snapshot taken at now.
func NewStatus(s pipeline.Snapshot, now time.Time) Status {
	st := Status{
		Version: version.Version, Started: s.Started, Now: now,
		Probes: ProbesOf(s, now), Alerts: AlertsOf(s), Integrations: IntegrationsOf(s),
	}
	if s.Config != nil {
		st.Replica = s.Config.Global.Replica
	}
	if c := s.Cluster; c != nil {
		st.Cluster = &Cluster{Name: c.Name, Status: c.Status, Position: c.Position, Members: []ClusterMember{},
			ProbeReplication: c.ProbeReplication, ProbesOwned: c.ProbesOwned, ProbesHandingOver: c.ProbesHandingOver}
		for _, m := range c.Members {
			st.Cluster.Members = append(st.Cluster.Members, ClusterMember{Name: m.Name, Address: m.Address, Self: m.Name == c.Name})
		}
	}
	sum := &st.Summary
	sum.Probes = len(st.Probes)
	for _, p := range st.Probes {
		switch p.State {
		case StateUp:
			sum.ProbesUp++
		case StateDown:
			sum.ProbesDown++
		case StateStale:
			sum.ProbesStale++
		default:
			sum.ProbesUnknown++
		}
	}
	for _, a := range st.Alerts {
		if a.State == "firing" {
			sum.AlertsFiring++
		} else {
			sum.AlertsPending++
		}
	}
	sum.Integrations = len(st.Integrations)
	for _, in := range st.Integrations {
		if !in.Up {
			sum.IntegrationsDown++
		}
	}
	return st
}

// ProbesOf lists the configured probes in config order with their last results.
func ProbesOf(s pipeline.Snapshot, now time.Time) []Probe {
	if s.Config == nil {
		return nil
	}
	out := make([]Probe, 0, len(s.Config.Probes))
	for _, pc := range s.Config.Probes {
		r, ok := s.Latest[pc.Name]
		out = append(out, newProbe(pc, r, ok, now))
	}
	return out
}

func newProbe(pc *configs.ProbeConfig, r probes.Result, ran bool, now time.Time) Probe {
	p := Probe{
		Name: pc.Name, Kind: pc.Kind(), Labels: labelSetMap(pc.Labels),
		IntervalSeconds: time.Duration(pc.Interval).Seconds(),
		TimeoutSeconds:  time.Duration(pc.Timeout).Seconds(),
		State:           StateUnknown,
	}
	if !ran {
		return p
	}
	t := r.Time
	p.LastRun = &t
	p.DurationSeconds = r.Duration.Seconds()
	p.RoundTripSeconds = r.RoundTrip.Seconds()
	p.HTTPStatusCode = r.HTTPStatusCode
	p.Reason, p.Detail = string(r.Reason), r.Detail
	for reason, n := range r.Failures {
		if n > 0 {
			if p.FailuresTotal == nil {
				p.FailuresTotal = map[string]uint64{}
			}
			p.FailuresTotal[string(reason)] = n
		}
	}
	switch {
	case now.Sub(r.Time.Add(r.Duration)) > staleAfter*time.Duration(pc.Interval):
		p.State = StateStale
	case r.Success:
		p.State = StateUp
	default:
		p.State = StateDown
	}
	return p
}

// ProbeDetailOf is one probe's page, or false when no probe has that name.
func ProbeDetailOf(s pipeline.Snapshot, name string, now time.Time) (ProbeDetail, bool) {
	if s.Config == nil {
		return ProbeDetail{}, false
	}
	i := slices.IndexFunc(s.Config.Probes, func(pc *configs.ProbeConfig) bool { return pc.Name == name })
	if i < 0 {
		return ProbeDetail{}, false
	}
	pc := s.Config.Probes[i]
	r, ok := s.Latest[name]
	d := ProbeDetail{Probe: newProbe(pc, r, ok, now), RecentFailures: []Failure{}, Rules: []RuleRef{}, Alerts: []Alert{}}
	for _, f := range s.Failures[name] {
		d.RecentFailures = append(d.RecentFailures, Failure{Time: f.Time, Reason: string(f.Reason), Detail: f.Detail, DurationSeconds: f.Duration.Seconds()})
	}
	series := probeSeries(pc, s.Config.Global.Replica)
	for _, g := range s.Rules.Groups {
		for _, rule := range g.Rules() {
			if selectsAny(rule.Query(), series) {
				d.Rules = append(d.Rules, RuleRef{Group: g.Name(), File: g.File(), Name: rule.Name(), Type: ruleType(rule), Query: rule.Query().String()})
			}
		}
	}
	for _, a := range AlertsOf(s) {
		if a.Labels["probe"] == name {
			d.Alerts = append(d.Alerts, a)
		}
	}
	d.Config = RedactedYAML(pc)
	return d, true
}

// probeSeries are label sets like the ones the probe writes, one per series
// name, without the reason and phase labels, which vary.
func probeSeries(pc *configs.ProbeConfig, replica string) []labels.Labels {
	names := []string{probes.MetricSuccess, probes.MetricDuration, probes.MetricRoundTrip, probes.MetricHTTPStatusCode,
		probes.MetricHTTPDuration, probes.MetricCertExpiry, probes.MetricFailures, probes.MetricLastHeartbeat}
	out := make([]labels.Labels, len(names))
	for i, n := range names {
		m := map[string]string{model.MetricNameLabel: n, "probe": pc.Name, "kind": pc.Kind(), "replica": replica}
		for k, v := range pc.Labels {
			m[string(k)] = string(v)
		}
		out[i] = labels.FromMap(m)
	}
	return out
}

// selectsAny reports whether a selector of expr could select one of series.
// Matchers on labels a series varies by (reason, phase) are not checked.
func selectsAny(expr parser.Expr, series []labels.Labels) bool {
	found := false
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok || found {
			return nil
		}
		for _, ls := range series {
			if matches(vs.LabelMatchers, ls) {
				found = true
				return nil
			}
		}
		return nil
	})
	return found
}

func matches(ms []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range ms {
		if (m.Name == "reason" || m.Name == "phase") && !ls.Has(m.Name) {
			continue
		}
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// AlertsOf lists the active alerts, firing before pending, oldest first.
func AlertsOf(s pipeline.Snapshot) []Alert {
	out := []Alert{}
	for _, g := range s.Rules.Groups {
		for _, r := range g.AlertingRules() {
			out = append(out, ruleAlerts(s.Rules, r)...)
		}
	}
	for _, raised := range []struct {
		alerts []*model.Alert
		source string
	}{{s.NotifierAlerts, "dispatcher"}, {s.ReplicaAlerts, "cluster"}} {
		for _, a := range raised.alerts {
			out = append(out, Alert{
				Name: string(a.Labels[model.AlertNameLabel]), State: "firing",
				Labels: labelSetMap(a.Labels), Annotations: labelSetMap(a.Annotations),
				ActiveAt: a.StartsAt, Source: raised.source,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Alert) int {
		// "firing" sorts before "pending".
		return cmp.Or(cmp.Compare(a.State, b.State), a.ActiveAt.Compare(b.ActiveAt))
	})
	return out
}

func ruleAlerts(v rules.View, r *promrules.AlertingRule) []Alert {
	out := []Alert{}
	for _, a := range v.ActiveAlerts(r) {
		out = append(out, Alert{
			Name: r.Name(), State: a.State.String(),
			Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
			ActiveAt: a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'g', -1, 64), Source: "rule",
		})
	}
	return out
}

// RuleGroupsOf lists the rule groups in force with their rules' health.
func RuleGroupsOf(s pipeline.Snapshot) []RuleGroup {
	out := make([]RuleGroup, 0, len(s.Rules.Groups))
	for _, g := range s.Rules.Groups {
		rg := RuleGroup{
			Name: g.Name(), File: g.File(), IntervalSeconds: g.Interval().Seconds(),
			LastEvaluation: g.GetLastEvaluation(), EvaluationSeconds: g.GetEvaluationTime().Seconds(),
			Rules: []Rule{},
		}
		for _, r := range g.Rules() {
			rule := Rule{
				Name: r.Name(), Type: ruleType(r), Query: r.Query().String(), Labels: r.Labels().Map(),
				Health: string(r.Health()), LastEvaluation: r.GetEvaluationTimestamp(),
				EvaluationSeconds: r.GetEvaluationDuration().Seconds(),
			}
			if err := r.LastError(); err != nil {
				rule.LastError = err.Error()
			}
			if ar, ok := r.(*promrules.AlertingRule); ok {
				rule.ForSeconds = ar.HoldDuration().Seconds()
				rule.KeepFiringForSeconds = ar.KeepFiringFor().Seconds()
				ls, anns := s.Rules.Templates(ar)
				rule.Labels, rule.Annotations = ls.Map(), anns.Map()
				rule.State = ar.State().String()
				rule.Alerts = ruleAlerts(s.Rules, ar)
			}
			rg.Rules = append(rg.Rules, rule)
			// tocsin evaluates groups itself, so the group's own record of
			// its last evaluation stays empty; its rules keep theirs.
			if g.GetLastEvaluation().IsZero() {
				if ts := r.GetEvaluationTimestamp(); ts.After(rg.LastEvaluation) {
					rg.LastEvaluation = ts
				}
				rg.EvaluationSeconds += rule.EvaluationSeconds
			}
		}
		out = append(out, rg)
	}
	return out
}

func ruleType(r promrules.Rule) string {
	if _, ok := r.(*promrules.AlertingRule); ok {
		return "alerting"
	}
	return "recording"
}

// IntegrationsOf lists every integration of every receiver.
func IntegrationsOf(s pipeline.Snapshot) []Integration {
	out := make([]Integration, 0, len(s.Integrations))
	for _, in := range s.Integrations {
		i := Integration{
			Receiver: in.Receiver, Strategy: in.Strategy, Integration: in.Integration, Index: in.Index,
			Up: in.Up, Outcome: in.Outcome, Attempts: in.Attempts, LatencySeconds: in.Latency.Seconds(), Reason: in.Reason,
		}
		if !in.LastAttempt.IsZero() {
			t := in.LastAttempt
			i.LastAttempt = &t
		}
		out = append(out, i)
	}
	return out
}

// ConfigOf is the configuration in force as YAML, secrets redacted.
func ConfigOf(s pipeline.Snapshot) string {
	if s.Config == nil {
		return ""
	}
	return RedactedYAML(s.Config)
}

// RedactedYAML renders v as YAML with every secret hidden. Secret fields
// render as <secret> by their own type; this also hides what people write
// into plain strings: passwords in URLs (mqtt://user:password@host), URL
// query parameters that carry credentials (?token=, &api_key=), and the
// values of headers such as Authorization.
func RedactedYAML(v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return "# cannot render: " + err.Error()
	}
	redactNode(&n, false)
	out, err := yaml.Marshal(&n)
	if err != nil {
		return "# cannot render: " + err.Error()
	}
	return string(out)
}

// redactNode walks n; inHeaders is true for the mapping under a headers key.
func redactNode(n *yaml.Node, inHeaders bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		n.Value = Redact(n.Value)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if inHeaders && sensitiveName.MatchString(k.Value) && v.Kind == yaml.ScalarNode {
				v.Value, v.Style = "<secret>", 0
				continue
			}
			redactNode(v, k.Value == "headers")
		}
	default:
		for _, c := range n.Content {
			redactNode(c, false)
		}
	}
}

var (
	// urlPassword is the password in a URL's user information.
	urlPassword = regexp.MustCompile(`(://[^/\s:@'"]*):[^/\s@'"]*@`)
	// sensitiveName matches header and query parameter names that carry credentials.
	sensitiveName = regexp.MustCompile(`(?i)auth|token|key|secret|passw|cookie|sig|session|credential`)
	// urlQueryParam is one name=value of a URL's query.
	urlQueryParam = regexp.MustCompile(`([?&])([^=&#\s'"]+)=([^&#\s'"]*)`)
)

// Redact hides credentials written into URLs in text: the password of
// user:password@, and the values of query parameters whose names say they
// are credentials.
func Redact(text string) string {
	text = urlPassword.ReplaceAllString(text, "$1:<secret>@")
	return urlQueryParam.ReplaceAllStringFunc(text, func(m string) string {
		p := urlQueryParam.FindStringSubmatch(m)
		if !sensitiveName.MatchString(p[2]) {
			return m
		}
		return p[1] + p[2] + "=<secret>"
	})
}

func labelSetMap(ls model.LabelSet) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	m := make(map[string]string, len(ls))
	for k, v := range ls {
		m[string(k)] = string(v)
	}
	return m
}

// attentionOrder ranks probe states by how urgently a person should look.
var attentionOrder = map[string]int{StateDown: 0, StateStale: 1, StateUnknown: 2, StateUp: 3}

// ByAttention returns the probes with the ones that need a person first
// (down, stale, not run yet, up), each state in config order.
func ByAttention(ps []Probe) []Probe {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Probe) int {
		return cmp.Compare(attentionOrder[a.State], attentionOrder[b.State])
	})
	return out
}
