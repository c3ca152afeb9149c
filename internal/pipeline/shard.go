package pipeline

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

// shardTick is how often a replica looks at the cluster's members.
// memberlist notices a graceful leave at once and a dead member within a
// few probe intervals of its own; half a second adds little to either.
const shardTick = 500 * time.Millisecond

// shard decides which probes this replica runs in a cluster with
// cluster.probe_replication = n: the n replicas that rendezvous hashing
// picks over the live members (cluster.Assignment), every replica with 0.
// Heartbeat probes always run everywhere: they only receive pushes.
//
// A probe moves without a page, which takes these precautions, because the
// rules of every replica see only that replica's own results:
//
//   - Handover with overlap. A replica that loses a probe keeps running it
//     for a grace (three of its intervals and two evaluation intervals), so
//     that the new owner has results before the old one stops, and beyond
//     that for as long as any alert about the probe is pending or firing
//     here: a failing probe stays on the replicas that see it fail until it
//     recovers, so no replica resolves an outage it merely stopped watching.
//   - The old owner forgets the probe once the handover is over: its
//     series leave the local TSDB. Kept, they would make ProbeResultsMissing
//     (`[1h] unless [1m]`) fire there a minute later, and the rules would
//     carry that alert, and read the old series, for an hour.
//   - As a second line, alerts about probes a replica does not run are
//     dropped before its dispatcher, and for a probe it gained after its
//     start, those that started before the probe's first result there.
type shard struct {
	self    string
	members func() []string
	// active lists the probes some alert of this replica's rules is
	// pending or firing about.
	active func() map[string]bool
	// update hands the scheduler the probes to run; set once it is built.
	update func([]*configs.ProbeConfig) error
	// forget drops the series of probes this replica handed over from its
	// TSDB; nil keeps them.
	forget func(probes []string)
	logger *slog.Logger

	mu        sync.Mutex // one change of probes at a time
	probes    []*configs.ProbeConfig
	n         int
	evalEvery time.Duration
	assign    *cluster.Assignment
	lost      map[string]time.Time // probes handed over, since when
	started   bool                 // past the first plan: later starts are gains

	rmu     sync.Mutex // what record and sendAlerts read
	running map[string]*shardRun
	known   map[string]bool // every configured probe
	owned   int
}

// shardRun is a probe this replica runs.
type shardRun struct {
	// gained is set for a probe that started here after tocsin did, from a
	// change of members or config; its older history in the TSDB, if any,
	// predates a gap.
	gained bool
	// first is when its first result since it started here was taken.
	first time.Time
}

func newShard(self string, members func() []string, active func() map[string]bool, logger *slog.Logger) *shard {
	return &shard{
		self: self, members: members, active: active, logger: logger,
		lost: map[string]time.Time{}, running: map[string]*shardRun{}, known: map[string]bool{},
	}
}

// activeProbes is shard.active over an evaluator's rules.
func activeProbes(ev *rules.Evaluator) func() map[string]bool {
	return func() map[string]bool {
		out := map[string]bool{}
		for _, g := range ev.Groups() {
			for _, r := range g.Rules() {
				ar, ok := r.(*promrules.AlertingRule)
				if !ok {
					continue
				}
				for _, a := range ar.ActiveAlerts() {
					if p := a.Labels.Get("probe"); p != "" {
						out[p] = true
					}
				}
			}
		}
		return out
	}
}

// memberNames lists the cluster's live members by name.
func memberNames(peer *cluster.Peer) func() []string {
	return func() []string {
		var out []string
		for _, m := range peer.Peers() {
			out = append(out, m.Name())
		}
		return out
	}
}

// start returns the probes to build the scheduler with, for cfg.
func (s *shard) start(cfg *configs.Config) []*configs.ProbeConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configure(cfg)
	run, lost := s.plan(time.Now())
	s.commit(run, lost)
	return run
}

// apply runs cfg's probes on the running scheduler, as on a reload; when
// the scheduler refuses them, the probes of before keep running.
func (s *shard) apply(cfg *configs.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := &configs.Config{Probes: s.probes, EvaluationInterval: model.Duration(s.evalEvery)}
	prev.Cluster.ProbeReplication = s.n
	s.configure(cfg)
	run, lost := s.plan(time.Now())
	if err := s.update(run); err != nil {
		s.configure(prev)
		return err
	}
	s.forgetAll(s.commit(run, lost))
	return nil
}

// configure takes a config's probes and replication factor.
func (s *shard) configure(cfg *configs.Config) {
	s.probes, s.n, s.evalEvery = cfg.Probes, cfg.Cluster.ProbeReplication, time.Duration(cfg.EvaluationInterval)
	s.assign = cluster.NewAssignment(s.liveMembers(), s.n)
}

// liveMembers are the members to assign over, this replica always among
// them: a replica that has not yet seen itself still runs its share.
func (s *shard) liveMembers() []string {
	m := s.members()
	if !slices.Contains(m, s.self) {
		m = append(m, s.self)
	}
	return m
}

// run follows the cluster's members until ctx ends.
func (s *shard) run(ctx context.Context) {
	t := time.NewTicker(shardTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sync(ctx)
		}
	}
}

// sync reassigns the probes when the members changed and ends handovers
// whose time has come.
func (s *shard) sync(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	members := cluster.NewAssignment(s.liveMembers(), s.n)
	moved := !slices.Equal(members.Members(), s.assign.Members())
	if !moved && len(s.lost) == 0 {
		return
	}
	prev := s.assign
	if moved {
		if s.n > 0 {
			s.logger.Info("cluster members changed; reassigning probes", "members", members.Members(), "probe_replication", s.n)
		}
		s.assign = members
	}
	run, lost := s.plan(time.Now())
	if s.same(run) && maps.Equal(lost, s.lost) {
		return
	}
	if err := s.update(run); err != nil {
		if ctx.Err() == nil {
			s.logger.Error("moving probes between replicas failed; the previous probes keep running, and the move is tried again", "err", err)
		}
		s.assign = prev // so that the next tick sees the change again
		return
	}
	s.forgetAll(s.commit(run, lost))
}

// forgetAll drops the series of probes handed over.
func (s *shard) forgetAll(handedOver []string) {
	if len(handedOver) > 0 && s.forget != nil {
		s.forget(handedOver)
	}
}

// plan returns the probes to run at now: those this replica owns, and
// those it lost whose handover is not over; and the handovers.
func (s *shard) plan(now time.Time) ([]*configs.ProbeConfig, map[string]time.Time) {
	var run []*configs.ProbeConfig
	lost := map[string]time.Time{}
	// Not under rmu: the rules' lock comes first, as the evaluator holds
	// it while its alerts go through filter.
	var active map[string]bool
	s.rmu.Lock()
	running := make(map[string]bool, len(s.running))
	for name := range s.running {
		running[name] = true
	}
	s.rmu.Unlock()
	for _, pc := range s.probes {
		if pc.Kind() == "heartbeat" || s.assign.Owns(pc.Name, s.self) {
			run = append(run, pc)
			continue
		}
		if !running[pc.Name] {
			continue
		}
		since, ok := s.lost[pc.Name]
		if !ok {
			since = now
		}
		if now.Sub(since) >= s.grace(pc) {
			if active == nil {
				active = s.active()
			}
			if !active[pc.Name] {
				continue // handed over
			}
		}
		lost[pc.Name] = since
		run = append(run, pc)
	}
	return run, lost
}

// grace is how long a lost probe keeps running at least: time for its new
// owners to run it and evaluate their rules over the results.
func (s *shard) grace(pc *configs.ProbeConfig) time.Duration {
	return 3*time.Duration(pc.Interval) + 2*s.evalEvery
}

// same reports whether run is what runs already.
func (s *shard) same(run []*configs.ProbeConfig) bool {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if len(run) != len(s.running) {
		return false
	}
	for _, pc := range run {
		if _, ok := s.running[pc.Name]; !ok {
			return false
		}
	}
	return true
}

// commit records that run now runs, logs what moved, and returns the
// probes handed over: those that stopped here and are still configured.
func (s *shard) commit(run []*configs.ProbeConfig, lost map[string]time.Time) (handedOver []string) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	next := make(map[string]*shardRun, len(run))
	gained := 0
	for _, pc := range run {
		r, ok := s.running[pc.Name]
		if !ok {
			r = &shardRun{gained: s.started}
			gained++
		}
		next[pc.Name] = r
	}
	stopped := len(s.running) + gained - len(next)
	s.known = make(map[string]bool, len(s.probes))
	for _, pc := range s.probes {
		s.known[pc.Name] = true
	}
	for name := range s.running {
		if next[name] == nil && s.known[name] {
			handedOver = append(handedOver, name)
		}
	}
	s.running = next
	s.owned = len(run) - len(lost)
	if s.started && (gained > 0 || stopped > 0 || len(lost) != len(s.lost)) {
		s.logger.Info("probes moved", "running", len(run), "owned", s.owned, "started", gained, "handing_over", len(lost), "stopped", stopped)
	}
	s.lost = lost
	s.started = true
	return handedOver
}

// seen notes a probe's result; the first since it started here opens its
// alerts to the dispatcher.
func (s *shard) seen(r probes.Result) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if run := s.running[r.Probe]; run != nil && run.first.IsZero() {
		run.first = r.Time
	}
}

// filter drops the alerts about probes this replica does not run, and, for
// a probe it gained, those that started before its first result here.
// Alerts about no probe, or one no longer configured, pass.
func (s *shard) filter(alerts []*model.Alert) []*model.Alert {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	out := make([]*model.Alert, 0, len(alerts))
	for _, a := range alerts {
		probe := string(a.Labels["probe"])
		if probe != "" && s.known[probe] {
			run := s.running[probe]
			if run == nil || (run.gained && (run.first.IsZero() || a.StartsAt.Before(run.first))) {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// counts are the probes this replica owns and those it still runs while
// handing them over.
func (s *shard) counts() (owned, handingOver int) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.owned, len(s.lost)
}
