package notifiers

import (
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// notificationLog remembers, for every group and integration, which alerts
// the integration last accepted and when. It decides whether a flush has
// anything new to say, so that a vendor is not paged again for what it
// already knows until repeat_interval has passed. It lives in memory; a
// replicated log shared between tocsin replicas takes its place behind the
// same three methods.
type notificationLog struct {
	mu      sync.Mutex
	entries map[logGroup]map[integrationKey]*logEntry
}

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

// logEntry is what one integration accepted for one group.
type logEntry struct {
	firing   []model.Fingerprint // sorted
	resolved []model.Fingerprint // sorted
	at       time.Time
}

func newNotificationLog() *notificationLog {
	return &notificationLog{entries: map[logGroup]map[integrationKey]*logEntry{}}
}

func (l *notificationLog) get(g logGroup, k integrationKey) *logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[g][k]
}

func (l *notificationLog) record(g logGroup, k integrationKey, e *logEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.entries[g]
	if m == nil {
		m = map[integrationKey]*logEntry{}
		l.entries[g] = m
	}
	m[k] = e
}

// forget drops a group that has resolved completely and left the dispatcher.
func (l *notificationLog) forget(g logGroup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, g)
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
// integration must hear about a group again.
func needsUpdate(e *logEntry, firing, resolved []model.Fingerprint, sendResolved bool, repeat time.Duration, now time.Time) bool {
	switch {
	case e == nil:
		// Never notified: only firing alerts are news.
		return len(firing) > 0
	case !isSubset(firing, e.firing):
		return true
	case len(firing) == 0:
		// Everything resolved: say so if the integration knew of firing
		// alerts (the log must be cleared even when send_resolved is off).
		return len(e.firing) > 0
	case sendResolved && !isSubset(resolved, e.resolved):
		return true
	}
	return !e.at.Add(repeat).After(now)
}
