package configs

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Warnings are settings that are valid, and mean what they mean in
// Alertmanager, but can delay or hide a page. `tocsin check config`
// prints them; they never stop a config from loading.
func (c *Config) Warnings() Errors { return c.warnings }

// pageDelayLimit is the longest group_wait or group_interval on a paging
// route that draws no warning.
const pageDelayLimit = model.Duration(time.Minute)

// effective holds a route's inherited value and where it was set, for the
// position of a warning (the top-level route when a default applies).
type effective[T any] struct {
	value T
	at    any
}

type routeScope struct {
	receiver                               effective[string]
	groupBy                                effective[[]model.LabelName]
	groupWait, groupInterval, repeatInterv effective[model.Duration]
}

// pagingTraps finds the warnings of a valid config.
func (c *Config) pagingTraps(v *validator) Errors {
	if c.Route == nil {
		return nil
	}
	w := &validator{collector: &collector{file: v.file}, pos: v.pos, dir: v.dir}
	receivers := map[string]*ReceiverConfig{}
	for _, r := range c.Receivers {
		if r != nil {
			receivers[r.Name] = r
		}
	}
	paging := map[string]bool{}
	root := c.Route
	scope := routeScope{
		receiver:      effective[string]{root.Receiver, &root.Receiver},
		groupBy:       effective[[]model.LabelName]{root.GroupBy, root},
		groupWait:     w.rootValue(root, root.GroupWait),
		groupInterval: w.rootValue(root, root.GroupInterval),
		repeatInterv:  w.rootValue(root, root.RepeatInterval),
	}
	seen := map[string]bool{}
	warn := func(at any, format string, args ...any) {
		msg := "warning: " + fmt.Sprintf(format, args...)
		n := w.pos.of(at)
		key := msg
		if n != nil {
			key = fmt.Sprintf("%d:%d:%s", n.Line, n.Column, msg)
		}
		if !seen[key] {
			seen[key] = true
			w.at(n, "%s", msg)
		}
	}
	var walk func(r *Route, s routeScope, top bool)
	walk = func(r *Route, s routeScope, top bool) {
		if !top {
			s = s.child(r)
		}
		rc := receivers[s.receiver.value]
		if rc != nil && rc.pages() {
			paging[rc.Name] = true
			s.warnPaging(warn, rc.Name)
		}
		if s.repeatInterv.value < s.groupInterval.value {
			warn(s.repeatInterv.at, "repeat_interval %s is shorter than group_interval %s: a group is only re-sent at group_interval, so repeats come every %s",
				s.repeatInterv.value, s.groupInterval.value, s.groupInterval.value)
		}
		for _, child := range r.Routes {
			if child != nil {
				walk(child, s, false)
			}
		}
	}
	walk(root, scope, true)
	for _, r := range receivers {
		if kinds := r.integrationKinds(); paging[r.Name] && len(kinds) == 1 {
			warn(&r.Name, "receiver %q pages through a single integration (%s) and has no failover: if that vendor fails, nobody is paged; add a second integration",
				r.Name, strings.TrimSuffix(kinds[0], "_configs"))
		}
	}
	w.errs.Sort()
	return w.errs
}

// rootValue is a timer of the top-level route; a default, not written in
// the file, is placed at the route itself.
func (v *validator) rootValue(root *Route, d *model.Duration) effective[model.Duration] {
	if v.pos.of(d) == nil {
		return effective[model.Duration]{*d, root}
	}
	return effective[model.Duration]{*d, d}
}

func (s routeScope) child(r *Route) routeScope {
	if r.Receiver != "" {
		s.receiver = effective[string]{r.Receiver, &r.Receiver}
	}
	if r.GroupBy != nil {
		s.groupBy = effective[[]model.LabelName]{r.GroupBy, &r.GroupBy}
	}
	for _, d := range []struct {
		from *model.Duration
		to   *effective[model.Duration]
	}{{r.GroupWait, &s.groupWait}, {r.GroupInterval, &s.groupInterval}, {r.RepeatInterval, &s.repeatInterv}} {
		if d.from != nil {
			*d.to = effective[model.Duration]{*d.from, d.from}
		}
	}
	return s
}

func (s routeScope) warnPaging(warn func(at any, format string, args ...any), receiver string) {
	if len(s.groupBy.value) == 0 {
		warn(s.groupBy.at, "route to paging receiver %q has no group_by: every alert joins one group, so a new alert waits up to group_interval (%s) behind an unrelated one and reuses its dedup key (one incident); group by alertname and the labels that tell incidents apart",
			receiver, s.groupInterval.value)
	}
	if s.groupWait.value > pageDelayLimit {
		warn(s.groupWait.at, "group_wait %s on a route to paging receiver %q holds every first page for %s; keep it at 1m or less", s.groupWait.value, receiver, s.groupWait.value)
	}
	if s.groupInterval.value > pageDelayLimit {
		warn(s.groupInterval.at, "group_interval %s on a route to paging receiver %q: a new alert in a group that has already paged waits up to %s; keep it at 1m or less", s.groupInterval.value, receiver, s.groupInterval.value)
	}
}

// pages reports whether the receiver has an integration that wakes a person up.
func (r *ReceiverConfig) pages() bool {
	return len(r.PagerDutyConfigs)+len(r.OpsgenieConfigs)+len(r.TwilioConfigs) > 0
}

// integrationKinds lists the receiver's integrations by key, one entry per config.
func (r *ReceiverConfig) integrationKinds() []string {
	var out []string
	for _, k := range []struct {
		key string
		n   int
	}{
		{"pagerduty_configs", len(r.PagerDutyConfigs)}, {"slack_configs", len(r.SlackConfigs)}, {"opsgenie_configs", len(r.OpsgenieConfigs)},
		{"webhook_configs", len(r.WebhookConfigs)}, {"email_configs", len(r.EmailConfigs)}, {"msteams_configs", len(r.MSTeamsConfigs)},
		{"twilio_configs", len(r.TwilioConfigs)},
	} {
		for range k.n {
			out = append(out, k.key)
		}
	}
	return out
}
