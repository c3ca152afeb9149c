package probes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TestHeartbeatDecidedAtGraceExactly: a heartbeat probe on a long interval
// fails at last beat + grace to the millisecond, not at its next run.
func TestHeartbeatDecidedAtGraceExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 30 * time.Second
		cfg := &configs.ProbeConfig{Name: "watchdog", Interval: model.Duration(time.Hour),
			Heartbeat: &configs.HeartbeatProbe{Grace: model.Duration(grace), Token: "s3cret"}}
		var (
			mu      sync.Mutex
			results []Result
		)
		sched, err := NewScheduler([]*configs.ProbeConfig{cfg}, SchedulerOptions{Replica: testReplica, Sink: func(r Result) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- sched.Run(ctx) }()
		taken := func() []Result {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			out := results
			results = nil
			return out
		}

		started := time.Now()
		time.Sleep(grace - time.Millisecond)
		require.Empty(t, taken(), "no run before the grace of tocsin's start is over")
		time.Sleep(time.Millisecond)
		got := taken()
		require.Len(t, got, 1)
		require.Equal(t, ReasonHeartbeatMissing, got[0].Reason)
		require.Equal(t, started.Add(grace), got[0].Time)

		// A beat is recorded at once, and its grace is decided exactly.
		req := httptest.NewRequest(http.MethodPost, HeartbeatPath+"watchdog", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		rec := httptest.NewRecorder()
		sched.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusNoContent, rec.Code)
		beat := time.Now()
		got = taken()
		require.Len(t, got, 1)
		require.True(t, got[0].Success)

		time.Sleep(grace - time.Millisecond)
		require.Empty(t, taken())
		time.Sleep(time.Millisecond)
		got = taken()
		require.Len(t, got, 1)
		require.Equal(t, ReasonHeartbeatMissing, got[0].Reason)
		require.Equal(t, beat.Add(grace), got[0].Time)

		// Once missing, the probe runs on its interval again.
		time.Sleep(10 * time.Minute)
		require.Empty(t, taken())

		cancel()
		require.NoError(t, <-done)
	})
}
