package probes

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// A probe whose long-lived connection drops runs at once instead of at its
// next slot: a broker that died is then reported within milliseconds, and
// a run against a broker replaced by a hanging listener times out counted
// from the drop. The extra runs are bounded per probe (maxDropRuns per
// interval) and across the scheduler (a shared bucket), so that a thousand
// connections dropping together do not start a thousand runs at once.

// maxDropRuns is how many extra runs a probe may get for dropped
// connections within one interval.
const maxDropRuns = 2

// dropBurst is how many extra runs may start together across all probes;
// beyond it they are spread at maxDropRuns times the scheduler's regular
// rate of runs.
const dropBurst = 50

// dropper is a prober that signals when one of its connections drops.
type dropper interface{ dropped() *signal }

// dropLimits bound the extra runs of one scheduler.
type dropLimits struct {
	shared *rate.Limiter
}

func newDropLimits() *dropLimits {
	return &dropLimits{shared: rate.NewLimiter(0, dropBurst)}
}

// probeDropLimiter is one probe's own bound: maxDropRuns per interval.
func probeDropLimiter(interval time.Duration) *rate.Limiter {
	return rate.NewLimiter(rate.Every(interval/maxDropRuns), maxDropRuns)
}

// setRate spreads extra runs beyond the burst at maxDropRuns times the
// regular rate of the probes' runs.
func (l *dropLimits) setRate(now time.Time, intervals []time.Duration) {
	var perSecond float64
	for _, iv := range intervals {
		if iv > 0 {
			perSecond += float64(time.Second) / float64(iv)
		}
	}
	l.shared.SetLimitAt(now, rate.Limit(maxDropRuns*perSecond))
}

// admit decides whether a drop earns a probe an extra run, and how long it
// must wait for its turn in the shared bucket. It says no when the probe
// has had its extra runs for this interval, or when its turn would come no
// sooner than its next regular run.
func (l *dropLimits) admit(now time.Time, own *rate.Limiter, untilNext time.Duration) (wait time.Duration, ok bool) {
	if !own.AllowN(now, 1) {
		return 0, false
	}
	res := l.shared.ReserveN(now, 1)
	if !res.OK() {
		return 0, false
	}
	wait = res.DelayFrom(now)
	if wait >= untilNext {
		res.CancelAt(now)
		return 0, false
	}
	return wait, true
}

// dialNotifyingDrops wraps an HTTP transport's dial so that a kept-alive
// connection the peer closes tells d. The transport keeps reading from
// every idle connection, so the loss is seen the moment the peer goes
// away, not at the next request.
func dialNotifyingDrops(dial func(ctx context.Context, network, addr string) (net.Conn, error), d *signal) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &dropConn{Conn: c, d: d}, nil
	}
}

// dropConn is a connection that signals when the peer closed it or the
// network broke, unless this side closed it first. It signals when the
// transport closes it after the failed read, not at the read itself: by
// then the transport has marked the connection broken, so the run the
// signal starts dials afresh instead of picking the dead connection from
// the idle pool.
type dropConn struct {
	net.Conn
	d        *signal
	closed   atomic.Bool // this side closed it
	peerGone atomic.Bool // a read failed before this side closed it
	told     atomic.Bool
}

func (c *dropConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !c.closed.Load() && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.peerGone.Store(true)
	}
	return n, err
}

func (c *dropConn) Close() error {
	c.closed.Store(true)
	err := c.Conn.Close()
	if c.peerGone.Load() && c.told.CompareAndSwap(false, true) {
		c.d.notify()
	}
	return err
}
