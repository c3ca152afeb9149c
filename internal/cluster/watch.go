package cluster

import (
	"context"
	"time"

	"github.com/prometheus/common/model"
)

// AlertReplicaDown is the alert a replica raises about a peer it no longer
// sees in the cluster.
const AlertReplicaDown = "ReplicaDown"

// ReplicaDownFactor times --cluster.peer-timeout is how long a peer must be
// missing before ReplicaDown fires: long enough for memberlist to have
// declared it dead rather than slow, and for a restart to come back.
const ReplicaDownFactor = 2

// Watch raises ReplicaDown (label peer) through send for every peer that
// was seen in the cluster and has been missing for ReplicaDownFactor ×
// peer timeout, resends it while the peer stays away, and resolves it when
// the peer is back. Every replica raises the same alert, so the gossiped
// notification log lets one of them page. It returns when ctx ends.
func (p *Peer) Watch(ctx context.Context, labels model.LabelSet, send func([]*model.Alert)) {
	every := max(p.settings.PeerTimeout/4, 100*time.Millisecond)
	after := ReplicaDownFactor * p.settings.PeerTimeout
	seen := map[string]time.Time{}
	down := map[string]*model.Alert{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		self := p.Self().Name
		present := map[string]bool{}
		for _, m := range p.Peers() {
			if m.Name() != self {
				present[m.Name()] = true
				seen[m.Name()] = now
			}
		}
		var out []*model.Alert
		for name, last := range seen {
			a, isDown := down[name]
			switch {
			case present[name] && isDown:
				c := *a
				c.EndsAt = now
				out = append(out, &c)
				delete(down, name)
				p.logger.Info("peer is back in the cluster", "peer", name)
			case !present[name] && now.Sub(last) >= after:
				if !isDown {
					a = replicaDown(labels, name, last)
					down[name] = a
					p.logger.Error("peer missing from the cluster; raising "+AlertReplicaDown, "peer", name, "last_seen", last)
				}
				c := *a
				c.EndsAt = now.Add(3 * after)
				out = append(out, &c)
			}
		}
		if len(out) > 0 {
			send(out)
		}
	}
}

func replicaDown(base model.LabelSet, peer string, lastSeen time.Time) *model.Alert {
	ls := model.LabelSet{model.AlertNameLabel: AlertReplicaDown, "peer": model.LabelValue(peer), "severity": "page"}
	for k, v := range base {
		if _, ok := ls[k]; !ok {
			ls[k] = v
		}
	}
	return &model.Alert{
		Labels: ls,
		Annotations: model.LabelSet{
			"summary":     model.LabelValue("tocsin replica " + peer + " has left the cluster"),
			"description": model.LabelValue("Replica " + peer + " has not been seen in the cluster since " + lastSeen.UTC().Format(time.RFC3339) + ". The others still probe and page; start it again to restore redundancy."),
		},
		StartsAt: lastSeen,
	}
}
