package notifiers

import (
	"context"

	"github.com/prometheus/common/model"
)

// Silencer tells whether a silence mutes an alert with these labels.
// Alertmanager's *silence.Silencer is one.
type Silencer interface {
	Mutes(ctx context.Context, lset model.LabelSet) bool
}

// activeSilences is what a Silencer may also tell: whether any silence is
// active at all. When none is, a storm's notifications skip asking about
// each of their thousands of alerts.
type activeSilences interface {
	AnyActive(ctx context.Context) bool
}

// silenceStage leaves out of a notification the alerts a silence mutes,
// as Alertmanager's mute stage does with its silencer. It runs before the
// notification log is consulted, so an alert whose silence expires is
// news to every integration and is sent at the group's next flush. When
// every alert is silenced nothing is sent and nothing is logged.
type silenceStage struct{ d *Dispatcher }

func (s silenceStage) Exec(ctx context.Context, d *delivery) (*delivery, error) {
	sil := s.d.opts.Silences
	if sil == nil {
		return d, nil
	}
	if a, ok := sil.(activeSilences); ok && !a.AnyActive(ctx) {
		return d, nil
	}
	return d.withoutMuted(func(ls model.LabelSet) bool { return sil.Mutes(ctx, ls) }), nil
}

// withoutMuted returns d without the alerts that muted says are muted: d
// itself when none is, nil (nothing to send) when every one is.
func (d *delivery) withoutMuted(muted func(model.LabelSet) bool) *delivery {
	var drop map[model.Fingerprint]bool
	for i, a := range d.f.n.Alerts {
		if muted(a.Labels) {
			if drop == nil {
				drop = map[model.Fingerprint]bool{}
			}
			drop[d.f.fps[i]] = true
		}
	}
	switch len(drop) {
	case 0:
		return d
	case len(d.f.n.Alerts):
		return nil
	}
	c := *d
	c.f = d.f.withoutAlerts(drop)
	return &c
}

// withoutAlerts returns a copy of the flush without the alerts in drop,
// with status and common labels computed again.
func (f *flush) withoutAlerts(drop map[model.Fingerprint]bool) *flush {
	c := *f
	n := *f.n
	n.Alerts, c.fps = nil, nil
	for i, a := range f.n.Alerts {
		if !drop[f.fps[i]] {
			n.Alerts = append(n.Alerts, a)
			c.fps = append(c.fps, f.fps[i])
		}
	}
	keep := func(fps []model.Fingerprint) []model.Fingerprint {
		var out []model.Fingerprint
		for _, fp := range fps {
			if !drop[fp] {
				out = append(out, fp)
			}
		}
		return out
	}
	c.firing, c.resolved = keep(f.firing), keep(f.resolved)
	n.Status = model.AlertResolved
	if len(c.firing) > 0 {
		n.Status = model.AlertFiring
	}
	n.CommonLabels, n.CommonAnnotations = common(n.Alerts)
	c.n = &n
	return &c
}
