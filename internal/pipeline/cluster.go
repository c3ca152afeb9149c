package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/probes"
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
