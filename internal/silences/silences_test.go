package silences_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// TestMain checks for leaks, save memberlist's and the cluster's own
// goroutines: a peer that has left keeps its listeners and its settle
// wait until the process ends.
func TestMain(m *testing.M) {
	opts := []goleak.Option{
		goleak.IgnoreTopFunction("github.com/prometheus/alertmanager/cluster.(*Peer).Settle"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*NetTransport).tcpListen"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*NetTransport).udpListen"),
	}
	for _, f := range []string{"checkBroadcastQueueDepth", "packetHandler", "packetListen", "pushPullTrigger", "streamListen", "triggerFunc"} {
		opts = append(opts, goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist)."+f))
	}
	goleak.VerifyTestMain(m, opts...)
}

// silenceOf returns a silence of alertname=name from now for d.
func silenceOf(name string, d time.Duration) *silencepb.Silence {
	now := time.Now()
	return &silencepb.Silence{
		MatcherSets: []*silencepb.MatcherSet{{Matchers: []*silencepb.Matcher{
			{Type: silencepb.Matcher_EQUAL, Name: "alertname", Pattern: name},
		}}},
		StartsAt:  timestamppb.New(now),
		EndsAt:    timestamppb.New(now.Add(d)),
		CreatedBy: "oncall@example.com",
		Comment:   "broker maintenance",
	}
}

func open(t *testing.T, dir string) *silences.Store {
	t.Helper()
	s := silences.New(silences.Options{})
	require.NoError(t, s.Open(dir))
	return s
}

func muted(t *testing.T, s *silences.Store, name string) bool {
	t.Helper()
	return s.Mutes(t.Context(), model.LabelSet{"alertname": model.LabelValue(name), "service": "broker"})
}

// TestChangesSurviveARestart reopens the store after each change, as a
// restart after a crash would: what the API answered is what is on disk.
func TestChangesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	sil := silenceOf("BrokerDown", time.Hour)
	require.NoError(t, s.Set(t.Context(), sil))
	require.NotEmpty(t, sil.Id)

	s = open(t, dir)
	require.True(t, muted(t, s, "BrokerDown"), "the silence was restored")
	require.False(t, muted(t, s, "ApiDown"))
	got, err := s.Query(t.Context(), silence.QIDs(sil.Id))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "broker maintenance", got[0].Comment)
	require.Equal(t, "oncall@example.com", got[0].CreatedBy)

	require.NoError(t, s.Expire(t.Context(), sil.Id))
	s = open(t, dir)
	require.False(t, muted(t, s, "BrokerDown"), "the expiry was restored")
	got, err = s.Query(t.Context(), silence.QState(silence.SilenceStateExpired))
	require.NoError(t, err)
	require.Len(t, got, 1, "an expired silence is kept until its retention passes")

	require.ErrorIs(t, s.Expire(t.Context(), "no-such-id"), silence.ErrNotFound)
}

func TestGCDropsExpiredSilencesAfterRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := silences.New(silences.Options{Retention: time.Hour, GCInterval: time.Minute})
		require.NoError(t, s.Open(dir))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()

		sil := silenceOf("BrokerDown", time.Hour)
		require.NoError(t, s.Set(t.Context(), sil))
		time.Sleep(time.Second) // a change wins over another by a later time
		require.NoError(t, s.Expire(t.Context(), sil.Id))
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		got, err := s.Query(t.Context(), silence.QIDs(sil.Id))
		require.NoError(t, err)
		require.Len(t, got, 1, "kept within retention")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		got, err = s.Query(t.Context(), silence.QIDs(sil.Id))
		require.NoError(t, err)
		require.Empty(t, got, "gone after retention")
		cancel()
		<-done

		s = open(t, dir)
		got, err = s.Query(t.Context(), silence.QIDs(sil.Id))
		require.NoError(t, err)
		require.Empty(t, got, "and gone from the file")
	})
}

// pager is a Notifier that keeps what it is told.
type pager struct {
	mu  sync.Mutex
	got []*notifiers.Notification
}

func (p *pager) Notify(_ context.Context, n *notifiers.Notification) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, n)
	return false, nil
}

func (p *pager) received() []*notifiers.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*notifiers.Notification(nil), p.got...)
}

// TestSilencedAlertPagesWhenTheSilenceExpires runs alerts through a real
// dispatcher with a state file: a silenced alert is not notified, its
// unsilenced neighbour in the same group is, and once the silence is
// expired the next flush of the group pages it.
func TestSilencedAlertPagesWhenTheSilenceExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		state, err := notifiers.OpenState(dir, 0)
		require.NoError(t, err)
		defer func() { require.NoError(t, state.Close()) }()
		sils := open(t, dir)

		wait, interval, repeat := model.Duration(10*time.Second), model.Duration(time.Minute), model.Duration(4*time.Hour)
		route, err := notifiers.NewRoute(&configs.Route{
			Receiver: "oncall", GroupBy: []model.LabelName{"service"},
			GroupWait: &wait, GroupInterval: &interval, RepeatInterval: &repeat,
		})
		require.NoError(t, err)
		p := &pager{}
		d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{{
			Name: "oncall", Strategy: configs.StrategyAll,
			Integrations: []notifiers.Integration{{Name: "webhook", Notifier: p, SendResolved: true}},
		}}, notifiers.Options{State: state, Silences: sils})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(ctx) }()
		defer func() { cancel(); <-done }()

		sil := silenceOf("BrokerDown", 24*time.Hour)
		require.NoError(t, sils.Set(t.Context(), sil))
		now := time.Now()
		var alerts []*model.Alert
		for _, name := range []string{"BrokerDown", "BrokerSlow"} {
			alerts = append(alerts, &model.Alert{
				Labels:   model.LabelSet{"alertname": model.LabelValue(name), "service": "broker"},
				StartsAt: now, EndsAt: now.Add(24 * time.Hour),
			})
		}
		d.Send(alerts...)
		time.Sleep(11 * time.Second) // group_wait, and the state file's batch
		synctest.Wait()
		got := p.received()
		require.Len(t, got, 1)
		require.Len(t, got[0].Alerts, 1, "the silenced alert is left out")
		require.Equal(t, model.LabelValue("BrokerSlow"), got[0].Alerts[0].Labels["alertname"])

		time.Sleep(time.Minute)
		synctest.Wait()
		require.Len(t, p.received(), 1, "still silenced: nothing new to say")

		require.NoError(t, sils.Expire(t.Context(), sil.Id))
		time.Sleep(time.Minute)
		synctest.Wait()
		got = p.received()
		require.Len(t, got, 2, "the group's next flush pages the alert")
		require.Len(t, got[1].Alerts, 2)
		require.Equal(t, model.AlertFiring, got[1].Status)
	})
}

// TestAnyActive: the dispatcher skips asking about each alert only while
// no silence is active.
func TestAnyActive(t *testing.T) {
	s := open(t, t.TempDir())
	require.False(t, s.AnyActive(t.Context()), "no silence yet")
	sil := silenceOf("BrokerDown", time.Hour)
	require.NoError(t, s.Set(t.Context(), sil))
	require.True(t, s.AnyActive(t.Context()))
	require.NoError(t, s.Expire(t.Context(), sil.Id))
	require.False(t, s.AnyActive(t.Context()), "expired")
	require.False(t, silences.New(silences.Options{}).AnyActive(t.Context()), "not open")
}

// TestBeforeOpenNothingIsMuted covers the moment between start and the
// first config: the store mutes nothing and refuses changes.
func TestBeforeOpenNothingIsMuted(t *testing.T) {
	s := silences.New(silences.Options{})
	require.False(t, muted(t, s, "BrokerDown"))
	require.Error(t, s.Set(t.Context(), silenceOf("BrokerDown", time.Hour)))
	require.Error(t, s.Expire(t.Context(), "id"))
	require.NoError(t, s.GC())
	require.NoError(t, s.Open(t.TempDir()))
	require.Error(t, s.Open(t.TempDir()), "opened once")
}
