package notifiers

import (
	"context"

	"github.com/prometheus/common/model"
)

// inhibitStage leaves out of a notification the alerts that the config's
// inhibit rules mute while other alerts fire, as Alertmanager's inhibitor
// does. It comes first, before the notification log is consulted, so an
// alert whose inhibition ends is news and is sent then. When every alert
// of the notification is inhibited nothing is sent.
type inhibitStage struct{ d *Dispatcher }

func (s inhibitStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	s.d.mu.Lock()
	ih := s.d.route.Inhibitor()
	var held []*model.Alert
	if ih != nil {
		held = s.d.heldAlertsLocked()
	}
	s.d.mu.Unlock()
	if ih == nil {
		return d, nil
	}
	// The inhibitor knows exactly the alerts the dispatcher holds, in any
	// group, so a source alert inhibits from the moment it arrives, as in
	// Alertmanager, not from its own group's first flush; and one whose
	// resolve has been delivered and left no longer inhibits.
	now := s.d.clock.Now()
	ih.Replace(held...)
	return d.withoutMuted(func(ls model.LabelSet) bool {
		inhibited, _ := ih.Inhibits(ls, now)
		return inhibited
	}), nil
}

// heldAlertsLocked returns every alert of every group. Called with d.mu held.
func (d *Dispatcher) heldAlertsLocked() []*model.Alert {
	var out []*model.Alert
	for _, g := range d.groups {
		g.mu.Lock()
		for _, a := range g.alerts {
			out = append(out, a)
		}
		g.mu.Unlock()
	}
	return out
}
