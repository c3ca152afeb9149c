package notifiers

import (
	"time"

	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
)

// logGroup is one group as seen by one receiver.
type logGroup struct {
	groupKey string
	receiver string
}

// integrationKey names one integration of a receiver.
type integrationKey struct {
	name  string
	index int
}

// logEntry is what one integration accepted for one group: the
// notification log decides from it whether a flush has anything new to
// say, so that a vendor is not paged again for what it already knows until
// repeat_interval has passed. State is the vendor's own memory of the
// group, such as the Slack message to update when it resolves.
type logEntry struct {
	Firing   []model.Fingerprint `json:"firing,omitempty"`   // sorted
	Resolved []model.Fingerprint `json:"resolved,omitempty"` // sorted
	At       time.Time           `json:"at"`
	State    map[string]string   `json:"state,omitempty"`
}

// isSubset reports whether every element of sub (sorted) is in set (sorted).
func isSubset(sub, set []model.Fingerprint) bool {
	if len(sub) > len(set) {
		return false
	}
	i := 0
	for _, fp := range sub {
		for i < len(set) && set[i] < fp {
			i++
		}
		if i == len(set) || set[i] != fp {
			return false
		}
	}
	return true
}

// needsUpdate decides, as Alertmanager's dedup stage does, whether an
// integration must hear about a group again, and why: the reason is
// Alertmanager's, and ReasonDoNotNotify means it need not.
func needsUpdate(e *logEntry, firing, resolved []model.Fingerprint, sendResolved bool, repeat time.Duration, now time.Time) amnotify.NotifyReason {
	switch {
	case e == nil && len(firing) > 0:
		return amnotify.ReasonFirstNotification
	case e == nil:
		// Never notified: only firing alerts are news.
		return amnotify.ReasonDoNotNotify
	case !isSubset(firing, e.Firing) && len(e.Firing) == 0:
		// The last notification told the group resolved: this one
		// starts it again.
		return amnotify.ReasonFirstNotification
	case !isSubset(firing, e.Firing):
		return amnotify.ReasonNewAlertsInGroup
	case len(firing) == 0 && len(e.Firing) > 0:
		// Everything resolved: say so if the integration knew of firing
		// alerts (the log must be cleared even when send_resolved is off).
		return amnotify.ReasonAllAlertsResolved
	case len(firing) == 0:
		return amnotify.ReasonDoNotNotify
	case sendResolved && !isSubset(resolved, e.Resolved):
		return amnotify.ReasonNewResolvedAlerts
	case !e.At.Add(repeat).After(now):
		return amnotify.ReasonRepeatIntervalElapsed
	}
	return amnotify.ReasonDoNotNotify
}
