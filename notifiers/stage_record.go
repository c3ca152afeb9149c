package notifiers

import "context"

// recordStage writes what the integration accepted, with the vendor's
// state, to the notification log and ends its pending delivery, in one
// synced transaction.
type recordStage struct{ d *Dispatcher }

func (s recordStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	e := &logEntry{Firing: d.firing, Resolved: d.resolved, At: s.d.clock.Now(), State: d.state.snapshot()}
	s.d.writeState(s.d.state.record(d.group, d.integrationKey(), e))
	s.d.report(d)
	return nil, nil
}

// report counts a delivery's outcome and tells the integration's health.
func (disp *Dispatcher) report(d *delivery) {
	if disp.ctx.Err() != nil {
		return // shutting down: neither count nor alarm
	}
	disp.metrics.total.WithLabelValues(d.r.Name, d.in.Name, d.res.outcome).Inc()
	disp.health.report(d.r, d.in, d.res)
}

// writeState logs a failed write to the state file. The page goes out all
// the same: a lost page is worse than one that may repeat after a crash.
func (disp *Dispatcher) writeState(err error) {
	if err != nil {
		disp.metrics.stateWriteFailures.Inc()
		disp.logger.Error("writing the notification state failed; a crash now may repeat or lose this notification", "err", err)
	}
}
