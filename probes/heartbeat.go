package probes

import (
	"context"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Heartbeat succeeds while pushes to /api/v1/heartbeats/<probe> keep
// arriving within grace. Until the first beat, tocsin's own start counts as
// one, so that a restart does not page before the sender had a chance.
type Heartbeat struct {
	*base
	grace time.Duration
	ep    *Endpoints
	state *heartbeatState
}

func newHeartbeat(b *base, cfg *configs.HeartbeatProbe, ep *Endpoints) (*Heartbeat, error) {
	h := &Heartbeat{base: b, grace: time.Duration(cfg.Grace), ep: ep}
	h.state = ep.registerHeartbeat(b.name, string(cfg.Token), h)
	return h, nil
}

// Probe evaluates the last beat; it never waits. The beat is missing from
// the moment its grace has passed, and the scheduler runs the probe at that
// moment (decideAt).
func (h *Heartbeat) Probe(context.Context) Result {
	r := Result{Probe: h.name, Kind: h.kind, Replica: h.replica, Labels: h.labels, Time: h.now()}
	last, since := h.lastBeat()
	r.LastHeartbeat = last
	if age := r.Time.Sub(since); age >= h.grace {
		if last.IsZero() {
			fail(&r, ReasonHeartbeatMissing, "no heartbeat received in the %s since tocsin started (grace %s)", age.Round(time.Second), h.grace)
		} else {
			fail(&r, ReasonHeartbeatMissing, "last heartbeat %s ago (grace %s)", age.Round(time.Second), h.grace)
		}
	}
	return h.finish(&r)
}

// lastBeat returns the last beat (zero when none yet) and the time the
// grace counts from: the last beat, or tocsin's start before the first.
func (h *Heartbeat) lastBeat() (last, since time.Time) {
	h.state.mu.Lock()
	last = h.state.last
	h.state.mu.Unlock()
	if last.IsZero() {
		return last, h.state.created
	}
	return last, last
}

// decideAt is when the grace of the last beat runs out: the probe fails
// then, not at its next interval.
func (h *Heartbeat) decideAt() time.Time {
	_, since := h.lastBeat()
	return since.Add(h.grace)
}

// wake fires when a beat arrives, so a recovery is recorded at once.
func (h *Heartbeat) wake() *signal { return h.state.wake }

// Close unregisters the endpoint unless a newer config of the probe took it over.
func (h *Heartbeat) Close() { h.ep.unregisterHeartbeat(h.name, h) }
