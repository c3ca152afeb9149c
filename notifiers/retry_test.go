package notifiers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// A vendor's Retry-After holds for the group's next flushes too, not only
// for the retries of one delivery: a group_interval shorter than the wait
// the vendor asked for must not call it again early.
func TestRetryAfterOutlastsTheGroupInterval(t *testing.T) {
	limited := newRecorder()
	limited.answer = func(_ context.Context, call int, _ *Notification) (bool, error) {
		if call == 1 {
			return true, &VendorError{Integration: "limited", StatusCode: 429, Reason: "rate limited", RetryAfter: 30 * time.Second}
		}
		return false, nil
	}
	h := newHarness(t, routeCfg("oncall", nil, time.Second, 10*time.Second, time.Hour), Options{},
		receiver("oncall", configs.StrategyAll, 0, integration("limited", limited, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	asked := h.clock.Now()
	limited.next(t)
	h.waitFlushes(t, 1) // the wait outlasts this delivery: given up

	h.clock.Advance(10 * time.Second)
	h.waitFlushes(t, 1) // the wait outlasts this one too: not even tried
	require.Len(t, limited.received(), 1, "called again before Retry-After")

	h.clock.Advance(10 * time.Second)
	h.clock.waitTimer(t, asked.Add(30*time.Second)) // this one waits for it
	require.Len(t, limited.received(), 1, "called again before Retry-After")
	h.clock.Advance(10 * time.Second)
	limited.next(t)
	h.waitFlushes(t, 1)
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.failures.WithLabelValues("oncall", "limited", ReasonRateLimited)))
	require.Equal(t, 1.0, testutil.ToFloat64(h.d.metrics.total.WithLabelValues("oncall", "limited", OutcomeAccepted)))
}
