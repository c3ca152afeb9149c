package notifiers

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// group holds the alerts of one route that share their group labels, and
// the timers that decide when the group's receiver hears about them.
type group struct {
	d        *Dispatcher
	id       groupID
	route    *Route
	receiver *Receiver
	labels   model.LabelSet
	key      string // route key + group labels
	dedup    string // hex SHA-256 of key

	mu         sync.Mutex
	alerts     map[model.Fingerprint]*model.Alert
	stopTimer  func() bool
	armed      bool // the group_wait timer has been started
	hasFlushed bool
	inflight   bool // a delivery of this group is running
	pending    bool // a flush came due while it was running
	dead       bool
	// resumed holds deliveries that were pending before a restart, for
	// the next flush to resume.
	resumed map[integrationKey]pendingDelivery
}

func newGroup(d *Dispatcher, r *Route, recv *Receiver, labels model.LabelSet, id groupID) *group {
	key := r.Key() + ":" + labels.String()
	g := &group{
		d: d, id: id, route: r, receiver: recv, labels: labels,
		key: key, dedup: dedupKey(key),
		alerts: map[model.Fingerprint]*model.Alert{},
	}
	// group_wait starts with the first insert, which arms the timer.
	g.stopTimer = func() bool { return false }
	return g
}

// insert files an alert into the group. An alert already firing keeps its
// first StartsAt. An alert that has been waiting longer than group_wait
// (after a reload, or one that fired long ago) flushes the group at once.
func (g *group) insert(a *model.Alert, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fp := a.Labels.Fingerprint()
	if old, ok := g.alerts[fp]; ok && firingAt(old, now) && old.StartsAt.Before(a.StartsAt) {
		c := *a
		c.StartsAt = old.StartsAt
		a = &c
	}
	g.alerts[fp] = a
	// Written now, while the group waits, rather than by the flush,
	// whose vendor call would wait for it.
	g.d.state.putAlert(g.logGroup(), fp, a, now)
	if !g.armed {
		// Armed here, under g.mu and after the alert is filed: with a
		// group_wait of 0 the timer fires at once, and a flush that ran
		// before the insert would find the group empty and hold the page
		// back a whole group_interval.
		g.armed = true
		g.stopTimer = g.d.clock.AfterFunc(g.route.GroupWait, g.onTimer)
	}
	if !g.hasFlushed && !g.dead && !a.StartsAt.Add(g.route.GroupWait).After(now) && g.route.GroupWait > 0 {
		g.stopTimer()
		g.stopTimer = g.d.clock.AfterFunc(0, g.onTimer)
	}
}

func (g *group) logGroup() logGroup { return logGroup{groupKey: g.key, receiver: g.receiver.Name} }

// onTimer flushes the group and schedules the next flush a group_interval later.
func (g *group) onTimer() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return
	}
	g.hasFlushed = true
	g.stopTimer = g.d.clock.AfterFunc(g.route.GroupInterval, g.onTimer)
	if g.inflight {
		g.pending = true
		return
	}
	g.flushLocked()
}

// flushLocked snapshots the group into a notification and starts its
// delivery. Called with g.mu held and the group alive.
func (g *group) flushLocked() {
	if len(g.alerts) == 0 {
		return
	}
	now := g.d.clock.Now()
	f := g.snapshotLocked(now)
	g.inflight = true
	g.d.wg.Add(1)
	go func() {
		defer g.d.wg.Done()
		ctx, cancel := context.WithCancel(g.d.ctx)
		defer cancel()
		d := &delivery{
			// Route labels render here, not under g.mu, which alerts
			// arriving for the group wait for.
			f: g.withRouteLabels(f), r: g.receiver, group: g.logGroup(),
			refresh: g.refresh,
		}
		ok := runStages(ctx, g.d.pipeline, d)
		g.finish(ok, d.f) // the wait stage may have taken a newer snapshot
		if g.d.onFlushDone != nil {
			g.d.onFlushDone(g.key, ok)
		}
	}()
}

// refresh snapshots the group again for a delivery in flight, keeping
// what the first snapshot resumed.
func (g *group) refresh(old *flush) *flush {
	g.mu.Lock()
	f := g.snapshotLocked(g.d.clock.Now())
	g.mu.Unlock()
	f.resumed, f.deadline = old.resumed, old.deadline
	return g.withRouteLabels(f)
}

// snapshotLocked builds the notification of the group as it is now.
func (g *group) snapshotLocked(now time.Time) *flush {
	type item struct {
		a  *model.Alert
		fp model.Fingerprint
	}
	items := make([]item, 0, len(g.alerts))
	for fp, a := range g.alerts {
		items = append(items, item{a, fp})
	}
	slices.SortFunc(items, func(x, y item) int {
		if c := x.a.StartsAt.Compare(y.a.StartsAt); c != 0 {
			return c
		}
		return compareFingerprints(x.fp, y.fp)
	})
	f := &flush{
		n: &Notification{
			Receiver:    g.receiver.Name,
			GroupKey:    g.key,
			DedupKey:    g.dedup,
			GroupLabels: g.labels,
			ExternalURL: g.d.opts.ExternalURL,
			Alerts:      make([]*model.Alert, len(items)),
			tmpl:        &templateCache{},
		},
		fps:      make([]model.Fingerprint, len(items)),
		sent:     make(map[model.Fingerprint]*model.Alert, len(items)),
		repeat:   g.route.RepeatInterval,
		deadline: now.Add(g.d.deliveryTime(g.route)),
		resumed:  g.resumed,
	}
	if len(g.resumed) > 0 {
		// A resumed delivery gets the retry budget it had left (it makes
		// one attempt at least); the next flush gets a whole one again.
		var budget time.Duration
		for _, p := range g.resumed {
			budget = max(budget, p.Budget)
		}
		f.deadline = now.Add(budget)
	}
	g.resumed = nil
	copies := make([]model.Alert, len(items))
	for i, it := range items {
		copies[i] = *it.a
		c := &copies[i]
		if firingAt(c, now) {
			// Firing now on the dispatcher's clock, whatever the wall
			// clock says: vendors and templates see it as firing.
			c.EndsAt = time.Time{}
			f.firing = append(f.firing, it.fp)
		} else {
			f.resolved = append(f.resolved, it.fp)
		}
		f.n.Alerts[i] = c
		f.fps[i] = it.fp
		f.sent[it.fp] = it.a
	}
	slices.Sort(f.firing)
	slices.Sort(f.resolved)
	f.n.Status = model.AlertResolved
	if len(f.firing) > 0 {
		f.n.Status = model.AlertFiring
	}
	f.n.CommonLabels, f.n.CommonAnnotations = common(f.n.Alerts)
	return f
}

// finish ends a delivery: resolved alerts that were delivered leave the
// group, an empty group leaves the dispatcher, and a flush that came due
// meanwhile runs now.
func (g *group) finish(ok bool, f *flush) {
	g.mu.Lock()
	g.inflight = false
	if ok {
		var gone []model.Fingerprint
		for _, fp := range f.resolved {
			if g.alerts[fp] == f.sent[fp] {
				delete(g.alerts, fp)
				gone = append(gone, fp)
			}
		}
		g.d.state.deleteAlerts(g.logGroup(), gone)
	}
	empty := len(g.alerts) == 0 && !g.dead
	if g.pending && !g.dead {
		g.pending = false
		g.flushLocked()
		empty = false
	}
	g.mu.Unlock()
	if empty {
		g.d.removeGroup(g)
	}
}

// resume marks deliveries that were pending before a restart.
func (g *group) resume(p map[integrationKey]pendingDelivery) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resumed = p
}

// removeIfEmpty stops a group with no alerts and nothing in flight. The
// dispatcher's lock is held.
func (g *group) removeIfEmpty() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.alerts) > 0 || g.inflight || g.dead {
		return false
	}
	g.dead = true
	g.stopTimer()
	return true
}

// kill stops the group's timers for good and returns its alerts. A
// delivery in flight runs to its end.
func (g *group) kill() map[model.Fingerprint]*model.Alert {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dead = true
	g.stopTimer()
	return g.alerts
}

func compareFingerprints(a, b model.Fingerprint) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// common returns the labels and annotations every alert shares.
func common(alerts []*model.Alert) (model.LabelSet, model.LabelSet) {
	if len(alerts) == 0 {
		return model.LabelSet{}, model.LabelSet{}
	}
	labels, annotations := alerts[0].Labels.Clone(), alerts[0].Annotations.Clone()
	if annotations == nil {
		annotations = model.LabelSet{}
	}
	for _, a := range alerts[1:] {
		intersect(labels, a.Labels)
		intersect(annotations, a.Annotations)
		if len(labels) == 0 && len(annotations) == 0 {
			break
		}
	}
	return labels, annotations
}

func intersect(into, other model.LabelSet) {
	for k, v := range into {
		if other[k] != v {
			delete(into, k)
		}
	}
}

// firingAt reports whether a fires at now on the dispatcher's clock. An
// alert without EndsAt fires until it is resolved explicitly.
func firingAt(a *model.Alert, now time.Time) bool {
	return a.EndsAt.IsZero() || a.EndsAt.After(now)
}
