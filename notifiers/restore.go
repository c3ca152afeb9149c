package notifiers

import "github.com/prometheus/common/model"

// restore files the alerts the state kept from before a restart back into
// their groups. A restored group flushes at once, since its alerts waited
// longer than group_wait: the dedup stage then lets through only what the
// integrations have not been told (a pending delivery, a resolve that came
// due while tocsin was down), and the group's pending deliveries resume
// with the retry budget they had left.
func (d *Dispatcher) restore() {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	// Alerts sent since the start are newer than what the file kept.
	fresh := map[model.Fingerprint]bool{}
	for _, g := range d.groups {
		g.mu.Lock()
		for fp := range g.alerts {
			fresh[fp] = true
		}
		g.mu.Unlock()
	}
	for _, rg := range d.state.restore() {
		for _, a := range rg.alerts {
			if a == nil || len(a.Labels) == 0 || fresh[a.Labels.Fingerprint()] {
				continue
			}
			c := *a
			if c.EndsAt.IsZero() {
				// Alerts tocsin raised itself resolve explicitly; the
				// process that would have done so is gone, so they get
				// the timeout of an alert without EndsAt.
				c.EndsAt = now.Add(d.opts.ResolveTimeout)
			}
			if d.opts.RestoreGrace != nil {
				if g := d.opts.RestoreGrace(&c); g > 0 && c.EndsAt.After(now.Add(g)) {
					c.EndsAt = now.Add(g)
				}
			}
			d.insertLocked(&c, now)
		}
		if len(rg.pending) == 0 {
			continue
		}
		for _, g := range d.groups {
			if g.key == rg.group.groupKey && g.receiver.Name == rg.group.receiver {
				g.resume(rg.pending)
			}
		}
	}
	if n := len(d.groups); n > 0 {
		d.logger.Info("alert groups restored from the notification state", "groups", n)
	}
}
