package notifiers

import (
	"context"
	"time"

	"github.com/prometheus/common/model"
)

// Stage is one step a group's notification takes on its way to the
// vendors, in Alertmanager's order: inhibit → mute (time intervals) →
// silence → wait (cluster position) → dedup (notification log) → strategy
// (all or failover, which runs the integration stages for each
// integration) → outbox → retry → record.
// Exec hands the delivery on, narrowed or not, or returns nil when this
// stage has served it and nothing is left to do. An error means the
// delivery was not served; the group's next flush tries again.
type Stage interface {
	Exec(ctx context.Context, d *delivery) (*delivery, error)
}

// flush is one group's notification on its way to the group's receiver,
// with what the notification log needs to judge it.
type flush struct {
	n        *Notification
	fps      []model.Fingerprint // parallel to n.Alerts
	firing   []model.Fingerprint // sorted
	resolved []model.Fingerprint // sorted
	sent     map[model.Fingerprint]*model.Alert
	repeat   time.Duration
	deadline time.Time
	// resumed holds, after a restart, the deliveries that were pending.
	resumed map[integrationKey]pendingDelivery
}

// delivery is a flush for one receiver; the integration stages see it for
// one of the receiver's integrations, narrowed to what that one should be
// told.
type delivery struct {
	f     *flush
	group logGroup
	r     *Receiver
	// refresh, when set, snapshots the group again.
	refresh func(old *flush) *flush

	// Set for one integration by the strategy stage.
	in       *Integration
	n        *Notification
	firing   []model.Fingerprint
	resolved []model.Fingerprint
	state    *VendorState
	res      result
}

func (d *delivery) integrationKey() integrationKey {
	return integrationKey{d.in.Name, d.in.Index}
}

// forIntegration returns a copy of the receiver's delivery for one of its
// integrations.
func (d *delivery) forIntegration(in *Integration) *delivery {
	c := *d
	c.in = in
	c.n, c.firing, c.resolved = d.f.n, d.f.firing, d.f.resolved
	return &c
}

// runStages passes d through stages in order and reports whether it was served.
func runStages(ctx context.Context, stages []Stage, d *delivery) bool {
	for _, s := range stages {
		var err error
		if d, err = s.Exec(ctx, d); err != nil {
			return false
		}
		if d == nil {
			return true
		}
	}
	return true
}

// stages builds the notification pipeline of the dispatcher. A new concern
// is a new stage here, not a branch inside another one.
func (disp *Dispatcher) stages() []Stage {
	perIntegration := []Stage{
		dedupStage{disp},
		outboxStage{disp},
		retryStage{disp},
		recordStage{disp},
	}
	return []Stage{
		inhibitStage{disp},
		muteStage{disp},
		silenceStage{disp},
		waitStage{disp},
		strategyStage{disp, perIntegration},
	}
}
