package notifiers

import (
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// AlertGroup is one group of the dispatcher as the Alertmanager API shows
// it: the receiver it notifies, its group labels and its alerts.
type AlertGroup struct {
	Receiver string
	Labels   model.LabelSet
	// Route is the route the group belongs to.
	Route *Route
	// RouteLabels are the route's labels rendered against the group's
	// alerts, as Alertmanager shows them (a label that cannot render is
	// left out); empty when the route has none.
	RouteLabels model.LabelSet
	// Alerts are copies, ordered by fingerprint; their label sets are
	// shared with the dispatcher and must not be changed.
	Alerts []*model.Alert
}

// AlertGroups returns a copy of every group the dispatcher holds, ordered
// by receiver and group labels, with the alerts each holds, resolved ones
// included until they are delivered.
func (d *Dispatcher) AlertGroups() []AlertGroup {
	d.mu.Lock()
	groups := make([]*group, 0, len(d.groups))
	for _, g := range d.groups {
		groups = append(groups, g)
	}
	d.mu.Unlock()
	out := make([]AlertGroup, 0, len(groups))
	for _, g := range groups {
		ag := AlertGroup{Receiver: g.receiver.Name, Labels: g.labels.Clone(), Route: g.route}
		g.mu.Lock()
		fps := make([]model.Fingerprint, 0, len(g.alerts))
		for fp := range g.alerts {
			fps = append(fps, fp)
		}
		slices.Sort(fps)
		copies := make([]model.Alert, len(fps))
		ag.Alerts = make([]*model.Alert, len(fps))
		for i, fp := range fps {
			copies[i] = *g.alerts[fp]
			ag.Alerts[i] = &copies[i]
		}
		g.mu.Unlock()
		if len(ag.Alerts) > 0 {
			n := &Notification{Receiver: ag.Receiver, GroupLabels: ag.Labels, Alerts: ag.Alerts, ExternalURL: d.opts.ExternalURL}
			ag.RouteLabels, _ = g.route.renderLabels(n)
			if ag.RouteLabels == nil {
				ag.RouteLabels = model.LabelSet{}
			}
			out = append(out, ag)
		}
	}
	slices.SortFunc(out, func(a, b AlertGroup) int {
		if c := strings.Compare(a.Receiver, b.Receiver); c != 0 {
			return c
		}
		return strings.Compare(a.Labels.String(), b.Labels.String())
	})
	return out
}
