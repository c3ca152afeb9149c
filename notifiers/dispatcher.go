package notifiers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Options tune a Dispatcher. The zero value works: real clock, no metrics
// registry, a discarding logger and the defaults below.
type Options struct {
	// Clock drives every timer of the dispatcher; nil means RealClock.
	Clock  Clock
	Logger *slog.Logger
	// Registerer receives the dispatcher's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// ExternalURL links notifications back to this tocsin.
	ExternalURL string
	// ExternalLabels are added to the NotifierFailing alerts the dispatcher
	// raises itself (rules' alerts already carry them).
	ExternalLabels model.LabelSet
	// AttemptTimeout bounds one call to a vendor (default 10s).
	AttemptTimeout time.Duration
	// MaxDeliveryTime bounds the retries of one flush; 0 means the route's
	// group_interval, so a delivery ends before the next flush begins.
	MaxDeliveryTime time.Duration
	// BackoffMin and BackoffMax bound the wait between retries (defaults
	// 500ms and 1m).
	BackoffMin, BackoffMax time.Duration
	// ResolveTimeout resolves an alert that arrives without EndsAt when it
	// has not been sent again for this long (default 5m), as in Alertmanager.
	ResolveTimeout time.Duration
	// Jitter returns a number in [0,1) for retry jitter; nil means math/rand.
	Jitter func() float64
	// State keeps the notification log, the groups' alerts, pending
	// deliveries and Retry-After windows; nil keeps them in memory only.
	// The dispatcher restores from it at start and does not close it.
	State *State
	// Position, when set, tells this replica's position in the cluster;
	// the wait stage holds each notification back Position × PeerTimeout.
	Position    func() int
	PeerTimeout time.Duration
	// Ready, when set, blocks notifications until the cluster's gossip has
	// settled (or ctx ends), so that a starting replica first learns what
	// its peers already sent.
	Ready func(ctx context.Context) error
	// RestoreGrace, when set, bounds how long an alert restored after a
	// restart stays firing unless it is sent again: the rules re-derive
	// the alerts that still fire, and an alert they no longer say resolves
	// then, and its resolve is sent. It may depend on the alert (its
	// rule's for).
	RestoreGrace func(a *model.Alert) time.Duration
	// Silences, when set, mutes the alerts that silences match; see
	// silenceStage.
	Silences Silencer
	// GCInterval is how often the state drops what outlived its retention
	// (default 15m).
	GCInterval time.Duration
}

// Defaults of Options.
const (
	DefaultAttemptTimeout = 10 * time.Second
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = time.Minute
	DefaultResolveTimeout = 5 * time.Minute
	DefaultGCInterval     = 15 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffMin)
	}
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = DefaultResolveTimeout
	}
	if o.State == nil {
		o.State = OpenMemoryState()
	}
	if o.GCInterval <= 0 {
		o.GCInterval = DefaultGCInterval
	}
	return o
}

// Dispatcher routes alerts down the route tree into groups and, on each
// group's timers, hands one notification per group to the group's
// receiver through the notification stages (see Stage).
type Dispatcher struct {
	opts     Options
	clock    Clock
	logger   *slog.Logger
	metrics  *metrics
	sender   *sender
	state    *State
	health   *health
	pipeline []Stage

	ctx    context.Context // ends when Run stops; parent of every delivery
	cancel context.CancelFunc
	wg     sync.WaitGroup // every delivery goroutine

	mu        sync.Mutex
	route     *Route
	receivers map[string]*Receiver
	groups    map[groupID]*group
	closed    bool
	runOnce   sync.Once

	// onFlushDone, when set (by tests), hears of every finished delivery.
	onFlushDone func(groupKey string, ok bool)
}

// groupID tells groups apart even when two sibling routes share matchers.
type groupID struct {
	route  *Route
	labels model.Fingerprint
}

// NewDispatcher returns a dispatcher for the route tree and receivers. It
// accepts alerts at once; call Run to keep it going and to stop it.
func NewDispatcher(route *Route, receivers []*Receiver, opts Options) (*Dispatcher, error) {
	opts = opts.withDefaults()
	rs, err := checkReceivers(route, receivers)
	if err != nil {
		return nil, err
	}
	m := newMetrics(opts.Registerer)
	d := &Dispatcher{
		opts:    opts,
		clock:   opts.Clock,
		logger:  opts.Logger,
		metrics: m,
		sender: &sender{
			clock: opts.Clock, logger: opts.Logger, metrics: m, attemptTimeout: opts.AttemptTimeout,
			backoffMin: opts.BackoffMin, backoffMax: opts.BackoffMax, jitter: opts.Jitter,
			state: opts.State,
		},
		state:     opts.State,
		route:     route,
		receivers: rs,
		groups:    map[groupID]*group{},
	}
	d.pipeline = d.stages()
	d.health = newHealth(d)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.health.update(rs)
	return d, nil
}

// deliveryTime bounds the retries of one flush.
func (d *Dispatcher) deliveryTime(r *Route) time.Duration {
	if d.opts.MaxDeliveryTime > 0 {
		return d.opts.MaxDeliveryTime
	}
	return r.GroupInterval
}

// checkReceivers indexes receivers by name and makes sure every route's
// receiver exists.
func checkReceivers(route *Route, receivers []*Receiver) (map[string]*Receiver, error) {
	if route == nil {
		return nil, errors.New("dispatcher: no route")
	}
	rs := make(map[string]*Receiver, len(receivers))
	for _, r := range receivers {
		if r == nil {
			continue
		}
		if _, dup := rs[r.Name]; dup {
			return nil, fmt.Errorf("dispatcher: receiver %q is defined twice", r.Name)
		}
		rs[r.Name] = r
	}
	var err error
	route.walk(func(r *Route) {
		if _, ok := rs[r.Receiver]; !ok && err == nil {
			err = fmt.Errorf("dispatcher: route %s uses unknown receiver %q", r.Key(), r.Receiver)
		}
	})
	return rs, err
}

// Run first restores the groups the state kept from before a restart,
// then keeps the dispatcher going until ctx ends, then stops every timer,
// cancels deliveries in flight and waits for them. Alerts sent afterwards
// are dropped.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.restore()
	for {
		done := make(chan struct{})
		stop := d.clock.AfterFunc(d.opts.GCInterval, func() { close(done) })
		select {
		case <-ctx.Done():
			stop()
			d.stop()
			return nil
		case <-done:
			d.gc()
		}
	}
}

// gc drops from the state what outlived its retention.
func (d *Dispatcher) gc() {
	d.mu.Lock()
	live := map[logGroup]bool{}
	for _, g := range d.groups {
		live[g.logGroup()] = true
	}
	d.mu.Unlock()
	n, err := d.state.GC(d.clock.Now(), func(g logGroup) bool { return live[g] })
	d.writeState(err)
	if n > 0 {
		d.logger.Debug("notification state garbage-collected", "entries", n)
	}
}

func (d *Dispatcher) stop() {
	d.runOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		for _, g := range d.groups {
			g.kill()
		}
		d.groups = map[groupID]*group{}
		d.mu.Unlock()
		d.cancel()
		d.wg.Wait()
	})
}

// Send hands alerts to the dispatcher. It only files them into their groups
// and returns; notifications leave on the groups' own timers.
func (d *Dispatcher) Send(alerts ...*model.Alert) {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for _, a := range alerts {
		if a == nil || len(a.Labels) == 0 {
			continue
		}
		a = normalize(a, now, d.opts.ResolveTimeout)
		d.metrics.alerts.Inc()
		d.insertLocked(a, now)
	}
}

// sendInternal files an alert the dispatcher raised itself (NotifierFailing),
// which keeps its EndsAt as given: it stays firing until resolved.
func (d *Dispatcher) sendInternal(a *model.Alert) {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.insertLocked(a, now)
}

// normalize copies an alert with its times filled in, so that the caller's
// alert is never shared with the dispatcher.
func normalize(a *model.Alert, now time.Time, resolveTimeout time.Duration) *model.Alert {
	c := *a
	if c.StartsAt.IsZero() {
		c.StartsAt = now
	}
	if c.EndsAt.IsZero() {
		c.EndsAt = now.Add(resolveTimeout)
	}
	return &c
}

func (d *Dispatcher) insertLocked(a *model.Alert, now time.Time) {
	for _, r := range d.route.Match(a.Labels) {
		gl := r.groupLabels(a.Labels)
		id := groupID{route: r, labels: gl.Fingerprint()}
		g, ok := d.groups[id]
		if !ok {
			g = newGroup(d, r, d.receivers[r.Receiver], gl, id)
			d.groups[id] = g
			d.metrics.groups.Set(float64(len(d.groups)))
		}
		g.insert(a, now)
	}
}

// removeGroup drops a group that has nothing left to say.
func (d *Dispatcher) removeGroup(g *group) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.groups[g.id] != g || !g.removeIfEmpty() {
		return
	}
	delete(d.groups, g.id)
	d.metrics.groups.Set(float64(len(d.groups)))
	d.state.forget(g.logGroup())
}

// Update swaps in a new route tree and receivers, as on a config reload.
// Alerts move into the groups of the new tree; what each integration has
// already been told is kept, so a reload pages nobody twice. Deliveries in
// flight finish with the receivers they started with.
func (d *Dispatcher) Update(route *Route, receivers []*Receiver) error {
	rs, err := checkReceivers(route, receivers)
	if err != nil {
		return err
	}
	now := d.clock.Now()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("dispatcher: stopped")
	}
	seen := map[model.Fingerprint]*model.Alert{}
	for _, g := range d.groups {
		for fp, a := range g.kill() {
			seen[fp] = a
		}
		// The alerts are written again under their new groups; kept
		// under the old ones too, a restart would restore both copies.
		d.state.dropAlerts(g.logGroup())
	}
	d.route, d.receivers, d.groups = route, rs, map[groupID]*group{}
	for _, a := range seen {
		d.insertLocked(a, now)
	}
	d.metrics.groups.Set(float64(len(d.groups)))
	d.mu.Unlock()
	d.health.update(rs)
	return nil
}

// dedupKey is the key every vendor uses for a group: hex SHA-256 of the group key.
func dedupKey(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(sum[:])
}
