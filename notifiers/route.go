package notifiers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Route is a node of the route tree with every inherited value filled in,
// built from a configs.Route by NewRoute.
type Route struct {
	Receiver string
	// GroupBy is sorted; GroupByAll groups by every label instead.
	GroupBy        []model.LabelName
	GroupByAll     bool
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	Matchers       labels.Matchers
	Continue       bool
	Routes         []*Route
	// MuteTimeIntervals and ActiveTimeIntervals name the time intervals
	// that silence this route (MutedAt); they are not inherited.
	MuteTimeIntervals   []string
	ActiveTimeIntervals []string
	// Labels are the route's labels and those it inherits, as written:
	// templates, rendered at each flush of a group (see renderLabels).
	Labels model.LabelSet

	key       string
	intervals *timeinterval.Intervener
	// templates render the labels: the config's templates, shared by
	// the whole tree; nil has the default templates only.
	templates *Templates
	// inhibitor holds the config's inhibit rules, on the top-level route
	// only: the tree is what a config reload swaps, so rules and routes
	// change together.
	inhibitor *Inhibitor
}

// NewRoute builds the route tree from its configuration. Children inherit
// receiver, group_by and timers from their parent, as in Alertmanager.
// A route that names time intervals needs NewRouteFromConfig instead.
func NewRoute(cfg *configs.Route) (*Route, error) {
	return newRouteTree(cfg, nil, nil)
}

// hasLabels tells whether any route of the tree has labels.
func hasLabels(cfg *configs.Route) bool {
	if cfg == nil {
		return false
	}
	return len(cfg.Labels) > 0 || slices.ContainsFunc(cfg.Routes, hasLabels)
}

// NewRouteFromConfig builds the route tree of a whole config, with its
// time intervals (time_intervals and mute_time_intervals). It carries the config's inhibit rules (Inhibitor).
// Route labels render with the config's templates, and a label that
// cannot render the sample notifications is refused here.
func NewRouteFromConfig(cfg *configs.Config) (*Route, error) {
	var ts *Templates
	if hasLabels(cfg.Route) {
		var err error
		if ts, err = TemplatesFromConfig(cfg, nil); err != nil {
			return nil, err
		}
	}
	r, err := newRouteTree(cfg.Route, cfg.AllTimeIntervals(), ts)
	if err != nil {
		return nil, err
	}
	if err := r.checkLabels(); err != nil {
		return nil, err
	}
	if len(cfg.InhibitRules) > 0 {
		r.inhibitor = NewInhibitor(cfg.InhibitRules)
	}
	return r, nil
}

// Inhibitor returns the inhibit rules of the config the tree was built
// from; nil when it has none, or below the top-level route.
func (r *Route) Inhibitor() *Inhibitor { return r.inhibitor }

func newRouteTree(cfg *configs.Route, intervals map[string][]timeinterval.TimeInterval, ts *Templates) (*Route, error) {
	if cfg == nil {
		return nil, errors.New("route: no route configured")
	}
	root := &Route{
		GroupWait:      time.Duration(configs.DefaultGroupWait),
		GroupInterval:  time.Duration(configs.DefaultGroupInterval),
		RepeatInterval: time.Duration(configs.DefaultRepeatInterval),
	}
	root.intervals = timeinterval.NewIntervener(intervals)
	root.templates = ts
	r, err := newRoute(cfg, root, "", intervals)
	if err != nil {
		return nil, err
	}
	if r.Receiver == "" {
		return nil, errors.New("route: the top-level route needs a receiver")
	}
	return r, nil
}

func newRoute(cfg *configs.Route, parent *Route, parentKey string, intervals map[string][]timeinterval.TimeInterval) (*Route, error) {
	r := &Route{
		intervals:      parent.intervals,
		templates:      parent.templates,
		Labels:         cfg.MergedLabels(parent.Labels),
		Receiver:       parent.Receiver,
		GroupBy:        parent.GroupBy,
		GroupByAll:     parent.GroupByAll,
		GroupWait:      parent.GroupWait,
		GroupInterval:  parent.GroupInterval,
		RepeatInterval: parent.RepeatInterval,
		Continue:       cfg.Continue,
	}
	if cfg.Receiver != "" {
		r.Receiver = cfg.Receiver
	}
	if cfg.GroupBy != nil {
		r.GroupBy, r.GroupByAll = nil, false
		for _, n := range cfg.GroupBy {
			if n == configs.GroupByAll {
				r.GroupByAll = true
				continue
			}
			r.GroupBy = append(r.GroupBy, n)
		}
		slices.Sort(r.GroupBy)
		r.GroupBy = slices.Compact(r.GroupBy)
	}
	for _, d := range []struct {
		from *model.Duration
		to   *time.Duration
	}{{cfg.GroupWait, &r.GroupWait}, {cfg.GroupInterval, &r.GroupInterval}, {cfg.RepeatInterval, &r.RepeatInterval}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	for _, s := range cfg.Matchers {
		if _, err := parse.Matchers(s); err != nil {
			return nil, fmt.Errorf("route: bad matcher %q: %w", s, err)
		}
	}
	// match, match_re and matchers together, sorted, as Alertmanager
	// builds them; the order is part of the route's key.
	r.Matchers = cfg.RouteMatchers()
	sort.Sort(r.Matchers)
	for _, names := range [][]string{cfg.MuteTimeIntervals, cfg.ActiveTimeIntervals} {
		for _, name := range names {
			if _, ok := intervals[name]; !ok {
				return nil, fmt.Errorf("route: time interval %q is not defined", name)
			}
		}
	}
	r.MuteTimeIntervals, r.ActiveTimeIntervals = cfg.MuteTimeIntervals, cfg.ActiveTimeIntervals
	// The key names the route by its matchers along the path from the
	// root, as Alertmanager does, so that it stays the same when unrelated
	// routes are added or reordered. It is part of every group key.
	if parentKey == "" {
		r.key = "{}"
	} else {
		r.key = parentKey + "/" + r.Matchers.String()
	}
	if r.GroupInterval <= 0 || r.RepeatInterval <= 0 || r.GroupWait < 0 {
		return nil, fmt.Errorf("route %s: group_interval and repeat_interval must be positive, group_wait not negative", r.key)
	}
	for _, c := range cfg.Routes {
		if c == nil {
			continue
		}
		child, err := newRoute(c, r, r.key, intervals)
		if err != nil {
			return nil, err
		}
		r.Routes = append(r.Routes, child)
	}
	return r, nil
}

// Key identifies the route within the tree.
func (r *Route) Key() string { return r.key }

// Match returns the routes that take an alert with the given labels: the
// deepest matching routes, following continue among siblings, or the route
// itself when no child matches. It returns nil when the route does not
// match at all.
func (r *Route) Match(lset model.LabelSet) []*Route {
	if !r.Matchers.Matches(lset) {
		return nil
	}
	var all []*Route
	for _, c := range r.Routes {
		m := c.Match(lset)
		all = append(all, m...)
		if m != nil && !c.Continue {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, r)
	}
	return all
}

// groupLabels picks the labels of lset that define its group on this route.
func (r *Route) groupLabels(lset model.LabelSet) model.LabelSet {
	if r.GroupByAll {
		return lset.Clone()
	}
	out := make(model.LabelSet, len(r.GroupBy))
	for _, n := range r.GroupBy {
		if v, ok := lset[n]; ok {
			out[n] = v
		}
	}
	return out
}

// walk calls f for r and every route below it.
func (r *Route) walk(f func(*Route)) {
	f(r)
	for _, c := range r.Routes {
		c.walk(f)
	}
}
