package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// vendor counts the notifications it accepts, per group and status.
type vendor struct {
	mu  sync.Mutex
	got map[string][]model.AlertStatus
}

func (v *vendor) Notify(_ context.Context, n *notifiers.Notification) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.got[n.GroupKey] = append(v.got[n.GroupKey], n.Status)
	return false, nil
}

func (v *vendor) counts() map[string][]model.AlertStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]model.AlertStatus{}
	for k, s := range v.got {
		out[k] = append([]model.AlertStatus(nil), s...)
	}
	return out
}

// replica is one member of an in-process cluster with its own dispatcher
// and state file, paging the shared vendor.
type replica struct {
	peer *cluster.Peer
	d    *notifiers.Dispatcher
	stop func()
}

const peerTimeout = time.Second

func startReplica(t *testing.T, name string, join []string, v *vendor) *replica {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	peer, err := cluster.Join(cluster.Settings{
		ListenAddress: "127.0.0.1:0", Peers: join, Name: name, PeerTimeout: peerTimeout,
		SettleTimeout: 2 * time.Second, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
	}, logger, prometheus.NewRegistry())
	require.NoError(t, err)
	state, err := notifiers.OpenState(t.TempDir(), 0)
	require.NoError(t, err)
	state.SetBroadcast(peer.Replicate("nfl", state))
	zero, interval, repeat := model.Duration(0), model.Duration(time.Second), model.Duration(time.Hour)
	route, err := notifiers.NewRoute(&configs.Route{Receiver: "oncall", GroupBy: []model.LabelName{"probe"}, GroupWait: &zero, GroupInterval: &interval, RepeatInterval: &repeat})
	require.NoError(t, err)
	d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{{Name: "oncall", Strategy: configs.StrategyAll,
		Integrations: []notifiers.Integration{{Name: "webhook", Notifier: v, SendResolved: true}}}},
		notifiers.Options{State: state, Position: peer.Position, PeerTimeout: peer.PeerTimeout(), Ready: peer.WaitReady, Logger: logger})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	r := &replica{peer: peer, d: d}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			_ = peer.Close()
			_ = state.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func alerts(n int, from int) []*model.Alert {
	now := time.Now()
	out := make([]*model.Alert, n)
	for i := range out {
		out[i] = &model.Alert{Labels: model.LabelSet{"alertname": "ProbeFailing", "probe": model.LabelValue(fmt.Sprint("p", from+i))}, StartsAt: now, EndsAt: now.Add(time.Hour)}
	}
	return out
}

// Three replicas that all see the same failures page each vendor once per
// group: the first in position sends, the others find its entry in the
// gossiped notification log. When it is gone, the next one pages.
func TestThreeReplicasPageOncePerGroup(t *testing.T) {
	v := &vendor{got: map[string][]model.AlertStatus{}}
	r1 := startReplica(t, "r1", nil, v)
	addr := r1.peer.Self().Address()
	r2 := startReplica(t, "r2", []string{addr}, v)
	r3 := startReplica(t, "r3", []string{addr}, v)
	replicas := []*replica{r1, r2, r3}
	require.Eventually(t, func() bool {
		for _, r := range replicas {
			if r.peer.ClusterSize() != 3 || !r.peer.Ready() {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "the cluster forms and settles")

	const groups = 20
	for _, r := range replicas {
		r.d.Send(alerts(groups, 0)...)
	}
	require.Eventually(t, func() bool { return len(v.counts()) == groups }, 20*time.Second, 10*time.Millisecond)
	// Long enough for the last position to have sent, had it not known.
	time.Sleep(3 * peerTimeout)
	dups := 0
	for g, s := range v.counts() {
		require.NotEmpty(t, s, g)
		dups += len(s) - 1
	}
	t.Logf("%d groups, %d duplicate notifications", groups, dups)
	require.LessOrEqual(t, dups, groups/10, "at most one group in ten paged twice")

	// The replica in first position dies: new failures still page.
	r1.stop()
	for _, r := range []*replica{r2, r3} {
		r.d.Send(alerts(5, 100)...)
	}
	require.Eventually(t, func() bool { return len(v.counts()) == groups+5 }, 30*time.Second, 10*time.Millisecond)
}
