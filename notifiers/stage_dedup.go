package notifiers

import (
	"context"
	"slices"

	"github.com/prometheus/common/model"
)

// dedupStage lets a notification through to an integration only when the
// notification log says the integration has not been told this yet, or
// repeat_interval has passed since it was.
type dedupStage struct{ d *Dispatcher }

func (s dedupStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	n, firing, resolved := narrow(d)
	k := d.integrationKey()
	prev := s.d.state.logEntryOf(d.group, k)
	if !needsUpdate(prev, firing, resolved, d.in.SendResolved, d.f.repeat, s.d.clock.Now()) {
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
	d.n, d.firing, d.resolved = n, firing, resolved
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
