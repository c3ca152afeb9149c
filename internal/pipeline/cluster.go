package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

// heartbeatGossip shares heartbeat pushes between replicas: a push that
// reaches one replica is told to the others at once, and the last beat of
// every heartbeat probe is exchanged when replicas sync, so a heartbeat
// sender behind a load balancer keeps its probe healthy on every replica.
type heartbeatGossip struct {
	sched *probes.Scheduler
	send  func([]byte)
}

// MarshalBinary encodes the last beat of every heartbeat probe.
func (h *heartbeatGossip) MarshalBinary() ([]byte, error) {
	return json.Marshal(h.sched.LastBeats())
}

// Merge takes beats another replica received.
func (h *heartbeatGossip) Merge(b []byte) error {
	var beats map[string]time.Time
	if err := json.Unmarshal(b, &beats); err != nil {
		return fmt.Errorf("heartbeats from a peer: %w", err)
	}
	for probe, at := range beats {
		h.sched.Beat(probe, at)
	}
	return nil
}

func (h *heartbeatGossip) beat(probe string, at time.Time) {
	if b, err := json.Marshal(map[string]time.Time{probe: at}); err == nil {
		h.send(b)
	}
}

// replicateHeartbeats joins the scheduler's heartbeats to the cluster.
func (p *Pipeline) replicateHeartbeats(sched *probes.Scheduler) {
	peer := p.peer
	if peer == nil {
		return
	}
	hb := &heartbeatGossip{sched: sched}
	hb.send = peer.Replicate("hb", hb)
	sched.OnHeartbeat(hb.beat)
}

// watchPeers raises ReplicaDown for replicas that left the cluster.
func (p *Pipeline) watchPeers(ctx context.Context) {
	peer := p.peer
	if peer == nil || p.dispatcher == nil {
		return
	}
	labels := externalLabels(p.Config())
	delete(labels, "replica")
	peer.Watch(ctx, labels, func(alerts []*model.Alert) {
		p.replicaAlerts.update(alerts)
		p.dispatcher.Send(alerts...)
	})
}

// startShard returns the probes this replica runs first. In a cluster a
// shard decides, over the members memberlist already knows after joining;
// alone, every probe runs here and cluster.probe_replication is moot.
func (p *Pipeline) startShard(cfg *configs.Config, rec *rules.Recorder, ev *rules.Evaluator) []*configs.ProbeConfig {
	if p.peer == nil {
		if cfg.Cluster.ProbeReplication > 0 {
			p.logger.Warn("cluster.probe_replication is set but this replica is in no cluster (no --cluster.listen-address, or no route); it runs every probe")
		}
		return cfg.Probes
	}
	logger := p.logger.With("component", "shard")
	p.shard = newShard(cfg.Global.Replica, memberNames(p.peer), activeProbes(ev), logger)
	p.shard.forget = func(names []string) { forgetProbes(rec, names, logger) }
	return p.shard.start(cfg)
}

// forgetProbes deletes the series of probes from the local TSDB, in one
// pass however many a membership change handed over.
func forgetProbes(rec *rules.Recorder, names []string, logger *slog.Logger) {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	m, err := labels.NewMatcher(labels.MatchRegexp, "probe", strings.Join(quoted, "|"))
	if err == nil {
		err = rec.Delete(context.Background(), m)
	}
	if err != nil {
		// The filter still keeps their alerts from the dispatcher.
		logger.Error("forgetting the series of probes handed over failed", "probes", len(names), "err", err)
	}
}

// runProbes hands cfg's probes to the scheduler: this replica's share of
// them in a cluster, all of them otherwise.
func (p *Pipeline) runProbes(cfg *configs.Config) error {
	if p.shard != nil {
		return p.shard.apply(cfg)
	}
	return p.scheduler.Update(cfg.Probes)
}

// registerShardMetrics exports how many probes this replica runs by
// assignment, and how many it still runs while handing them over.
func (p *Pipeline) registerShardMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	counts := func() (owned, handingOver int) {
		if p.shard != nil {
			return p.shard.counts()
		}
		if cfg := p.Config(); cfg != nil {
			return len(cfg.Probes), 0
		}
		return 0, 0
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_probes_owned",
			Help: "Probes this replica runs as one of their cluster.probe_replication owners (every probe when it is 0 or tocsin runs alone).",
		}, func() float64 { owned, _ := counts(); return float64(owned) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_probes_handing_over",
			Help: "Probes this replica no longer owns but still runs, until their new owners have results and no alert about them is active here.",
		}, func() float64 { _, h := counts(); return float64(h) }),
	)
}
