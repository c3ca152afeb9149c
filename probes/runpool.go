package probes

import (
	"slices"
	"sync"
	"time"
)

// runWorkerIdle is how long a run's goroutine waits for the next run
// before it ends.
const runWorkerIdle = 5 * time.Second

// runPool keeps the goroutines that probe runs happen on. A run's calls go
// deep (an HTTP request, a TLS handshake, the TSDB's commit) and grow the
// stack they run on. On each probe's own long-lived goroutine, a thousand
// waiting probes would keep those stacks grown for nothing; on a fresh
// goroutine per run, the stack would be grown anew on every run. The pool
// keeps about as many goroutines as runs happen at once: the one idle the
// shortest takes the next run, and one idle for runWorkerIdle ends.
type runPool struct {
	mu      sync.Mutex
	idle    []*runWorker // the most recently idle last
	stopped bool
	wg      sync.WaitGroup
}

type runWorker struct{ work chan func() }

// do runs f on an idle goroutine of the pool, or on a new one.
func (p *runPool) do(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.work <- f // buffered: w takes it when it is ready
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go p.serve(&runWorker{work: make(chan func(), 1)}, f)
}

func (p *runPool) serve(w *runWorker, f func()) {
	defer p.wg.Done()
	idle := time.NewTimer(runWorkerIdle)
	defer idle.Stop()
	for ok := true; ok; {
		f()
		if !p.park(w) {
			return
		}
		idle.Reset(runWorkerIdle)
		select {
		case f, ok = <-w.work:
		case <-idle.C:
			if p.unpark(w) {
				return
			}
			f, ok = <-w.work // taken just now: its run is on the way
		}
	}
}

// park lists w as idle; false means the pool has stopped.
func (p *runPool) park(w *runWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// unpark takes w off the idle list; false means another run took it first.
func (p *runPool) unpark(w *runWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.idle, w)
	if i < 0 {
		return false
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	return true
}

// stop ends the idle goroutines and waits for the busy ones to finish
// their runs. Nothing may call do after it.
func (p *runPool) stop() {
	p.mu.Lock()
	p.stopped = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		close(w.work)
	}
	p.wg.Wait()
}
