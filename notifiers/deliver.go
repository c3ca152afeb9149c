package notifiers

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// flush is one group's notification on its way to the group's receiver,
// with what the notification log needs to judge it.
type flush struct {
	n        *Notification
	fps      []model.Fingerprint // parallel to n.Alerts
	firing   []model.Fingerprint // sorted
	resolved []model.Fingerprint // sorted
	sent     map[model.Fingerprint]*model.Alert
	repeat   time.Duration
	deadline time.Time
}

// deliveryTime bounds the retries of one flush.
func (d *Dispatcher) deliveryTime(r *Route) time.Duration {
	if d.opts.MaxDeliveryTime > 0 {
		return d.opts.MaxDeliveryTime
	}
	return r.GroupInterval
}

// deliver is the one stage every notification passes through on its way
// out: it applies the receiver's strategy and reports whether the receiver
// has been served. A durable outbox wraps this call (persist before, remove
// after); a replicated notification log replaces d.nflog, which it reads
// and writes.
func (d *Dispatcher) deliver(ctx context.Context, r *Receiver, f *flush) bool {
	f.n.Receiver = r.Name
	if r.Strategy == configs.StrategyFailover {
		return d.failover(ctx, r, f)
	}
	return d.fanOut(ctx, r, f)
}

// fanOut sends to every integration at once; a slow vendor delays no other.
// The receiver is served when every integration is.
func (d *Dispatcher) fanOut(ctx context.Context, r *Receiver, f *flush) bool {
	ok := make([]bool, len(r.Integrations))
	var wg sync.WaitGroup
	for i := range r.Integrations {
		wg.Go(func() {
			ok[i] = d.notifyIntegration(ctx, r, &r.Integrations[i], f)
		})
	}
	wg.Wait()
	return !slices.Contains(ok, false)
}

// failover sends through one integration at a time, in order, moving on
// when the current one refuses, gives up, or has not accepted within
// failover_after. The receiver is served once one integration is.
func (d *Dispatcher) failover(ctx context.Context, r *Receiver, f *flush) bool {
	g := logGroup{groupKey: f.n.GroupKey, receiver: r.Name}
	order := d.failoverOrder(g, r, f)
	if order == nil {
		return true // some integration already has this news
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, in := range order {
		ictx, cancel := context.WithCancel(ctx)
		done := make(chan bool, 1)
		expired := make(chan struct{})
		stop := func() bool { return false }
		if i < len(order)-1 {
			// Armed before the attempt starts, so that a clock advanced
			// past failover_after always finds it.
			stop = d.clock.AfterFunc(r.FailoverAfter, func() { close(expired) })
		}
		wg.Go(func() { done <- d.notifyIntegration(ictx, r, in, f) })
		select {
		case ok := <-done:
			stop()
			cancel()
			if ok {
				return true
			}
		case <-expired:
			d.logger.Warn("integration has not accepted within failover_after; moving on",
				"receiver", r.Name, "integration", in.String(), "failover_after", r.FailoverAfter, "group", f.n.DedupKey)
			cancel()
		case <-ctx.Done():
			stop()
			cancel()
			return false
		}
	}
	return false
}

// failoverOrder returns the integrations to try, or nil when the receiver
// is up to date: the latest acceptance by any of its integrations already
// covers what the group says now. Resolved news goes first to the
// integrations that were told of the firing alerts, which hold the open
// incident.
func (d *Dispatcher) failoverOrder(g logGroup, r *Receiver, f *flush) []*Integration {
	var latest *logEntry
	var latestIn *Integration
	knew := map[*Integration]bool{}
	for i := range r.Integrations {
		in := &r.Integrations[i]
		e := d.nflog.get(g, integrationKey{in.Name, in.Index})
		if e == nil {
			continue
		}
		knew[in] = len(e.firing) > 0
		if latest == nil || e.at.After(latest.at) {
			latest, latestIn = e, in
		}
	}
	if latest != nil && !needsUpdate(latest, f.firing, f.resolved, latestIn.SendResolved, f.repeat, d.clock.Now()) {
		return nil
	}
	order := make([]*Integration, len(r.Integrations))
	for i := range r.Integrations {
		order[i] = &r.Integrations[i]
	}
	if len(f.firing) == 0 {
		slices.SortStableFunc(order, func(a, b *Integration) int {
			switch {
			case knew[a] && !knew[b]:
				return -1
			case knew[b] && !knew[a]:
				return 1
			}
			return 0
		})
	}
	return order
}

// notifyIntegration sends the group's news to one integration when the
// notification log says it has any, and records what was accepted. It
// reports whether the integration is up to date afterwards.
func (d *Dispatcher) notifyIntegration(ctx context.Context, r *Receiver, in *Integration, f *flush) bool {
	n, firing, resolved := d.forIntegration(r, in, f)
	g := logGroup{groupKey: f.n.GroupKey, receiver: r.Name}
	k := integrationKey{in.Name, in.Index}
	now := d.clock.Now()
	if !needsUpdate(d.nflog.get(g, k), firing, resolved, in.SendResolved, f.repeat, now) {
		return true
	}
	entry := &logEntry{firing: firing, resolved: resolved, at: now}
	if len(n.Alerts) == 0 {
		// Only resolved alerts, and this integration does not want them:
		// nothing to send, but the log must forget the firing ones.
		d.nflog.record(g, k, entry)
		return true
	}
	res := d.sender.send(ctx, f.deadline, r.Name, in, n)
	if res.outcome == OutcomeAccepted {
		entry.at = d.clock.Now()
		d.nflog.record(g, k, entry)
	}
	if d.ctx.Err() != nil {
		return false // shutting down: neither count nor alarm
	}
	d.metrics.total.WithLabelValues(r.Name, in.Name, res.outcome).Inc()
	d.health.report(r, in, res)
	return res.outcome == OutcomeAccepted
}

// forIntegration narrows a group's notification to what one integration
// should see: no resolved alerts unless it has send_resolved, and never an
// alert about its own failure, which it could not deliver anyway.
func (d *Dispatcher) forIntegration(r *Receiver, in *Integration, f *flush) (*Notification, []model.Fingerprint, []model.Fingerprint) {
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
	n.Alerts = nil
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
