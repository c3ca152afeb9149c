package configs

import (
	"regexp"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

// InhibitRule mutes the alerts that match its target side while an alert
// that matches its source side fires, where both carry the same values for
// the labels in Equal. The keys are Alertmanager's, including the
// deprecated source_match(_re) and target_match(_re).
type InhibitRule struct {
	Name           string            `yaml:"name,omitempty"`
	SourceMatch    map[string]string `yaml:"source_match,omitempty"`
	SourceMatchRE  map[string]string `yaml:"source_match_re,omitempty"`
	SourceMatchers []string          `yaml:"source_matchers,omitempty"`
	TargetMatch    map[string]string `yaml:"target_match,omitempty"`
	TargetMatchRE  map[string]string `yaml:"target_match_re,omitempty"`
	TargetMatchers []string          `yaml:"target_matchers,omitempty"`
	// Equal names the labels whose values must be the same in the source
	// and the target alert; a label missing on both sides counts as equal.
	Equal []string `yaml:"equal,omitempty"`
}

// Source returns the matchers of the source side, in Alertmanager's order:
// source_match, source_match_re, then source_matchers.
func (r *InhibitRule) Source() labels.Matchers {
	return matchersOf(r.SourceMatch, r.SourceMatchRE, r.SourceMatchers)
}

// Target returns the matchers of the target side.
func (r *InhibitRule) Target() labels.Matchers {
	return matchersOf(r.TargetMatch, r.TargetMatchRE, r.TargetMatchers)
}

// RouteMatchers returns the matchers of a route: match, match_re and
// matchers together.
func (r *Route) RouteMatchers() labels.Matchers {
	return matchersOf(r.Match, r.MatchRE, r.Matchers)
}

// matchersOf builds matchers from a validated config; values that do not
// parse were reported by validation and are skipped here.
func matchersOf(eq, re map[string]string, ms []string) labels.Matchers {
	var out labels.Matchers
	for _, m := range []struct {
		kv map[string]string
		t  labels.MatchType
	}{{eq, labels.MatchEqual}, {re, labels.MatchRegexp}} {
		for name, value := range m.kv {
			if matcher, err := labels.NewMatcher(m.t, name, value); err == nil {
				out = append(out, matcher)
			}
		}
	}
	for _, s := range ms {
		if parsed, err := parse.Matchers(s); err == nil {
			out = append(out, parsed...)
		}
	}
	return out
}

func (r *InhibitRule) validate(v *validator) {
	for i := range r.SourceMatchers {
		validateMatcher(v, &r.SourceMatchers[i])
	}
	for i := range r.TargetMatchers {
		validateMatcher(v, &r.TargetMatchers[i])
	}
	validateMatchMaps(v, &r.SourceMatch, &r.SourceMatchRE, "source_match")
	validateMatchMaps(v, &r.TargetMatch, &r.TargetMatchRE, "target_match")
	for i := range r.Equal {
		if !model.UTF8Validation.IsValidLabelName(r.Equal[i]) {
			v.errorf(&r.Equal[i], "equal: %q is not a valid label name", r.Equal[i])
		}
	}
}

// validateMatchMaps checks the deprecated match / match_re maps: label
// names must be valid, and regular expressions must compile.
func validateMatchMaps(v *validator, eq, re *map[string]string, key string) {
	for name := range *eq {
		if !model.UTF8Validation.IsValidLabelName(name) {
			v.errorf(eq, "%s: %q is not a valid label name", key, name)
		}
	}
	for name, expr := range *re {
		if !model.UTF8Validation.IsValidLabelName(name) {
			v.errorf(re, "%s_re: %q is not a valid label name", key, name)
		}
		if _, err := regexp.Compile("^(?:" + expr + ")$"); err != nil {
			v.errorf(re, "%s_re: %s: bad regular expression %q: %v", key, name, expr, err)
		}
	}
}
