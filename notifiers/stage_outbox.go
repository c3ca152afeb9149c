package notifiers

import "context"

// outboxStage writes a pending delivery for the integration to the state
// file and waits until it is synced, with the group's alerts (written as
// they arrived), before the vendor is called. A
// crash after this point loses nothing: after a restart the group is
// restored and the delivery resumes with the retry budget it had left.
type outboxStage struct{ d *Dispatcher }

func (s outboxStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	s.d.writeState(s.d.state.startFlush(d.group, []integrationKey{d.integrationKey()}, d.f.deadline.Sub(s.d.clock.Now())))
	return d, nil
}
