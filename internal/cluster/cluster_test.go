package cluster_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
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

func startReplica(t *testing.T, name string, join []string, v *vendor, tlsConfig ...string) *replica {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	peer, err := cluster.Join(cluster.Settings{
		ListenAddress: "127.0.0.1:0", Peers: join, Name: name, PeerTimeout: peerTimeout,
		SettleTimeout: 2 * time.Second, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
		TLSConfigFile: strings.Join(tlsConfig, ""),
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

// With --cluster.tls-config, replicas gossip over mutual TLS: they form a
// cluster and share the notification log.
func TestReplicasGossipOverMutualTLS(t *testing.T) {
	pki := probetest.NewPKI(t)
	tlsConfig := filepath.Join(t.TempDir(), "cluster-tls.yml")
	require.NoError(t, os.WriteFile(tlsConfig, fmt.Appendf(nil, `tls_server_config:
  cert_file: %s
  key_file: %s
  client_ca_file: %s
  client_auth_type: RequireAndVerifyClientCert
tls_client_config:
  cert_file: %s
  key_file: %s
  ca_file: %s
`, pki.ServerCertFile, pki.ServerKeyFile, pki.CAFile, pki.CertFile, pki.KeyFile, pki.CAFile), 0o600))
	v := &vendor{got: map[string][]model.AlertStatus{}}
	r1 := startReplica(t, "r1", nil, v, tlsConfig)
	r2 := startReplica(t, "r2", []string{r1.peer.Self().Address()}, v, tlsConfig)
	require.Eventually(t, func() bool {
		return r1.peer.ClusterSize() == 2 && r2.peer.ClusterSize() == 2 && r1.peer.Ready() && r2.peer.Ready()
	}, 20*time.Second, 20*time.Millisecond)

	// The gossip port speaks TLS and takes this client certificate.
	cert, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	require.NoError(t, err)
	conn, err := tls.Dial("tcp", r1.peer.Self().Address(), &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "a TLS handshake with the gossip port")
	require.NoError(t, conn.Close())

	r1.d.Send(alerts(1, 0)...)
	require.Eventually(t, func() bool { return len(v.counts()) == 1 }, 20*time.Second, 10*time.Millisecond)
	r2.d.Send(alerts(1, 0)...)
	time.Sleep(3 * peerTimeout) // r2's wait has passed; a page from it would show by now
	for g, s := range v.counts() {
		require.Len(t, s, 1, "%s: r2 learned over TLS that r1 paged", g)
	}
}
