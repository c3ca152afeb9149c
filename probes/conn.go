package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"
)

// reasonError carries the failure reason a transport chose for an error.
type reasonError struct {
	reason Reason
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// withReason marks err with reason, keeping a reason set deeper down.
func withReason(reason Reason, err error) error {
	var re *reasonError
	if err == nil || errors.As(err, &re) {
		return err
	}
	return &reasonError{reason: reason, err: err}
}

// reasonOf is the reason err was marked with, or def.
func reasonOf(err error, def Reason) Reason {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	return def
}

// connState tracks whether a long-lived connection is up. Each time it
// comes up its generation grows, so that subscriptions made on an earlier
// session are known to need renewing.
//
// A run that finds the connection down must not wait for the client's
// reconnect schedule to learn that the broker is gone: it fails as soon as
// an attempt to connect fails or, when the state knows the broker's
// address, as soon as its own TCP dial is refused. Only a broker that still
// accepts connections is waited for until the run's deadline.
type connState struct {
	// dial, when set, checks that the broker accepts TCP connections.
	dial func(ctx context.Context) error

	mu       sync.Mutex
	up       bool
	gen      uint64
	upCh     chan struct{} // closed while up
	failCh   chan struct{} // closed and replaced when an attempt to connect fails
	lastErr  error
	watchers map[*watcher]struct{} // told when an up connection goes down
}

func newConnState() *connState {
	return &connState{upCh: make(chan struct{}), failCh: make(chan struct{})}
}

func (c *connState) setUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		c.up = true
		c.gen++
		c.lastErr = nil
		close(c.upCh)
	}
}

// setDown records that the connection is down. When it was up, the
// watchers are told, after the state says down, so that the run they start
// sees the loss.
func (c *connState) setDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.lastErr = err
	}
	if c.up {
		c.up = false
		c.upCh = make(chan struct{})
		for w := range c.watchers {
			w.d.notify()
		}
	}
}

// watcher is one registration of a drop signal; a prober whose send and
// expect sides share a connection registers twice.
type watcher struct{ d *signal }

// watch tells d each time the connection, once up, goes down; the returned
// function stops it. A nil d watches nothing.
func (c *connState) watch(d *signal) (unwatch func()) {
	if d == nil {
		return func() {}
	}
	w := &watcher{d: d}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watchers == nil {
		c.watchers = map[*watcher]struct{}{}
	}
	c.watchers[w] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.watchers, w)
	}
}

// setErr records a failed attempt to connect and wakes the runs waiting
// for the connection, so that they fail now rather than at their deadline.
func (c *connState) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	close(c.failCh)
	c.failCh = make(chan struct{})
}

// await returns the connection's generation once it is up. While it is
// down, await fails when an attempt to connect fails, when the broker
// refuses a TCP connection, or when ctx ends.
func (c *connState) await(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	if c.up {
		g := c.gen
		c.mu.Unlock()
		return g, nil
	}
	upCh, failCh := c.upCh, c.failCh
	c.mu.Unlock()
	var dialErr chan error // nil (never ready) without a dial check
	if c.dial != nil {
		dialErr = make(chan error, 1)
		go func() { dialErr <- c.dial(ctx) }()
	}
	for {
		select {
		case <-upCh:
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.gen, nil
		case err := <-dialErr:
			dialErr = nil
			if err == nil || ctx.Err() != nil {
				continue // the port accepts: wait for the client to connect
			}
			return 0, withReason(ReasonConnect, fmt.Errorf("not connected: %w", err))
		case <-failCh:
		case <-ctx.Done():
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.up && ctx.Err() == nil { // another attempt succeeded meanwhile
			return c.gen, nil
		}
		if c.lastErr != nil {
			reason := ReasonConnect
			if isTLSError(c.lastErr) { // a certificate problem, not a broker down
				reason = ReasonTLS
			}
			return 0, withReason(reason, fmt.Errorf("not connected: %w", c.lastErr))
		}
		return 0, withReason(ReasonConnect, errors.New("not connected before the deadline (no answer to connect)"))
	}
}

// tcpDial returns a check that address accepts TCP connections; the
// connection is closed at once.
func tcpDial(address string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// connPools shares long-lived broker connections and streams, and the HTTP
// probes' transport, between the probers of one scheduler; a connection
// lives while a prober holds it.
type connPools struct {
	replica string
	logger  *slog.Logger

	mu   sync.Mutex
	mqtt map[mqttKey]*mqttConn
	nats map[natsKey]*natsConn
	sse  map[sseKey]*sseStream
	http *sharedHTTP // nil until an HTTP probe asks
}

func newConnPools(replica string, logger *slog.Logger) *connPools {
	return &connPools{
		replica: replica, logger: logger,
		mqtt: map[mqttKey]*mqttConn{},
		nats: map[natsKey]*natsConn{},
		sse:  map[sseKey]*sseStream{},
	}
}

// stripUserinfo moves credentials out of a URL, so that libraries which
// print their URL in errors never print a password.
func stripUserinfo(raw string) (u *url.URL, user, pass string, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, "", "", err
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u, user, pass, nil
}

// closeTimeout bounds how long closing a connection may take.
const closeTimeout = 2 * time.Second

// reconnectDelay is how long a broken connection waits before trying again.
const reconnectDelay = time.Second

// close shuts whatever connections are still open; holders should have
// released them already.
func (p *connPools) close() {
	p.mu.Lock()
	mqtt, nats, sse, shared := p.mqtt, p.nats, p.sse, p.http
	p.mqtt, p.nats, p.sse, p.http = map[mqttKey]*mqttConn{}, map[natsKey]*natsConn{}, map[sseKey]*sseStream{}, nil
	p.mu.Unlock()
	if shared != nil {
		shared.transport.CloseIdleConnections()
	}
	for _, c := range mqtt {
		c.client.close()
	}
	for _, c := range nats {
		c.nc.Close()
	}
	for _, s := range sse {
		s.stop()
	}
}
