package notifiers

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
)

// Route labels, as in Alertmanager: a route's labels (its parents'
// included) are templates, rendered at each flush of a group against the
// group's alerts, and message templates see the rendered values as
// .RouteLabels and through the routeLabels function.

// renderLabels renders the route's labels for n, a group's notification,
// as Alertmanager's dispatcher does: against Alertmanager's template data
// of the group's alerts, with no notification reason yet ("unknown"), each
// label able to use another through routeLabels. A label that cannot
// render is left out and its error returned, joined with the others'.
func (r *Route) renderLabels(n *Notification) (model.LabelSet, error) {
	if len(r.Labels) == 0 {
		return nil, nil
	}
	render, err := r.templates.routeLabelRenderer(r.Labels, n)
	if err != nil {
		return nil, err
	}
	out := make(model.LabelSet, len(r.Labels))
	var errs []error
	// In name order, so that the same labels fail in the same order.
	for _, name := range slices.Sorted(maps.Keys(r.Labels)) {
		v, err := render(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("route label %s: %w", name, err))
			continue
		}
		out[name] = model.LabelValue(v)
	}
	return out, errors.Join(errs...)
}

// routeLabelRenderer returns Alertmanager's renderer of the route labels
// labels for n, from the set's templates (a nil set has the defaults).
func (ts *Templates) routeLabelRenderer(labels model.LabelSet, n *Notification) (func(model.LabelName) (string, error), error) {
	set, err := ts.orDefault()
	if err != nil {
		return nil, err
	}
	data := dataOf(n.ExternalURL).Data(n.Receiver, n.GroupLabels, labels, amnotify.ReasonUnknown.String(), amAlerts(n.Alerts)...)
	render := set.am.RouteLabelRenderer(data)
	return func(name model.LabelName) (string, error) {
		v, err := render(string(name))
		if err != nil {
			return "", cleanTemplateError(err)
		}
		return v, nil
	}, nil
}

// withRouteLabels sets the rendered route labels of a flush's
// notification; a label that cannot render is logged and left out, as
// Alertmanager does, and the notification leaves without it.
func (g *group) withRouteLabels(f *flush) *flush {
	labels, err := g.route.renderLabels(f.n)
	if err != nil {
		g.d.logger.Error("route label cannot render; the notification is sent without it", "group", g.key, "err", err)
	}
	f.n.RouteLabels = labels
	return f
}

// checkLabels renders the labels of every route of the tree against the
// sample notifications, firing and resolved, so that a label that cannot
// render refuses the config where it is loaded rather than when it pages.
func (r *Route) checkLabels() error {
	var errs []error
	r.walk(func(r *Route) {
		for _, status := range []model.AlertStatus{model.AlertFiring, model.AlertResolved} {
			if _, err := r.renderLabels(sampleNotification(status)); err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", r.key, err))
				return
			}
		}
	})
	return errors.Join(errs...)
}
