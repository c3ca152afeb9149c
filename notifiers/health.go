package notifiers

import (
	"strconv"
	"sync"

	"github.com/prometheus/common/model"
)

// AlertNotifierFailing is the alert the dispatcher raises when an
// integration stops accepting notifications. It is routed like any other
// alert and delivered through every integration except the failing one.
const AlertNotifierFailing = "NotifierFailing"

// health tracks whether each integration accepts notifications, exports it
// as tocsin_integration_up, and turns a change into a NotifierFailing alert
// (firing or resolved) fed back into the dispatcher.
type health struct {
	d  *Dispatcher
	mu sync.Mutex
	// down holds the failing integrations with the alert raised for each.
	down map[healthKey]*model.Alert
	// known is the set of integrations in the current configuration.
	known map[healthKey]*Integration
	// last is each integration's last delivery, for the status pages.
	last map[healthKey]attempt
}

type healthKey struct {
	receiver string
	integrationKey
}

func newHealth(d *Dispatcher) *health {
	return &health{d: d, down: map[healthKey]*model.Alert{}, known: map[healthKey]*Integration{}}
}

// update takes a new set of receivers: new integrations start up, and
// integrations that are gone no longer count, their alerts resolved.
func (h *health) update(receivers map[string]*Receiver) {
	h.mu.Lock()
	known := map[healthKey]*Integration{}
	for _, r := range receivers {
		for i := range r.Integrations {
			in := &r.Integrations[i]
			k := healthKey{r.Name, integrationKey{in.Name, in.Index}}
			known[k] = in
			if _, down := h.down[k]; !down {
				h.d.metrics.setUp(r.Name, in, true)
			}
		}
	}
	var resolve []*model.Alert
	for k, in := range h.known {
		if _, ok := known[k]; ok {
			continue
		}
		h.d.metrics.forget(k.receiver, in)
		delete(h.last, k)
		if a, down := h.down[k]; down {
			resolve = append(resolve, h.resolved(a))
			delete(h.down, k)
		}
	}
	h.known = known
	h.mu.Unlock()
	for _, a := range resolve {
		h.d.sendInternal(a)
	}
}

// report records the outcome of one delivery to one integration.
func (h *health) report(r *Receiver, in *Integration, res result) {
	k := healthKey{r.Name, integrationKey{in.Name, in.Index}}
	up := res.outcome == OutcomeAccepted
	h.mu.Lock()
	a, wasDown := h.down[k]
	var send *model.Alert
	switch {
	case up && wasDown:
		delete(h.down, k)
		send = h.resolved(a)
	case !up && !wasDown:
		a = h.firing(r, in, res)
		h.down[k] = a
		send = a
	}
	h.d.metrics.setUp(r.Name, in, up)
	h.remember(k, res)
	h.mu.Unlock()
	if send != nil {
		if up {
			h.d.logger.Info("integration accepts notifications again", "receiver", r.Name, "integration", in.String())
		} else {
			h.d.logger.Error("integration is failing; raising "+AlertNotifierFailing, "receiver", r.Name, "integration", in.String(), "err", errText(res.err))
		}
		h.d.sendInternal(send)
	}
}

func (h *health) firing(r *Receiver, in *Integration, res result) *model.Alert {
	labels := model.LabelSet{
		model.AlertNameLabel: AlertNotifierFailing,
		"severity":           "page",
		"receiver":           model.LabelValue(r.Name),
		"integration":        model.LabelValue(in.Name),
		"index":              model.LabelValue(strconv.Itoa(in.Index)),
	}
	for k, v := range h.d.opts.ExternalLabels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	return &model.Alert{
		Labels: labels,
		Annotations: model.LabelSet{
			"summary":     model.LabelValue("Notifications through " + in.String() + " of receiver " + r.Name + " are failing"),
			"description": model.LabelValue(errText(res.err)),
		},
		StartsAt:     h.d.clock.Now(),
		GeneratorURL: receiversURL(h.d.opts.ExternalURL),
	}
}

func (h *health) resolved(a *model.Alert) *model.Alert {
	c := *a
	c.EndsAt = h.d.clock.Now()
	return &c
}

// aboutIntegration reports whether a is the NotifierFailing alert of in.
func aboutIntegration(a *model.Alert, receiver string, in *Integration) bool {
	return a.Labels[model.AlertNameLabel] == AlertNotifierFailing &&
		string(a.Labels["receiver"]) == receiver &&
		string(a.Labels["integration"]) == in.Name &&
		string(a.Labels["index"]) == strconv.Itoa(in.Index)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error() // already redacted by the sender
}
