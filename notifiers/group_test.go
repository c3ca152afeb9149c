package notifiers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// eagerClock is a fake clock whose timers due at once fire before
// AfterFunc returns, unless they wait on a lock the caller holds: the timer
// goroutine of a busy process may win any race against its creator.
type eagerClock struct{ *fakeClock }

func (c eagerClock) AfterFunc(d time.Duration, f func()) func() bool {
	if d > 0 {
		return c.fakeClock.AfterFunc(d, f)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(50 * time.Millisecond): // f waits for the caller
	}
	return func() bool { return false }
}

// With group_wait 0s the first alert of a new group leaves at once. The
// group's first flush must never run before that alert is filed: it would
// find the group empty and hold the page back a whole group_interval.
func TestGroupWaitZeroSendsTheFirstAlertAtOnce(t *testing.T) {
	a := newRecorder()
	route, err := NewRoute(routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Hour, time.Hour))
	require.NoError(t, err)
	clock := eagerClock{newFakeClock()}
	d, err := NewDispatcher(route, []*Receiver{receiver("oncall", configs.StrategyAll, 0, integration("a", a, true))},
		Options{Clock: clock})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	d.Send(alert(clock.Now(), "alertname", "BrokerDown"))
	require.Equal(t, model.LabelValue("BrokerDown"), a.next(t).CommonLabels["alertname"],
		"the first flush carries the alert without the clock moving")
}
