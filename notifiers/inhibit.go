package notifiers

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Inhibitor mutes alerts while other alerts fire, by the inhibit_rules of
// the config, with Alertmanager's semantics: an alert that matches a rule's
// target side is inhibited while an alert that matches its source side is
// firing and carries the same values for the rule's equal labels (a label
// missing on both sides counts as equal). An alert that matches both sides
// of a rule is never inhibited by an alert that also matches both sides, so
// that such alerts cannot mute each other.
//
// It is told of alerts by Observe and answers Inhibits; it is safe for
// concurrent use.
type Inhibitor struct {
	rules []*inhibitRule
}

type inhibitRule struct {
	name           string
	source, target labels.Matchers
	equal          []model.LabelName

	mu sync.RWMutex
	// sources holds the alerts matching the source side, by the
	// fingerprint of their equal labels, then by their own fingerprint, so
	// that a storm of alerts is checked without scanning every source.
	sources map[model.Fingerprint]map[model.Fingerprint]*model.Alert
}

// NewInhibitor builds an Inhibitor from validated inhibit_rules.
func NewInhibitor(rules []*configs.InhibitRule) *Inhibitor {
	ih := &Inhibitor{}
	for _, r := range rules {
		if r == nil {
			continue
		}
		ir := &inhibitRule{name: r.Name, source: r.Source(), target: r.Target(), sources: map[model.Fingerprint]map[model.Fingerprint]*model.Alert{}}
		for _, n := range r.Equal {
			ir.equal = append(ir.equal, model.LabelName(n))
		}
		ih.rules = append(ih.rules, ir)
	}
	return ih
}

// Observe records alerts (firing or resolved) that may inhibit others. A
// later version of an alert, by its labels, replaces the earlier.
func (ih *Inhibitor) Observe(alerts ...*model.Alert) {
	for _, r := range ih.rules {
		r.mu.Lock()
		r.add(r.sources, alerts)
		r.mu.Unlock()
	}
}

// add files the alerts that match the rule's source side into sources.
func (r *inhibitRule) add(sources map[model.Fingerprint]map[model.Fingerprint]*model.Alert, alerts []*model.Alert) {
	for _, a := range alerts {
		if !r.source.Matches(a.Labels) {
			continue
		}
		eq := r.equalKey(a.Labels)
		if sources[eq] == nil {
			sources[eq] = map[model.Fingerprint]*model.Alert{}
		}
		sources[eq][a.Fingerprint()] = a
	}
}

// Replace makes alerts the only ones the inhibitor knows of, for a caller
// that holds every alert: one that left it can no longer inhibit.
func (ih *Inhibitor) Replace(alerts ...*model.Alert) {
	for _, r := range ih.rules {
		sources := map[model.Fingerprint]map[model.Fingerprint]*model.Alert{}
		r.add(sources, alerts)
		r.mu.Lock()
		r.sources = sources
		r.mu.Unlock()
	}
}

// Forget drops the alerts that were resolved at t, which can no longer
// inhibit anything at t or later.
func (ih *Inhibitor) Forget(t time.Time) {
	for _, r := range ih.rules {
		r.mu.Lock()
		for eq, set := range r.sources {
			for fp, a := range set {
				if a.ResolvedAt(t) {
					delete(set, fp)
				}
			}
			if len(set) == 0 {
				delete(r.sources, eq)
			}
		}
		r.mu.Unlock()
	}
}

// Inhibits reports whether an alert with the given labels is inhibited at
// t, and by which rule (its name, which may be empty).
func (ih *Inhibitor) Inhibits(lset model.LabelSet, t time.Time) (bool, string) {
	for _, r := range ih.rules {
		if !r.target.Matches(lset) {
			continue
		}
		found := false
		r.eachSource(lset, t, func(model.Fingerprint) bool { found = true; return false })
		if found {
			return true, r.name
		}
	}
	return false, ""
}

// InhibitedBy returns the fingerprints of the firing alerts that inhibit
// an alert with the given labels at t, by any rule, sorted; what
// Alertmanager's API shows as an alert's inhibitedBy.
func (ih *Inhibitor) InhibitedBy(lset model.LabelSet, t time.Time) []model.Fingerprint {
	var out []model.Fingerprint
	for _, r := range ih.rules {
		if !r.target.Matches(lset) {
			continue
		}
		r.eachSource(lset, t, func(fp model.Fingerprint) bool {
			if !slices.Contains(out, fp) {
				out = append(out, fp)
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

// eachSource calls yield with each firing source alert that has the same
// equal labels as lset, until yield returns false. When lset matches the
// source side too, source alerts that also match the target side do not
// count.
func (r *inhibitRule) eachSource(lset model.LabelSet, t time.Time, yield func(model.Fingerprint) bool) {
	bothSides := r.source.Matches(lset)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for fp, a := range r.sources[r.equalKey(lset)] {
		if a.ResolvedAt(t) || (bothSides && r.target.Matches(a.Labels)) {
			continue
		}
		if !yield(fp) {
			return
		}
	}
}

// equalKey fingerprints the values of the equal labels; a missing label
// and an empty value are the same, as in Alertmanager.
func (r *inhibitRule) equalKey(lset model.LabelSet) model.Fingerprint {
	eq := make(model.LabelSet, len(r.equal))
	for _, n := range r.equal {
		eq[n] = lset[n]
	}
	return eq.Fingerprint()
}
