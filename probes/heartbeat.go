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

// Probe evaluates the last beat; it never waits.
func (h *Heartbeat) Probe(context.Context) Result {
	r := Result{Probe: h.name, Kind: h.kind, Replica: h.replica, Labels: h.labels, Time: h.now()}
	h.state.mu.Lock()
	last := h.state.last
	h.state.mu.Unlock()
	r.LastHeartbeat = last
	since := last
	if since.IsZero() {
		since = h.state.created
	}
	if age := r.Time.Sub(since); age > h.grace {
		if last.IsZero() {
			fail(&r, ReasonHeartbeatMissing, "no heartbeat received in the %s since tocsin started (grace %s)", age.Round(time.Second), h.grace)
		} else {
			fail(&r, ReasonHeartbeatMissing, "last heartbeat %s ago (grace %s)", age.Round(time.Second), h.grace)
		}
	}
	return h.finish(&r)
}

// wake fires when a beat arrives, so a recovery is recorded at once.
func (h *Heartbeat) wake() <-chan struct{} { return h.state.wake }

// Close unregisters the endpoint unless a newer config of the probe took it over.
func (h *Heartbeat) Close() { h.ep.unregisterHeartbeat(h.name, h) }
