package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

// shardRules are the shipped pack's ProbeFailing and ProbeResultsMissing,
// with times short enough for a test: a probe fails after 3s of failed
// runs instead of 15s (one run that times out on a loaded machine pages
// nobody), and one that stopped reporting is missing after 3s instead of
// a minute.
const shardRules = `groups:
- name: shard-probes
  rules:
  - alert: ProbeFailing
    expr: probe_success{kind!="heartbeat"} == 0
    for: 3s
    labels: {severity: page}
- name: shard-prober
  rules:
  - alert: ProbeResultsMissing
    expr: |
      present_over_time(probe_success{kind!="heartbeat"}[1h])
      unless
      present_over_time(probe_success{kind!="heartbeat"}[3s])
    labels: {severity: page}
`

const shardProbes = 24

// shardConfigYAML is every replica's config but for its name: TCP probes
// of a local port, the on-call paged by the webhook oncall, ReplicaDown
// routed to the webhook replicas.
func shardConfigYAML(replication int, target, oncall, replicas string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global: {replica: REPLICA}
cluster: {probe_replication: %d}
rule_files: [rules.yml]
evaluation_interval: 200ms
probes:
`, replication)
	for i := range shardProbes {
		fmt.Fprintf(&b, "- {name: port-%02d, interval: 200ms, timeout: 150ms, tcp: {address: '%s'}}\n", i, target)
	}
	fmt.Fprintf(&b, `route:
  receiver: oncall
  group_by: [alertname, probe]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
  - matchers: ['alertname="ReplicaDown"']
    receiver: replicas
    group_by: [alertname, peer]
receivers:
- name: oncall
  webhook_configs: [{url: '%s'}]
- name: replicas
  webhook_configs: [{url: '%s'}]
`, oncall, replicas)
	return b.String()
}

// shardReplica is one in-process tocsin of a sharded cluster.
type shardReplica struct {
	name string
	// gossip is the address it gossips on. (Not read back from memberlist:
	// memberlist rewrites its own node's address in place, unguarded.)
	gossip string
	p      *pipeline.Pipeline
	reg    *prometheus.Registry
	stop   func()

	mu      sync.Mutex
	results map[string]int // probe → results since start
}

func (r *shardReplica) onResult(res probes.Result) {
	r.mu.Lock()
	r.results[res.Probe]++
	r.mu.Unlock()
}

func (r *shardReplica) resultsOf(probe string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[probe]
}

// running lists the probes whose latest result the scheduler exposes on
// /metrics: the ones it runs. (Not Snapshot: reading its members'
// addresses races with memberlist, which rewrites them in place.)
func (r *shardReplica) running() []string {
	mfs, _ := r.reg.Gather()
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != probes.MetricSuccess {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "probe" && l.GetValue() != "" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func startShardReplica(t *testing.T, dir, name, yml string, join ...string) *shardReplica {
	t.Helper()
	rdir := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(rdir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rdir, "rules.yml"), []byte(shardRules), 0o600))
	file := filepath.Join(rdir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(yml, "REPLICA", name, 1)), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)

	r := &shardReplica{name: name, gossip: freeAddress(t), reg: prometheus.NewRegistry(), results: map[string]int{}}
	r.p = pipeline.New(pipeline.Settings{
		StoragePath: filepath.Join(rdir, "data"),
		Registerer:  r.reg,
		// Joins and graceful leaves spread at once. memberlist's failure
		// detector keeps its default pace, so that a loaded machine does not
		// make it declare live replicas dead and move probes in the middle
		// of the test; and Alertmanager's reconnect to peers that left,
		// whose read of a member's address races with memberlist's update
		// of it, does not run during the test.
		Cluster: &cluster.Settings{
			ListenAddress: r.gossip, Peers: join, PeerTimeout: 500 * time.Millisecond,
			SettleTimeout: time.Second, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
			ReconnectInterval: time.Hour,
		},
		OnResult: r.onResult,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, r.p.Apply(t.Context(), cfg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.p.Run(ctx); close(done) }()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
	return r
}

func (r *shardReplica) address() string { return r.gossip }

// freeAddress is a loopback address with a port nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// converged waits until every replica runs exactly the probes rendezvous
// hashing gives it over the replicas, handovers included, so each probe
// runs on exactly n of them.
func converged(t *testing.T, n int, rs ...*shardReplica) {
	t.Helper()
	var names []string
	for _, r := range rs {
		names = append(names, r.name)
	}
	a := cluster.NewAssignment(names, n)
	want := func(r *shardReplica) []string {
		var out []string
		for i := range shardProbes {
			if p := fmt.Sprintf("port-%02d", i); a.Owns(p, r.name) {
				out = append(out, p)
			}
		}
		return out
	}
	var runs [][]string // what each replica ran when they all agreed
	require.Eventually(t, func() bool {
		runs = runs[:0]
		for _, r := range rs {
			run := r.running()
			if !slices.Equal(want(r), run) || gauge(r, "tocsin_probes_handing_over") != 0 {
				return false
			}
			runs = append(runs, run)
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "probes never settled on %v", names)
	for i := range shardProbes {
		p := fmt.Sprintf("port-%02d", i)
		on := 0
		for _, run := range runs {
			if slices.Contains(run, p) {
				on++
			}
		}
		require.Equal(t, n, on, "probe %s runs on %d replicas", p, on)
	}
	for _, r := range rs {
		require.Equal(t, float64(len(want(r))), gauge(r, "tocsin_probes_owned"), r.name)
	}
}

// gauge reads one of r's own gauges; -1 when it has none.
func gauge(r *shardReplica, name string) float64 {
	mfs, _ := r.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// probeAlerts are the alerts about probes a replica's dispatcher holds.
func probeAlerts(r *shardReplica) []string {
	var out []string
	for _, g := range r.p.AlertGroups() {
		for _, a := range g.Alerts {
			if a.Labels["probe"] != "" {
				out = append(out, fmt.Sprintf("%s %s on %s", a.Labels["alertname"], a.Labels["probe"], r.name))
			}
		}
	}
	return out
}

// listen serves a TCP port that accepts and closes every connection.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				_ = c.Close()
			}
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String()
}

// TestProbesMoveBetweenReplicasWithoutAPage runs a cluster of in-process
// replicas with probe_replication 2. A fourth replica joins and takes its
// share of the probes; then one of the first three leaves and its probes
// move to the others. The replicas that gave probes away forget their
// series, so their ProbeResultsMissing never fires, and nobody is paged
// about a probe; only ReplicaDown about the one that left is.
func TestProbesMoveBetweenReplicasWithoutAPage(t *testing.T) {
	oncall := notifiertest.NewWebhook()
	defer oncall.Close()
	replicas := notifiertest.NewWebhook()
	defer replicas.Close()
	dir := t.TempDir()
	yml := shardConfigYAML(2, listen(t), oncall.APIURL(), replicas.APIURL())

	a := startShardReplica(t, dir, "tocsin-a", yml)
	b := startShardReplica(t, dir, "tocsin-b", yml, a.address())
	c := startShardReplica(t, dir, "tocsin-c", yml, a.address())
	converged(t, 2, a, b, c)

	// A fourth replica joins: it takes about half of the probes from the
	// three, and really runs them.
	d := startShardReplica(t, dir, "tocsin-d", yml, a.address())
	converged(t, 2, a, b, c, d)
	dRuns := d.running()
	require.NotEmpty(t, dRuns)
	for _, p := range dRuns {
		require.Eventually(t, func() bool { return d.resultsOf(p) > 0 }, 10*time.Second, 20*time.Millisecond, "%s never ran on tocsin-d", p)
	}
	// A probe d took from another replica: that one ran it, and has
	// forgotten its series since the handover ended.
	var moved string
	var from *shardReplica
	for _, p := range dRuns {
		for _, r := range []*shardReplica{a, b, c} {
			if r.resultsOf(p) > 0 && !slices.Contains(r.running(), p) && from == nil {
				moved, from = p, r
			}
		}
	}
	require.NotNil(t, from, "d took no probe that another replica ran")
	require.Empty(t, samples(t, from.p.Queryable(), eq(model.MetricNameLabel, probes.MetricSuccess), eq("probe", moved)),
		"%s kept the series of %s after handing it over", from.name, moved)
	handedOver := time.Now()

	// c leaves: its probes move to a, b and d.
	c.stop()
	converged(t, 2, a, b, d)
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(replicas.Pages(), func(p notifiertest.Page) bool { return p.Title == "ReplicaDown" && strings.Contains(p.Key, "tocsin-c") })
	}, 20*time.Second, 50*time.Millisecond, "ReplicaDown about tocsin-c never paged: the test's pages do not flow")

	// Past the missing window of ProbeResultsMissing since the handover
	// (and an evaluation), the old owner has not found the probe missing.
	<-time.After(time.Until(handedOver.Add(3*time.Second + 400*time.Millisecond)))
	require.Empty(t, samples(t, from.p.Queryable(), eq(model.MetricNameLabel, "ALERTS"), eq("alertname", "ProbeResultsMissing")),
		"%s found a probe it handed over missing", from.name)
	for _, r := range []*shardReplica{a, b, d} {
		require.Empty(t, probeAlerts(r))
	}
	require.Empty(t, oncall.Pages(), "a probe moving paged the on-call")
	require.Empty(t, oncall.Violations())
	require.Empty(t, replicas.Violations())
}

// TestWithoutProbeReplicationEveryReplicaRunsEveryProbe: the default.
func TestWithoutProbeReplicationEveryReplicaRunsEveryProbe(t *testing.T) {
	oncall := notifiertest.NewWebhook()
	defer oncall.Close()
	dir := t.TempDir()
	yml := strings.Replace(shardConfigYAML(0, listen(t), oncall.APIURL(), oncall.APIURL()), "cluster: {probe_replication: 0}\n", "", 1)
	a := startShardReplica(t, dir, "tocsin-a", yml)
	b := startShardReplica(t, dir, "tocsin-b", yml, a.address())
	c := startShardReplica(t, dir, "tocsin-c", yml, a.address())
	require.Eventually(t, func() bool { return len(a.p.Peer().Peers()) == 3 }, 10*time.Second, 20*time.Millisecond)
	converged(t, 3, a, b, c)
	for _, r := range []*shardReplica{a, b, c} {
		require.Equal(t, float64(shardProbes), gauge(r, "tocsin_probes_owned"))
	}
	require.Empty(t, oncall.Pages())
}
