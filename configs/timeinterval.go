package configs

import (
	"github.com/prometheus/alertmanager/timeinterval"
)

// TimeInterval is a named set of periods (times of day, weekdays, days of
// the month, months, years, in a location) that routes refer to in
// mute_time_intervals and active_time_intervals, as in Alertmanager.
type TimeInterval struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

// AllTimeIntervals returns time_intervals and the deprecated
// mute_time_intervals together, by name.
func (c *Config) AllTimeIntervals() map[string][]timeinterval.TimeInterval {
	out := map[string][]timeinterval.TimeInterval{}
	for _, list := range [][]*TimeInterval{c.TimeIntervals, c.MuteTimeIntervals} {
		for _, ti := range list {
			if ti != nil {
				out[ti.Name] = ti.TimeIntervals
			}
		}
	}
	return out
}

// validateTimeIntervals checks names (unique across both lists) and
// returns the set of defined names.
func (c *Config) validateTimeIntervals(v *validator) map[string]bool {
	var names []*string
	known := map[string]bool{}
	for _, list := range [][]*TimeInterval{c.TimeIntervals, c.MuteTimeIntervals} {
		for _, ti := range list {
			if ti == nil {
				continue
			}
			if ti.Name == "" {
				v.errorf(ti, "time interval needs a name")
				continue
			}
			names = append(names, &ti.Name)
			known[ti.Name] = true
		}
	}
	v.unique("time interval", names)
	return known
}
