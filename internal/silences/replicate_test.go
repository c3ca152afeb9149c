package silences_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/internal/silences"
)

// replicaStore is a silence store of one member of an in-process cluster.
func replicaStore(t *testing.T, name, dir string, join []string) (*silences.Store, *cluster.Peer) {
	t.Helper()
	peer, err := cluster.Join(cluster.Settings{
		ListenAddress: "127.0.0.1:0", Peers: join, Name: name, PeerTimeout: time.Second,
		SettleTimeout: time.Second, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = peer.Close() })
	s := open(t, dir)
	s.Replicate(peer.Replicate)
	return s, peer
}

// TestSilencesReplicateAndPersistOnEveryReplica: a silence made on one
// replica mutes on the other, and is on the other's disk; so is its expiry.
func TestSilencesReplicateAndPersistOnEveryReplica(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, peerA := replicaStore(t, "a", dirA, nil)
	b, _ := replicaStore(t, "b", dirB, []string{peerA.Self().Address()})

	sil := silenceOf("BrokerDown", time.Hour)
	require.NoError(t, a.Set(t.Context(), sil))
	require.Eventually(t, func() bool { return muted(t, b, "BrokerDown") }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return muted(t, open(t, dirB), "BrokerDown") }, 10*time.Second, 10*time.Millisecond,
		"the replicated silence is written to the other replica's disk")

	time.Sleep(10 * time.Millisecond) // the expiry must be a later change than the creation
	require.NoError(t, b.Expire(t.Context(), sil.Id))
	require.Eventually(t, func() bool { return !muted(t, a, "BrokerDown") }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		got, err := open(t, dirA).Query(t.Context(), silence.QIDs(sil.Id), silence.QState(silence.SilenceStateExpired))
		return err == nil && len(got) == 1
	}, 10*time.Second, 10*time.Millisecond, "the expiry is written to the first replica's disk")
}
