package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/probes"
)

// shardWorld is a shard with members and active alerts the test sets, and
// a scheduler that only remembers what it was told to run.
type shardWorld struct {
	mu        sync.Mutex
	members   []string
	active    map[string]bool
	running   []string
	forgotten []string
	s         *shard
}

func newShardWorld(self string, members ...string) *shardWorld {
	w := &shardWorld{members: members, active: map[string]bool{}}
	w.s = newShard(self, func() []string {
		w.mu.Lock()
		defer w.mu.Unlock()
		return slices.Clone(w.members)
	}, func() map[string]bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.active
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.s.forget = func(names []string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.forgotten = append(w.forgotten, names...)
	}
	w.s.update = func(pcs []*configs.ProbeConfig) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.running = probeNames(pcs)
		return nil
	}
	return w
}

func (w *shardWorld) set(f func(w *shardWorld)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

func (w *shardWorld) runs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.running)
}

func probeNames(pcs []*configs.ProbeConfig) []string {
	out := make([]string, len(pcs))
	for i, pc := range pcs {
		out[i] = pc.Name
	}
	slices.Sort(out)
	return out
}

func shardConfig(n, count int) *configs.Config {
	cfg := &configs.Config{EvaluationInterval: model.Duration(time.Second)}
	cfg.Cluster.ProbeReplication = n
	for i := range count {
		cfg.Probes = append(cfg.Probes, &configs.ProbeConfig{
			Name: fmt.Sprintf("probe-%02d", i), Interval: model.Duration(time.Second),
			TCP: &configs.TCPProbe{Address: "127.0.0.1:1"},
		})
	}
	cfg.Probes = append(cfg.Probes, &configs.ProbeConfig{Name: "beat", Interval: model.Duration(time.Second), Heartbeat: &configs.HeartbeatProbe{}})
	return cfg
}

// owned lists the probes self owns among members by the assignment alone.
func owned(cfg *configs.Config, self string, members ...string) []string {
	a := cluster.NewAssignment(members, cfg.Cluster.ProbeReplication)
	var out []string
	for _, pc := range cfg.Probes {
		if pc.Heartbeat != nil || a.Owns(pc.Name, self) {
			out = append(out, pc.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestShardRunsItsShareAndHandsOverWithOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := shardConfig(1, 40)
		w := newShardWorld("a", "a", "b", "c")
		run := probeNames(w.s.start(cfg))
		require.Equal(t, owned(cfg, "a", "a", "b", "c"), run)
		require.Contains(t, run, "beat", "heartbeat probes run everywhere")
		w.set(func(w *shardWorld) { w.running = run })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go w.s.run(ctx)

		// d joins: the probes it wins keep running here through the grace
		// (3 intervals + 2 evaluation intervals = 5s), then stop.
		w.set(func(w *shardWorld) { w.members = append(w.members, "d") })
		after := owned(cfg, "a", "a", "b", "c", "d")
		lostToD := without(run, after)
		require.NotEmpty(t, lostToD, "with 40 probes d takes some of a's")
		require.Empty(t, without(after, run), "a join only takes probes away")
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, run, w.runs(), "handing over: the lost probes still run")
		ownedNow, handing := w.s.counts()
		require.Equal(t, len(after), ownedNow)
		require.Equal(t, len(lostToD), handing)

		// A lost probe with an active alert here stays until it resolves.
		held := lostToD[0]
		w.set(func(w *shardWorld) { w.active = map[string]bool{held: true} })
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Equal(t, sortedCopy(append(slices.Clone(after), held)), w.runs())
		w.set(func(w *shardWorld) { w.active = map[string]bool{} })
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, after, w.runs())
		_, handing = w.s.counts()
		require.Zero(t, handing)
		w.set(func(w *shardWorld) {
			require.Equal(t, lostToD, sortedCopy(w.forgotten), "the series of every probe handed over are dropped")
		})

		// b leaves: a takes some of b's probes at once.
		w.set(func(w *shardWorld) { w.members = []string{"a", "c", "d"} })
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, owned(cfg, "a", "a", "c", "d"), w.runs())
	})
}

func TestShardWithoutReplicationRunsEveryProbe(t *testing.T) {
	cfg := shardConfig(0, 10)
	w := newShardWorld("a", "a", "b", "c")
	require.Equal(t, probeNames(cfg.Probes), probeNames(w.s.start(cfg)))
	owned, handing := w.s.counts()
	require.Equal(t, len(cfg.Probes), owned)
	require.Zero(t, handing)
}

func TestShardReloadChangesTheReplication(t *testing.T) {
	cfg := shardConfig(0, 20)
	w := newShardWorld("a", "a", "b")
	require.Len(t, w.s.start(cfg), 21)
	next := shardConfig(1, 20)
	require.NoError(t, w.s.apply(next))
	// Fewer probes now: those lost are handed over, not dropped at once.
	require.Len(t, w.runs(), 21)
	ownedNow, handing := w.s.counts()
	require.Equal(t, len(owned(next, "a", "a", "b")), ownedNow)
	require.Equal(t, 21-ownedNow, handing)
}

func TestShardFilterDropsAlertsAboutProbesNotRunHere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := shardConfig(1, 40)
		w := newShardWorld("a", "a", "b")
		run := w.s.start(cfg)
		mine := run[0].Name
		var notMine string
		for _, pc := range cfg.Probes {
			if !slices.Contains(probeNames(run), pc.Name) {
				notMine = pc.Name
				break
			}
		}
		require.NotEmpty(t, notMine)
		t0 := time.Now()
		alert := func(name, probe string, startsAt time.Time) *model.Alert {
			ls := model.LabelSet{"alertname": model.LabelValue(name)}
			if probe != "" {
				ls["probe"] = model.LabelValue(probe)
			}
			return &model.Alert{Labels: ls, StartsAt: startsAt}
		}
		names := func(as []*model.Alert) []string {
			var out []string
			for _, a := range as {
				out = append(out, string(a.Labels["alertname"])+"/"+string(a.Labels["probe"]))
			}
			return out
		}
		got := w.s.filter([]*model.Alert{
			alert("Watchdog", "", t0),
			alert("ProbeFailing", mine, t0),
			alert("ProbeResultsMissing", notMine, t0),
			alert("ProbeFailing", "removed-from-config", t0),
		})
		require.Equal(t, []string{"Watchdog/", "ProbeFailing/" + mine, "ProbeFailing/removed-from-config"}, names(got),
			"probes run since the start keep every alert; only a probe not run here loses its own")

		// a gains notMine when b leaves: its alerts pass only once they
		// started after its first result here.
		w.set(func(w *shardWorld) { w.members = []string{"a"} })
		w.s.sync(t.Context())
		require.Contains(t, w.runs(), notMine)
		time.Sleep(time.Second)
		old := alert("ProbeResultsMissing", notMine, t0)
		require.Empty(t, w.s.filter([]*model.Alert{old}), "no result yet")
		w.s.seen(probes.Result{Probe: notMine, Time: time.Now()})
		time.Sleep(time.Second)
		fresh := alert("ProbeFailing", notMine, time.Now())
		require.Equal(t, []string{"ProbeFailing/" + notMine}, names(w.s.filter([]*model.Alert{old, fresh})))
	})
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(x string) bool { return slices.Contains(b, x) })
}
