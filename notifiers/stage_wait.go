package notifiers

import (
	"context"
	"time"
)

// waitStage holds a notification back for the replica's position in the
// cluster times the peer timeout, so that with every replica up only the
// first one pages and the others find the news in the replicated
// notification log. Without a cluster the position is 0: no wait. A
// replica that has just started also waits for gossip to settle first.
type waitStage struct{ d *Dispatcher }

func (s waitStage) Exec(ctx context.Context, d *delivery) (*delivery, error) {
	if s.d.opts.Ready != nil {
		if err := s.d.opts.Ready(ctx); err != nil {
			return nil, err
		}
	}
	if s.d.opts.Position == nil {
		return d, nil
	}
	wait := s.d.opts.PeerTimeout * time.Duration(s.d.opts.Position())
	if wait <= 0 {
		return d, nil
	}
	if err := sleep(ctx, s.d.clock, wait); err != nil {
		return nil, err
	}
	// What the group said before the wait may be stale now: an alert may
	// have resolved meanwhile, which the replica that paged has already
	// said. Judging the old snapshot against the log would page it again.
	if d.refresh != nil {
		d.f = d.refresh(d.f)
	}
	return d, nil
}
