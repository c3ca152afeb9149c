package notifiers

import (
	"context"
	"errors"
	"slices"
	"sync"

	amnotify "github.com/prometheus/alertmanager/notify"

	"github.com/tocsin-alerting/tocsin/configs"
)

// strategyStage hands the notification to the receiver's integrations,
// all at once or one after the other (failover), and runs the integration
// stages for each. The receiver is served when every integration is
// (all), or when one is (failover).
type strategyStage struct {
	d      *Dispatcher
	stages []Stage
}

var errNotServed = errors.New("not every integration accepted the notification")

func (s strategyStage) Exec(ctx context.Context, d *delivery) (*delivery, error) {
	var ok bool
	if d.r.Strategy == configs.StrategyFailover {
		ok = s.failover(ctx, d)
	} else {
		ok = s.fanOut(ctx, d)
	}
	if !ok {
		return nil, errNotServed
	}
	return nil, nil
}

// fanOut sends to every integration at once; a slow vendor delays no other.
func (s strategyStage) fanOut(ctx context.Context, d *delivery) bool {
	ok := make([]bool, len(d.r.Integrations))
	var wg sync.WaitGroup
	for i := range d.r.Integrations {
		wg.Go(func() {
			ok[i] = runStages(ctx, s.stages, d.forIntegration(&d.r.Integrations[i]))
		})
	}
	wg.Wait()
	return !slices.Contains(ok, false)
}

// failover sends through one integration at a time, in order, moving on
// when the current one refuses, gives up, or has not accepted within
// failover_after.
func (s strategyStage) failover(ctx context.Context, d *delivery) bool {
	order := s.failoverOrder(d)
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
			stop = s.d.clock.AfterFunc(d.r.FailoverAfter, func() { close(expired) })
		}
		wg.Go(func() { done <- runStages(ictx, s.stages, d.forIntegration(in)) })
		select {
		case ok := <-done:
			stop()
			cancel()
			if ok {
				return true
			}
		case <-expired:
			s.d.logger.Warn("integration has not accepted within failover_after; moving on",
				"receiver", d.r.Name, "integration", in.String(), "failover_after", d.r.FailoverAfter, "group", d.f.n.DedupKey)
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
func (s strategyStage) failoverOrder(d *delivery) []*Integration {
	var latest *logEntry
	var latestIn *Integration
	knew := map[*Integration]bool{}
	for i := range d.r.Integrations {
		in := &d.r.Integrations[i]
		e := s.d.state.logEntryOf(d.group, integrationKey{in.Name, in.Index})
		if e == nil {
			continue
		}
		knew[in] = len(e.Firing) > 0
		if latest == nil || e.At.After(latest.At) {
			latest, latestIn = e, in
		}
	}
	f := d.f
	if latest != nil && needsUpdate(latest, f.firing, f.resolved, latestIn.SendResolved, f.repeat, s.d.clock.Now()) == amnotify.ReasonDoNotNotify {
		return nil
	}
	order := make([]*Integration, len(d.r.Integrations))
	for i := range d.r.Integrations {
		order[i] = &d.r.Integrations[i]
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
