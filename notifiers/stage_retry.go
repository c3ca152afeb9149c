package notifiers

import (
	"context"
	"errors"
)

// retryStage calls the vendor until it accepts, refuses for good, or the
// delivery's deadline would pass (see sender). A refusal ends the pending
// delivery; running out of time keeps it, for the next flush or restart.
type retryStage struct{ d *Dispatcher }

var errNotAccepted = errors.New("the integration did not accept the notification")

func (s retryStage) Exec(ctx context.Context, d *delivery) (*delivery, error) {
	k := d.integrationKey()
	first := 1
	if p, ok := d.f.resumed[k]; ok {
		first = p.Attempts + 1
	}
	onAttempt := func() {
		s.d.writeState(s.d.state.attempted(d.group, k, d.f.deadline.Sub(s.d.clock.Now())))
	}
	ctx = WithVendorState(ctx, d.state)
	d.res = s.d.sender.send(ctx, d.f.deadline, d.r.Name, d.in, d.n, first, onAttempt)
	if d.res.outcome == OutcomeAccepted {
		return d, nil
	}
	if d.res.outcome == OutcomeRejected {
		s.d.writeState(s.d.state.endPending(d.group, k))
	}
	s.d.report(d)
	return nil, errNotAccepted
}
