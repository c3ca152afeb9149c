package probes

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/time/rate"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Sink receives every Result. It is called from the goroutines the runs
// happen on, concurrently, and must return quickly.
type Sink func(Result)

// DefaultMaxConcurrent bounds how many probe runs may be in flight at once.
const DefaultMaxConcurrent = 256

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Replica is this tocsin's id (label `replica`, part of every nonce).
	Replica string
	Logger  *slog.Logger
	// Sink gets every Result; nil drops them (the collector still sees them).
	Sink Sink
	// MaxConcurrent bounds runs in flight across all probes; 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Scheduler runs every probe at its interval, the starts spread over the
// interval, never two runs of one probe at once and at most MaxConcurrent
// runs in all. A waiting probe costs no goroutine: the probes wait in a
// heap ordered by when each runs next, under one timer (dispatch), and one
// goroutine waits for the wakes and drops of them all (watch). Probes of
// the same broker share connections; when one of a probe's long-lived
// connections drops, the probe runs at once, within the bounds of drop.go.
// It is also the prometheus.Collector of the latest Results and serves the
// push endpoints (Handler).
type Scheduler struct {
	opts      SchedulerOptions
	logger    *slog.Logger
	sem       chan struct{}
	pools     *connPools
	endpoints *Endpoints
	drops     *dropLimits
	runs      runPool

	updateMu sync.Mutex // one Update at a time

	mu      sync.Mutex
	ctx     context.Context // set while Run runs
	stopped bool
	runners map[string]*runner
	latest  map[string]*Result
	queue   dueQueue      // the runners waiting for their next run
	kick    chan struct{} // the runner on top of queue changed
	rewatch chan struct{} // the runners changed: watch their signals anew
	bell    chan struct{} // a probe's signal came (see signal)
}

// runner is one probe and its place in the schedule. The fields from ctx
// on are set by start; those from index on are guarded by Scheduler.mu.
type runner struct {
	cfg    *configs.ProbeConfig
	prober Prober
	// dropRuns bounds the extra runs this probe gets for dropped connections.
	dropRuns *rate.Limiter

	ctx        context.Context // ends when the runner stops; its runs see it
	cancel     context.CancelFunc
	run        func() // one run, on a goroutine of Scheduler.runs
	lastReason Reason // of the last result, on the run's goroutine

	index    int           // in Scheduler.queue; -1 while not in it
	due      time.Time     // when it runs next
	slot     time.Time     // due, when the run is a regular one (see onSlot)
	dropRun  bool          // due is an extra run a dropped connection earned
	busy     bool          // taken off the queue: waiting for s.sem, or running
	woken    bool          // woken while busy: run again right after
	dropped  bool          // a connection dropped while busy: ask for a run after
	finished chan struct{} // while stopping and busy: closed when the run ends
}

// NewScheduler builds probers for probes; nothing runs before Run.
func NewScheduler(probes []*configs.ProbeConfig, opts SchedulerOptions) (*Scheduler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	s := &Scheduler{
		opts:      opts,
		logger:    opts.Logger,
		sem:       make(chan struct{}, opts.MaxConcurrent),
		pools:     newConnPools(opts.Replica, opts.Logger),
		endpoints: NewEndpoints(opts.Now),
		drops:     newDropLimits(),
		runners:   map[string]*runner{},
		latest:    map[string]*Result{},
		kick:      make(chan struct{}, 1),
		rewatch:   make(chan struct{}, 1),
		bell:      make(chan struct{}, 1),
	}
	if err := s.Update(probes); err != nil {
		s.pools.close()
		return nil, err
	}
	return s, nil
}

// Handler serves the push endpoints; mount it on WebhookPath and HeartbeatPath.
func (s *Scheduler) Handler() http.Handler { return s.endpoints.Handler() }

// Run starts every probe and blocks until ctx ends; then it stops them,
// closes their connections and returns nil. A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	// The runners' contexts derive from a cancelCtx, which needs no
	// goroutine of its own to pass on the end of ctx to each.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.ctx != nil || s.stopped {
		s.mu.Unlock()
		return errors.New("scheduler already ran")
	}
	s.ctx = ctx
	for _, r := range s.runners {
		s.start(r)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { s.dispatch(ctx) })
	wg.Go(func() { s.watch(ctx) })
	<-ctx.Done()
	wg.Wait()

	s.mu.Lock()
	s.stopped = true
	runners := s.runners
	s.runners = map[string]*runner{}
	s.mu.Unlock()
	all := make([]*runner, 0, len(runners))
	for _, r := range runners {
		all = append(all, r)
	}
	s.stopAll(all)
	s.runs.stop()
	s.pools.close()
	return nil
}

// Update applies a new set of probes: new ones start, removed ones stop,
// changed ones restart; unchanged ones keep running untouched. When any
// probe cannot be built nothing changes and the error says which.
func (s *Scheduler) Update(probes []*configs.ProbeConfig) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errors.New("scheduler has stopped")
	}
	current := s.runners
	s.mu.Unlock()

	built := map[string]*runner{}
	var errs []error
	for _, cfg := range probes {
		if cfg == nil {
			continue
		}
		if old, ok := current[cfg.Name]; ok && reflect.DeepEqual(old.cfg, cfg) {
			continue
		}
		p, err := New(cfg, Options{Replica: s.opts.Replica, Logger: s.logger, Now: s.opts.Now, Endpoints: s.endpoints, conns: s.pools})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built[cfg.Name] = &runner{cfg: cfg, prober: p, dropRuns: probeDropLimiter(time.Duration(cfg.Interval))}
	}
	if len(errs) > 0 {
		for _, r := range built {
			r.prober.Close()
		}
		return fmt.Errorf("probes: %w", errors.Join(errs...))
	}

	keep := map[string]bool{}
	for _, cfg := range probes {
		if cfg != nil {
			keep[cfg.Name] = true
		}
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		for _, r := range built {
			r.prober.Close()
		}
		return errors.New("scheduler has stopped")
	}
	var retired []*runner
	for name, r := range s.runners {
		if _, changed := built[name]; changed || !keep[name] {
			retired = append(retired, r)
			delete(s.runners, name)
			if !keep[name] {
				delete(s.latest, name)
			}
		}
	}
	for name, r := range built {
		s.runners[name] = r
		if s.ctx != nil {
			s.start(r)
		}
	}
	intervals := make([]time.Duration, 0, len(s.runners))
	for _, r := range s.runners {
		intervals = append(intervals, time.Duration(r.cfg.Interval))
	}
	s.drops.setRate(s.opts.Now(), intervals)
	notify(s.rewatch)
	s.mu.Unlock()
	// The new prober of a changed probe already holds the shared
	// connections, so stopping the old one does not drop them.
	s.stopAll(retired)
	return nil
}

// start puts r in the queue for its first run; s.mu is held.
func (s *Scheduler) start(r *runner) {
	r.ctx, r.cancel = context.WithCancel(s.ctx)
	r.run = func() { s.run(r) }
	r.index = -1
	due := s.nextDue(r, time.Duration(r.cfg.Interval))
	s.enqueue(r, due, due, false)
}

// stopAll stops rs together: none of them runs again, a run under way is
// cancelled and waited for, and then their probers are closed.
func (s *Scheduler) stopAll(rs []*runner) {
	var busy []*runner
	s.mu.Lock()
	for _, r := range rs {
		if r.cancel == nil {
			continue // never started
		}
		r.cancel()
		if r.index >= 0 {
			heap.Remove(&s.queue, r.index)
		}
		if r.busy {
			r.finished = make(chan struct{})
			busy = append(busy, r)
		}
	}
	s.mu.Unlock()
	for _, r := range busy {
		<-r.finished
	}
	for _, r := range rs {
		r.prober.Close()
	}
}

// waker is a prober that wants to run as soon as something happens
// (a heartbeat arrived).
type waker interface{ wake() *signal }

// decider is a prober whose result changes at a moment it knows in advance
// (a heartbeat's grace runs out) and that wants to run exactly then.
type decider interface{ decideAt() time.Time }

// dispatch starts the runs of the queued runners as they come due, in the
// order they do, each once it has a place in s.sem, until ctx ends. While
// it waits for a place, the others stay in the queue, where wakes and
// drops still reach them.
func (s *Scheduler) dispatch(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		r, wait := s.takeDue()
		if r == nil {
			if wait > 0 {
				timer.Reset(wait)
			} else {
				timer.Stop()
			}
			select {
			case <-ctx.Done():
			case <-s.kick:
			case <-timer.C:
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
			s.runs.do(r.run)
		case <-r.ctx.Done(): // r or the scheduler stopped
			s.ran(r)
		}
	}
}

// takeDue takes the runner first in the queue off it when it is due, and
// otherwise says how long until it is (0: the queue is empty).
func (s *Scheduler) takeDue() (*runner, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, 0
	}
	r := s.queue[0]
	if wait := r.due.Sub(s.opts.Now()); wait > 0 {
		return nil, wait
	}
	heap.Pop(&s.queue)
	r.busy = true
	return r, 0
}

// enqueue (re)places r in the queue to run at due, recorded at slot
// unless that is zero; s.mu is held.
func (s *Scheduler) enqueue(r *runner, due, slot time.Time, dropRun bool) {
	r.due, r.slot, r.dropRun = due, slot, dropRun
	if r.index < 0 {
		heap.Push(&s.queue, r)
	} else {
		heap.Fix(&s.queue, r.index)
	}
	if r.index == 0 {
		notify(s.kick)
	}
}

// ran puts r back in the queue after its run ended, or after dispatch gave
// it up: for its next slot, at once when it was woken meanwhile, or as
// drop.go allows when a connection dropped meanwhile. A stopped runner
// only tells stopAll it is done.
func (s *Scheduler) ran(r *runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.busy = false
	if r.ctx.Err() != nil {
		if r.finished != nil {
			close(r.finished)
		}
		return
	}
	woken, dropped := r.woken, r.dropped
	r.woken, r.dropped = false, false
	now := s.opts.Now()
	due := s.nextDue(r, time.Duration(r.cfg.Interval))
	switch {
	case woken: // at once; that run also sees a drop
		s.enqueue(r, now, time.Time{}, false)
	case dropped && s.admitDrop(r, now, due):
	default:
		s.enqueue(r, due, due, false)
	}
}

// admitDrop queues r for an extra run when a dropped connection earns it
// one before its next run at due (see dropLimits.admit); s.mu is held.
func (s *Scheduler) admitDrop(r *runner, now, due time.Time) bool {
	wait, ok := s.drops.admit(now, r.dropRuns, due.Sub(now))
	if ok {
		s.enqueue(r, now.Add(wait), time.Time{}, true)
	}
	return ok
}

// watch waits for the wakes and the dropped connections of every probe
// that has them, and passes each on (signal) until ctx ends. Every probe's
// signals ring one bell; on a ring watch takes the signals that are
// pending, one cheap look at each, so that a thousand connections that
// drop together take a few passes rather than one each. It looks at the
// probes anew when they change.
func (s *Scheduler) watch(ctx context.Context) {
	for {
		signals := s.watchSignals()
		s.takeSignals(signals)
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.rewatch:
				break wait
			case <-s.bell:
				s.takeSignals(signals)
			}
		}
	}
}

// watchedSignal is a probe's signal, and what it stands for: a dropped
// connection or a wake.
type watchedSignal struct {
	sig   *signal
	probe string
	drop  bool
}

// watchSignals makes the wake and drop signals of every probe ring s.bell,
// and returns them.
func (s *Scheduler) watchSignals() []watchedSignal {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []watchedSignal
	for name, r := range s.runners {
		if w, ok := r.prober.(waker); ok {
			out = append(out, watchedSignal{w.wake(), name, false})
		}
		if d, ok := r.prober.(dropper); ok {
			out = append(out, watchedSignal{d.dropped(), name, true})
		}
	}
	for _, w := range out {
		w.sig.ringOn(s.bell)
	}
	return out
}

// takeSignals passes on the signals that are pending.
func (s *Scheduler) takeSignals(signals []watchedSignal) {
	for _, w := range signals {
		if w.sig.take() {
			s.signal(w.probe, w.drop)
		}
	}
}

// signal passes a wake or a dropped connection on to the probe's runner.
// A runner whose run is under way (or waits for a place in s.sem) runs
// again right after it when woken, and asks for an extra run after it
// when a connection dropped. A run that is due, or an extra run on its
// way, sees a drop that comes before it starts; a wake runs the probe
// again after it. A runner waiting for its next slot runs at once when
// woken, or asks for an extra run when a connection dropped.
func (s *Scheduler) signal(probe string, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runners[probe]
	if r == nil || r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	now := s.opts.Now()
	onItsWay := r.dropRun || !r.due.After(now)
	switch {
	case r.busy:
		r.woken = r.woken || !drop
		r.dropped = r.dropped || drop
	case onItsWay && drop:
	case onItsWay:
		r.woken = true
	case drop:
		s.admitDrop(r, now, s.nextDue(r, time.Duration(r.cfg.Interval)))
	default:
		s.enqueue(r, now, time.Time{}, false)
	}
}

// dueQueue is a container/heap of runners, the one due first on top.
type dueQueue []*runner

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }

func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *dueQueue) Push(x any) {
	r := x.(*runner)
	r.index = len(*q)
	*q = append(*q, r)
}

func (q *dueQueue) Pop() any {
	old := *q
	r := old[len(old)-1]
	old[len(old)-1] = nil
	r.index = -1
	*q = old[:len(old)-1]
	return r
}

// notify leaves a signal in a channel of capacity 1 unless one is there.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// timestampTolerance is how far a scheduled run may start from its slot
// and still be recorded at the slot, as Prometheus records a scrape at its
// scheduled time when it started within --scrape.timestamp-tolerance (2ms
// too). Evenly spaced timestamps take one bit a sample in a TSDB chunk
// instead of about nine, and every probe writes a dozen series: with a
// thousand HTTP probes at 1s, the chunks written in ten minutes took 30%
// less room (16.4 MB instead of 23.5 MB).
const timestampTolerance = 2 * time.Millisecond

// onSlot is the time to record a run that started at start for the slot
// due: the slot when the run started close enough to it, else the start.
func onSlot(start, due time.Time) time.Time {
	if d := start.Sub(due); d >= -timestampTolerance && d <= timestampTolerance {
		return due
	}
	return start
}

// run runs r's prober once and delivers the result, recorded at r.slot
// when the run was a regular one and started close enough to it (see
// onSlot). dispatch took a place in s.sem for it, which run gives back.
// When r stopped mid-run it delivers nothing: the result says nothing about
// the target.
func (s *Scheduler) run(r *runner) {
	res := r.prober.Probe(r.ctx)
	<-s.sem
	if r.ctx.Err() == nil {
		if !r.slot.IsZero() {
			res.Time = onSlot(res.Time, r.slot)
		}
		s.deliver(res, &r.lastReason)
	}
	s.ran(r)
}

// nextDue is when r runs next: its next slot, or sooner the moment its
// prober decides.
func (s *Scheduler) nextDue(r *runner, interval time.Duration) time.Time {
	now := s.opts.Now()
	due := now.Add(nextRun(now, interval, s.offset(r.cfg.Name, interval)))
	if d, ok := r.prober.(decider); ok {
		if at := d.decideAt(); at.After(now) && at.Before(due) {
			due = at
		}
	}
	return due
}

// offset spreads probes over their interval, the same for a probe on every
// restart, different between replicas.
func (s *Scheduler) offset(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(s.opts.Replica))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// nextRun is how long until the next slot at offset within interval,
// skipping slots already missed.
func nextRun(now time.Time, interval, offset time.Duration) time.Duration {
	base := now.Truncate(interval).Add(offset)
	for !base.After(now) {
		base = base.Add(interval)
	}
	return base.Sub(now)
}

// deliver records res, logs a change of reason once, and passes it on.
func (s *Scheduler) deliver(res Result, lastReason *Reason) {
	if res.Reason != *lastReason {
		if res.Reason != "" {
			s.logger.Warn("probe failing", "probe", res.Probe, "kind", res.Kind, "reason", res.Reason, "detail", res.Detail)
		} else {
			s.logger.Info("probe succeeding", "probe", res.Probe, "kind", res.Kind)
		}
		*lastReason = res.Reason
	}
	s.mu.Lock()
	if _, ok := s.runners[res.Probe]; ok {
		s.latest[res.Probe] = &res
	}
	s.mu.Unlock()
	if s.opts.Sink != nil {
		s.opts.Sink(res)
	}
}

// Describe sends nothing: the series depend on the probes configured, so
// the Scheduler is an unchecked collector.
func (s *Scheduler) Describe(chan<- *prometheus.Desc) {}

// Collect exposes each probe's latest Result, as blackbox_exporter would.
func (s *Scheduler) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	latest := make([]*Result, 0, len(s.latest))
	for _, r := range s.latest {
		latest = append(latest, r)
	}
	s.mu.Unlock()
	for _, r := range latest {
		for _, smp := range r.Series() {
			name := smp.Labels.Get("__name__")
			constLabels := prometheus.Labels{}
			smp.Labels.Range(func(l labels.Label) {
				if l.Name != "__name__" {
					constLabels[l.Name] = l.Value
				}
			})
			vt := prometheus.GaugeValue
			if smp.Counter {
				vt = prometheus.CounterValue
			}
			desc := prometheus.NewDesc(name, metricHelp[name], nil, constLabels)
			ch <- prometheus.MustNewConstMetric(desc, vt, smp.Value)
		}
	}
}

var metricHelp = map[string]string{
	MetricSuccess:        "Whether the probe's last run succeeded.",
	MetricDuration:       "How long the probe's last run took.",
	MetricRoundTrip:      "Time from sending the nonce to receiving it, in the last successful run.",
	MetricHTTPStatusCode: "HTTP status code of the last response.",
	MetricHTTPDuration:   "Duration of each phase of the last HTTP request.",
	MetricCertExpiry:     "Earliest expiry of the TLS certificates presented, as a Unix timestamp.",
	MetricFailures:       "Failed runs by reason, and late arrivals of lost nonces.",
	MetricLastHeartbeat:  "When the last heartbeat arrived, as a Unix timestamp.",
}
