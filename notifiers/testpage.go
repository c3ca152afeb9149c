package notifiers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// AlertTestPage is the alert name of the page `tocsin notify test` sends.
const AlertTestPage = "TocsinTestPage"

// TestNotification returns a clearly marked test page for a receiver. Its
// dedup key is new on every call, so that it never merges into a real
// incident or an earlier test.
func TestNotification(receiver string, now time.Time, externalURL string) *Notification {
	labels := model.LabelSet{
		model.AlertNameLabel: AlertTestPage,
		"severity":           "info",
		"receiver":           model.LabelValue(receiver),
	}
	annotations := model.LabelSet{
		"summary":     "Test page from tocsin: this is not an incident",
		"description": model.LabelValue("Sent by `tocsin notify test` to check that receiver " + receiver + " reaches its on-call. No action is needed."),
	}
	key := "{}/test:" + labels.String() + "@" + now.UTC().Format(time.RFC3339Nano)
	return &Notification{
		Receiver:          receiver,
		GroupKey:          key,
		DedupKey:          dedupKey(key),
		Status:            model.AlertFiring,
		GroupLabels:       model.LabelSet{model.AlertNameLabel: AlertTestPage},
		CommonLabels:      labels,
		CommonAnnotations: annotations,
		Alerts:            []*model.Alert{{Labels: labels, Annotations: annotations, StartsAt: now}},
		ExternalURL:       externalURL,
		Test:              true,
	}
}

// Result is what one integration did with a notification.
type Result struct {
	// Integration names it as in logs: "pagerduty[0]".
	Integration string
	Accepted    bool
	// Outcome is OutcomeAccepted, OutcomeRejected or OutcomeFailed.
	Outcome  string
	Attempts int
	Latency  time.Duration
	// Err says why it was not accepted, with the vendor's reason where the
	// vendor gave one (errors.As finds the *VendorError). Its text never
	// holds a secret.
	Err error
}

// SendToAll sends n through every integration of r at once, whatever the
// receiver's strategy, with the dispatcher's timeouts and retries, until
// each accepts, refuses, or ctx ends. It reports one Result per
// integration, in the receiver's order. `tocsin notify test` uses it.
func SendToAll(ctx context.Context, r *Receiver, n *Notification, opts Options) []Result {
	opts = opts.withDefaults()
	s := &sender{
		clock: opts.Clock, logger: opts.Logger, metrics: newMetrics(opts.Registerer),
		attemptTimeout: opts.AttemptTimeout, backoffMin: opts.BackoffMin, backoffMax: opts.BackoffMax, jitter: opts.Jitter,
		state: opts.State,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	// Retries stop at MaxDeliveryTime (one minute when unset) or at the
	// context's deadline, whichever comes first; the context's deadline is
	// on the wall clock and is carried over to opts.Clock.
	limit := opts.MaxDeliveryTime
	if limit <= 0 {
		limit = time.Minute
	}
	if d, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(d))
	}
	deadline := opts.Clock.Now().Add(limit)
	out := make([]Result, len(r.Integrations))
	var wg sync.WaitGroup
	for i := range r.Integrations {
		in := &r.Integrations[i]
		wg.Go(func() {
			res := s.send(ctx, deadline, r.Name, in, n, 1, nil)
			out[i] = Result{
				Integration: in.String(), Accepted: res.outcome == OutcomeAccepted, Outcome: res.outcome,
				Attempts: res.attempts, Latency: res.latency, Err: res.err,
			}
			s.metrics.total.WithLabelValues(r.Name, in.Name, res.outcome).Inc()
		})
	}
	wg.Wait()
	return out
}
