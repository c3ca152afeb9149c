package probes

import "time"

// Heartbeats that reach one tocsin replica count on every replica: behind
// a load balancer only one of them receives each push. The pipeline tells
// the other replicas of every beat (OnHeartbeat) and hands their beats in
// (Beat).

// OnHeartbeat sets the function told of every beat pushed to this replica.
func (s *Scheduler) OnHeartbeat(f func(probe string, at time.Time)) {
	s.endpoints.mu.Lock()
	defer s.endpoints.mu.Unlock()
	s.endpoints.onBeat = f
}

// Beat records a beat of probe that another replica received at at. An
// older beat than the one this replica has changes nothing. It reports
// whether probe is a heartbeat probe here.
func (s *Scheduler) Beat(probe string, at time.Time) bool {
	e := s.endpoints
	e.mu.RLock()
	st := e.heartbeats[probe]
	e.mu.RUnlock()
	if st == nil {
		return false
	}
	st.beat(at)
	return true
}

// LastBeats returns the last beat of every heartbeat probe that has had one.
func (s *Scheduler) LastBeats() map[string]time.Time {
	e := s.endpoints
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := map[string]time.Time{}
	for name, st := range e.heartbeats {
		st.mu.Lock()
		if !st.last.IsZero() {
			out[name] = st.last
		}
		st.mu.Unlock()
	}
	return out
}

// beat records a beat at at, unless a later one is known, and wakes the
// probe so a recovery is recorded at once.
func (s *heartbeatState) beat(at time.Time) {
	s.mu.Lock()
	newer := at.After(s.last)
	if newer {
		s.last = at
	}
	s.mu.Unlock()
	if !newer {
		return
	}
	s.wake.notify()
}
