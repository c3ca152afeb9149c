package notifiers

import (
	"context"
)

// muteStage sends nothing while the group's route is muted by its time
// intervals (mute_time_intervals, or outside its active_time_intervals),
// as Alertmanager's time stages do. Nothing is written to the notification
// log, so the first flush after the interval ends sends what is firing.
type muteStage struct{ d *Dispatcher }

func (s muteStage) Exec(_ context.Context, d *delivery) (*delivery, error) {
	route := s.d.routeOf(d.group)
	if route == nil {
		return d, nil
	}
	if muted, intervals := route.MutedAt(s.d.clock.Now()); muted {
		s.d.logger.Debug("notification muted by time intervals", "group", d.group.groupKey, "receiver", d.group.receiver, "intervals", intervals)
		return nil, nil
	}
	return d, nil
}

// routeOf finds the route of a delivery's group; nil when the group is
// gone (a reload replaced the tree while it was being delivered).
func (d *Dispatcher) routeOf(lg logGroup) *Route {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.groups {
		if g.key == lg.groupKey && g.receiver.Name == lg.receiver {
			return g.route
		}
	}
	return nil
}
