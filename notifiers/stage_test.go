package notifiers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// stageDelivery is one integration's delivery of a group with one firing
// and one resolved alert.
func stageDelivery(sendResolved bool) *delivery {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	firing := alert(now, "alertname", "A", "probe", "x")
	firing.EndsAt = time.Time{}
	resolved := alert(now, "alertname", "A", "probe", "y")
	resolved.EndsAt = now
	ffp, rfp := firing.Labels.Fingerprint(), resolved.Labels.Fingerprint()
	f := &flush{
		n:        &Notification{GroupKey: "g", Status: model.AlertFiring, Alerts: []*model.Alert{firing, resolved}},
		fps:      []model.Fingerprint{ffp, rfp},
		firing:   []model.Fingerprint{ffp},
		resolved: []model.Fingerprint{rfp},
		repeat:   time.Hour,
	}
	r := &Receiver{Name: "oncall", Integrations: []Integration{{Name: "a", SendResolved: sendResolved}}}
	d := &delivery{f: f, r: r, group: logGroup{groupKey: "g", receiver: "oncall"}}
	return d.forIntegration(&r.Integrations[0])
}

func stageDispatcher(t *testing.T, opts Options) *Dispatcher {
	t.Helper()
	route, err := NewRoute(routeCfg("oncall", nil, 0, time.Minute, time.Hour))
	require.NoError(t, err)
	d, err := NewDispatcher(route, []*Receiver{{Name: "oncall"}}, opts)
	require.NoError(t, err)
	t.Cleanup(d.stop)
	return d
}

func TestDedupStage(t *testing.T) {
	clock := newFakeClock()
	disp := stageDispatcher(t, Options{Clock: clock, State: openState(t, t.TempDir())})
	s := dedupStage{disp}

	d := stageDelivery(false)
	out, err := s.Exec(t.Context(), d)
	require.NoError(t, err)
	require.NotNil(t, out, "never told: news")
	require.Len(t, out.n.Alerts, 1, "no resolved alerts for an integration without send_resolved")
	require.Empty(t, out.resolved)

	require.NoError(t, disp.state.record(d.group, d.integrationKey(), &logEntry{Firing: out.firing, At: clock.Now(), State: map[string]string{"ts": "1"}}))
	out, err = s.Exec(t.Context(), stageDelivery(false))
	require.NoError(t, err)
	require.Nil(t, out, "already told, repeat_interval not passed")

	clock.Advance(time.Hour)
	out, err = s.Exec(t.Context(), stageDelivery(false))
	require.NoError(t, err)
	require.NotNil(t, out, "repeat_interval passed")
	require.Equal(t, "1", out.state.Get("ts"), "the vendor's state comes from the log")

	out, err = s.Exec(t.Context(), stageDelivery(true))
	require.NoError(t, err)
	require.Len(t, out.resolved, 1, "send_resolved: the resolved alert is news")
}

func TestWaitStageHoldsForThePosition(t *testing.T) {
	clock := newFakeClock()
	disp := stageDispatcher(t, Options{Clock: clock, Position: func() int { return 2 }, PeerTimeout: 5 * time.Second})
	done := make(chan *delivery, 1)
	go func() {
		out, _ := waitStage{disp}.Exec(context.Background(), stageDelivery(true))
		done <- out
	}()
	clock.waitTimer(t, clock.Now().Add(10*time.Second))
	clock.Advance(10*time.Second - time.Millisecond)
	select {
	case <-done:
		t.Fatal("passed before position × peer timeout")
	default:
	}
	clock.Advance(time.Millisecond)
	require.NotNil(t, <-done)
}

func TestWaitStageWithoutClusterPassesAtOnce(t *testing.T) {
	disp := stageDispatcher(t, Options{Clock: newFakeClock()})
	out, err := waitStage{disp}.Exec(t.Context(), stageDelivery(true))
	require.NoError(t, err)
	require.NotNil(t, out)
}
