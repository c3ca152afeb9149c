package notifiers

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// WorstCaseToPage is the longest a new alert can wait on route r before
// the first call to its receiver's vendors: group_wait when it opens a
// group, but up to group_interval when it joins a group that has already
// notified. With strategy failover, each integration that fails adds
// failover_after before the next is tried. Time the rules take to fire
// (`for:`, evaluation) comes before this, and time intervals that mute the
// route come on top.
func (r *Route) WorstCaseToPage(rcv *Receiver) time.Duration {
	d := max(r.GroupWait, r.GroupInterval)
	if rcv != nil && rcv.Strategy == configs.StrategyFailover && len(rcv.Integrations) > 1 {
		d += time.Duration(len(rcv.Integrations)-1) * rcv.FailoverAfter
	}
	return d
}

// TimeToPage describes every route of the tree with its receiver and its
// worst-case time from a new alert to the page, for the start-up summary:
// `{}/{severity="info"}→chat 5m0s`.
func TimeToPage(root *Route, receivers []*Receiver) string {
	byName := map[string]*Receiver{}
	for _, r := range receivers {
		byName[r.Name] = r
	}
	var out []string
	root.walk(func(r *Route) {
		s := fmt.Sprintf("%s→%s %s", r.Key(), r.Receiver, r.WorstCaseToPage(byName[r.Receiver]))
		if len(r.MuteTimeIntervals)+len(r.ActiveTimeIntervals) > 0 {
			s += " (or later: time intervals)"
		}
		out = append(out, s)
	})
	return strings.Join(out, " ")
}
