package pipeline

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/storage"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

// recentFailuresKept is how many failed runs each probe remembers for the
// status pages; the TSDB keeps the counts, this keeps the details.
const recentFailuresKept = 20

// Snapshot is what the pipeline knows right now, for status pages and APIs.
// Its parts are copies or read-only views; nothing in it changes tocsin.
type Snapshot struct {
	// Config is the configuration in force; nil before the first Apply.
	Config *configs.Config
	// Started is when the pipeline was built.
	Started time.Time
	// Latest is each probe's last result, by probe name.
	Latest map[string]probes.Result
	// Failures are each probe's recent failed runs, newest first, since
	// tocsin started.
	Failures map[string][]probes.Result
	// Rules are the rule groups in force, ordered by file and name, with
	// their rules' templates and their alerts' annotations.
	Rules rules.View
	// Integrations are the receivers' integrations with their last delivery.
	Integrations []notifiers.IntegrationStatus
	// NotifierAlerts are the NotifierFailing alerts the dispatcher raised.
	NotifierAlerts []*model.Alert
	// Cluster is this replica's view of its cluster; nil when it runs alone.
	Cluster *ClusterStatus
	// ReplicaAlerts are the ReplicaDown alerts this replica raises about
	// missing peers.
	ReplicaAlerts []*model.Alert
}

// ClusterStatus is this replica's place in its cluster.
type ClusterStatus struct {
	// Name is this replica's name in the cluster.
	Name string
	// Status is "settling" until gossip has settled, then "ready".
	Status string
	// Position orders the replicas: the one at position n waits n × peer
	// timeout before it notifies.
	Position int
	// Members are the replicas this one sees, itself included, by name.
	Members []ClusterMember
	// ProbeReplication is cluster.probe_replication: how many replicas run
	// each probe, 0 for all of them.
	ProbeReplication int
	// ProbesOwned are the probes this replica runs as one of their owners;
	// ProbesHandingOver those it still runs while their new owners take over.
	ProbesOwned, ProbesHandingOver int
}

// ClusterMember is one replica of the cluster.
type ClusterMember struct {
	Name, Address string
}

// Snapshot returns the pipeline's current state.
func (p *Pipeline) Snapshot() Snapshot {
	p.mu.Lock()
	cfg, sched, ev, disp, started, peer := p.cfg, p.scheduler, p.evaluator, p.dispatcher, p.started, p.peer
	p.mu.Unlock()
	s := Snapshot{Config: cfg, Started: started, Failures: p.recent.all(), ReplicaAlerts: p.replicaAlerts.firing(time.Now())}
	if sched != nil {
		s.Latest = sched.Latest()
	}
	if ev != nil {
		s.Rules = ev.View()
	}
	if disp != nil {
		s.Integrations = disp.Integrations()
		s.NotifierAlerts = disp.Alerts()
	}
	if peer != nil {
		c := &ClusterStatus{Name: peer.Name(), Status: peer.Status(), Position: peer.Position()}
		for _, m := range peer.Peers() {
			c.Members = append(c.Members, ClusterMember{Name: m.Name(), Address: m.Address()})
		}
		slices.SortFunc(c.Members, func(a, b ClusterMember) int { return strings.Compare(a.Name, b.Name) })
		if cfg != nil {
			c.ProbeReplication = cfg.Cluster.ProbeReplication
		}
		if p.shard != nil {
			c.ProbesOwned, c.ProbesHandingOver = p.shard.counts()
		}
		s.Cluster = c
	}
	return s
}

// Queryable is the local TSDB, for PromQL queries from pages and the API;
// nil before the first Apply.
func (p *Pipeline) Queryable() storage.Queryable {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.recorder == nil {
		return nil
	}
	return p.recorder
}

// recentFailures keeps the last failed runs of each probe.
type recentFailures struct {
	mu     sync.Mutex
	byName map[string][]probes.Result // oldest first
}

func (f *recentFailures) add(r probes.Result) {
	if r.Success {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byName == nil {
		f.byName = map[string][]probes.Result{}
	}
	l := append(f.byName[r.Probe], r)
	if len(l) > recentFailuresKept {
		l = slices.Clone(l[len(l)-recentFailuresKept:])
	}
	f.byName[r.Probe] = l
}

func (f *recentFailures) all() map[string][]probes.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string][]probes.Result, len(f.byName))
	for name, l := range f.byName {
		c := slices.Clone(l)
		slices.Reverse(c)
		out[name] = c
	}
	return out
}

// activeAlerts keeps the latest state of alerts the pipeline raises itself,
// by fingerprint, for the status pages.
type activeAlerts struct {
	mu   sync.Mutex
	byFP map[model.Fingerprint]*model.Alert
}

func (a *activeAlerts) update(alerts []*model.Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byFP == nil {
		a.byFP = map[model.Fingerprint]*model.Alert{}
	}
	for _, al := range alerts {
		c := *al
		a.byFP[al.Labels.Fingerprint()] = &c
	}
}

// firing returns the alerts that have not ended by now, oldest first, and
// forgets the others.
func (a *activeAlerts) firing(now time.Time) []*model.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*model.Alert
	for fp, al := range a.byFP {
		if !al.EndsAt.IsZero() && !al.EndsAt.After(now) {
			delete(a.byFP, fp)
			continue
		}
		c := *al
		out = append(out, &c)
	}
	slices.SortFunc(out, func(x, y *model.Alert) int { return x.StartsAt.Compare(y.StartsAt) })
	return out
}
