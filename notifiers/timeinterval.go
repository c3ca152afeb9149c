package notifiers

import "time"

// MutedAt reports whether the route sends nothing at t: t falls in one of
// its mute_time_intervals, or it has active_time_intervals and t falls in
// none of them. It also returns the intervals that decided.
func (r *Route) MutedAt(t time.Time) (bool, []string) {
	if len(r.MuteTimeIntervals) > 0 {
		// Names were checked when the route was built.
		if muted, in, _ := r.intervals.Mutes(r.MuteTimeIntervals, t); muted {
			return true, in
		}
	}
	if len(r.ActiveTimeIntervals) > 0 {
		if active, _, _ := r.intervals.Mutes(r.ActiveTimeIntervals, t); !active {
			return true, r.ActiveTimeIntervals
		}
	}
	return false, nil
}
