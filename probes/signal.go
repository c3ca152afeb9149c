package probes

import "sync/atomic"

// signal is a probe's request to run before its next slot: one of its
// long-lived connections dropped, or a heartbeat arrived. It holds one
// pending request at most, so requests that come together ask for one run.
// Besides, it rings the bell of the scheduler that watches it: one
// goroutine waits for every probe's signals on that one channel, and on a
// ring takes the requests that are pending, instead of selecting over a
// channel per probe, which costs as much as there are probes.
type signal struct {
	ch   chan struct{}
	bell atomic.Pointer[chan struct{}]
}

func newSignal() *signal { return &signal{ch: make(chan struct{}, 1)} }

// notify leaves a request and rings the bell, if a scheduler watches.
func (s *signal) notify() {
	notify(s.ch)
	if b := s.bell.Load(); b != nil {
		notify(*b)
	}
}

// take reports whether a request was pending, and clears it.
func (s *signal) take() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

// ringOn makes later requests ring bell. Requests left before it are
// pending: the watcher takes them after ringOn.
func (s *signal) ringOn(bell chan struct{}) { s.bell.Store(&bell) }
