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
	// state keeps, per receiver and integration, when the vendor's last
	// Retry-After ends, so that the next flush, other groups and a
	// restarted tocsin wait for it too instead of asking the vendor early.
	state *State
}

// result is what one integration did with one notification.
type result struct {
	outcome  string // an Outcome* constant
	attempts int
	latency  time.Duration
	err      error // redacted; nil when accepted
}

// send tries until the integration accepts, refuses permanently, deadline
// (on the sender's clock; zero means none) would pass, or ctx ends. first
// numbers the first attempt (a delivery resumed after a restart goes on
// counting); onAttempt, when set, hears of every failed attempt that will
// be retried.
func (s *sender) send(ctx context.Context, deadline time.Time, receiver string, in *Integration, n *Notification, first int, onAttempt func()) result {
	start := s.clock.Now()
	log := s.logger.With("receiver", receiver, "integration", in.String(), "group", n.DedupKey)
	key := healthKey{receiver, integrationKey{in.Name, in.Index}}
	for attempt := max(first, 1); ; attempt++ {
		if err := s.awaitRetryAfter(ctx, key, deadline); err != nil {
			log.Warn("notification not sent: the vendor's Retry-After lasts past the delivery deadline", "attempts", attempt-1, "err", err)
			return result{outcome: OutcomeFailed, attempts: attempt - 1, err: err}
		}
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
			s.setRetryAfter(key, s.clock.Now().Add(wait))
		}
		if ctx.Err() != nil || (!deadline.IsZero() && s.clock.Now().Add(wait).After(deadline)) {
			log.Warn("notification not accepted before the delivery deadline; giving up", "attempts", attempt, "reason", reason, "err", derr.msg)
			return result{outcome: OutcomeFailed, attempts: attempt, err: derr}
		}
		log.Debug("notification failed; retrying", "attempt", attempt, "reason", reason, "wait", wait, "err", derr.msg)
		if onAttempt != nil {
			onAttempt()
		}
		if sleep(ctx, s.clock, wait) != nil {
			return result{outcome: OutcomeFailed, attempts: attempt, err: derr}
		}
	}
}

// setRetryAfter records until when the vendor asked not to be called.
func (s *sender) setRetryAfter(k healthKey, until time.Time) {
	if err := s.state.setRetryAfter(k, until); err != nil {
		s.logger.Error("writing the vendor's Retry-After to the notification state failed", "err", err)
	}
}

// awaitRetryAfter waits until the integration's last Retry-After has
// passed. It fails without waiting when that is after deadline.
func (s *sender) awaitRetryAfter(ctx context.Context, k healthKey, deadline time.Time) error {
	until, ok := s.state.retryAfterOf(k, s.clock.Now())
	if !ok {
		return nil
	}
	if !deadline.IsZero() && until.After(deadline) {
		return &deliveryError{msg: "rate limited: the vendor asked not to be called until " + until.UTC().Format(time.RFC3339)}
	}
	return sleep(ctx, s.clock, until.Sub(s.clock.Now()))
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
