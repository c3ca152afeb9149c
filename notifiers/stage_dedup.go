package notifiers

import (
	"context"
	"slices"

	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
)

// dedupStage lets a notification through to an integration only when the
// notification log says the integration has not been told this yet, or
// repeat_interval has passed since it was. The notification carries the
// reason, as Alertmanager's dedup stage gives it (.NotificationReason).
type dedupStage struct{ d *Dispatcher }

func (s dedupStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	n, firing, resolved := narrow(d)
	k := d.integrationKey()
	prev := s.d.state.logEntryOf(d.group, k)
	reason := needsUpdate(prev, firing, resolved, d.in.SendResolved, d.f.repeat, s.d.clock.Now())
	if reason == amnotify.ReasonDoNotNotify {
		return nil, nil
	}
	var kept map[string]string
	if prev != nil {
		kept = prev.State
	}
	if len(n.Alerts) == 0 {
		// Only resolved alerts, and this integration does not want them:
		// nothing to send, but the log must forget the firing ones.
		e := &logEntry{Firing: firing, Resolved: resolved, At: s.d.clock.Now(), State: kept}
		s.d.writeState(s.d.state.record(d.group, k, e))
		return nil, nil
	}
	// A copy: the integrations of a receiver share the group's
	// notification, and each has its own reason.
	c := *n
	c.Reason = reason.String()
	d.n, d.firing, d.resolved = &c, firing, resolved
	d.state = newVendorState(kept)
	return d, nil
}

// narrow returns the group's notification as one integration should see
// it: no resolved alerts unless it has send_resolved, and never an alert
// about its own failure, which it could not deliver anyway.
func narrow(d *delivery) (*Notification, []model.Fingerprint, []model.Fingerprint) {
	f, r, in := d.f, d.r, d.in
	drop := func(a *model.Alert) bool {
		return (!in.SendResolved && !a.EndsAt.IsZero()) || aboutIntegration(a, r.Name, in)
	}
	if !slices.ContainsFunc(f.n.Alerts, drop) {
		if in.SendResolved {
			return f.n, f.firing, f.resolved
		}
		return f.n, f.firing, nil
	}
	n := *f.n
	n.Alerts, n.tmpl = nil, &templateCache{}
	var firing, resolved []model.Fingerprint
	for i, a := range f.n.Alerts {
		if aboutIntegration(a, r.Name, in) {
			continue
		}
		if a.EndsAt.IsZero() {
			firing = append(firing, f.fps[i])
		} else if in.SendResolved {
			resolved = append(resolved, f.fps[i])
		}
		if !drop(a) {
			n.Alerts = append(n.Alerts, a)
		}
	}
	slices.Sort(firing)
	slices.Sort(resolved)
	n.Status = model.AlertResolved
	if len(firing) > 0 {
		n.Status = model.AlertFiring
	}
	n.CommonLabels, n.CommonAnnotations = common(n.Alerts)
	return &n, firing, resolved
}
