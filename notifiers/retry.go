package notifiers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// sender delivers one notification to one integration: each attempt has its
// own timeout; a vendor's Retry-After is waited for; 5xx answers, network
// errors and timeouts are retried with jittered exponential backoff until
// the delivery deadline; anything the notifier calls permanent ends it.
type sender struct {
	clock          Clock
	logger         *slog.Logger
	metrics        *metrics
	attemptTimeout time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	jitter         func() float64
}

// result is what one integration did with one notification.
type result struct {
	outcome  string // an Outcome* constant
	attempts int
	latency  time.Duration
	err      error // redacted; nil when accepted
}

// send tries until the integration accepts, refuses permanently, deadline
// (on the sender's clock; zero means none) would pass, or ctx ends.
func (s *sender) send(ctx context.Context, deadline time.Time, receiver string, in *Integration, n *Notification) result {
	start := s.clock.Now()
	log := s.logger.With("receiver", receiver, "integration", in.String(), "group", n.DedupKey)
	for attempt := 1; ; attempt++ {
		actx, cancel := withTimeout(ctx, s.clock, s.attemptTimeout)
		retry, err := in.Notifier.Notify(actx, n)
		attemptTimedOut := err != nil && timedOut(actx)
		cancel()
		if err == nil {
			latency := s.clock.Now().Sub(start)
			s.metrics.latency.WithLabelValues(receiver, in.Name).Observe(latency.Seconds())
			log.Debug("notification accepted", "attempts", attempt, "latency", latency)
			return result{outcome: OutcomeAccepted, attempts: attempt, latency: latency}
		}
		if attemptTimedOut {
			err = fmt.Errorf("no answer within %s: %w", s.attemptTimeout, err)
			retry = true
		}
		reason := failureReason(err, attemptTimedOut)
		s.metrics.failures.WithLabelValues(receiver, in.Name, reason).Inc()
		derr := &deliveryError{msg: safeError(err), err: err}
		if !retry {
			log.Warn("notification refused; not retrying", "attempts", attempt, "reason", reason, "err", derr.msg)
			return result{outcome: OutcomeRejected, attempts: attempt, err: derr}
		}
		wait := s.backoff(attempt)
		var ve *VendorError
		if errors.As(err, &ve) && ve.RetryAfter > 0 {
			wait = ve.RetryAfter
		}
		if ctx.Err() != nil || (!deadline.IsZero() && s.clock.Now().Add(wait).After(deadline)) {
			log.Warn("notification not accepted before the delivery deadline; giving up", "attempts", attempt, "reason", reason, "err", derr.msg)
			return result{outcome: OutcomeFailed, attempts: attempt, err: derr}
		}
		log.Debug("notification failed; retrying", "attempt", attempt, "reason", reason, "wait", wait, "err", derr.msg)
		if sleep(ctx, s.clock, wait) != nil {
			return result{outcome: OutcomeFailed, attempts: attempt, err: derr}
		}
	}
}

// backoff is the wait before attempt+1: exponential from backoffMin up to
// backoffMax, with the upper half jittered so that replicas and groups
// spread their retries.
func (s *sender) backoff(attempt int) time.Duration {
	d := s.backoffMin
	for i := 1; i < attempt && d < s.backoffMax; i++ {
		d *= 2
	}
	d = min(d, s.backoffMax)
	j := s.jitter
	if j == nil {
		j = rand.Float64
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

// failureReason sorts an attempt's failure into the small fixed reason set.
func failureReason(err error, attemptTimedOut bool) string {
	var ve *VendorError
	switch {
	case attemptTimedOut:
		return ReasonTimeout
	case errors.As(err, &ve) && ve.StatusCode == 429:
		return ReasonRateLimited
	case errors.As(err, &ve) && ve.StatusCode >= 500:
		return ReasonServerError
	case errors.As(err, &ve) && ve.StatusCode >= 400:
		return ReasonClientError
	case errors.As(err, &ve):
		return ReasonOther
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonNetwork
}
