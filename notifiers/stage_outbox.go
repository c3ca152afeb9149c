package notifiers

import "context"

// outboxStage writes the group's alerts and a pending delivery for the
// integration to the state file, synced, before the vendor is called. A
// crash after this point loses nothing: after a restart the group is
// restored and the delivery resumes with the retry budget it had left.
type outboxStage struct{ d *Dispatcher }

func (s outboxStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	now := s.d.clock.Now()
	s.d.writeState(s.d.state.startFlush(d.group, d.f.stored, []integrationKey{d.integrationKey()}, d.f.deadline.Sub(now), now))
	return d, nil
}
