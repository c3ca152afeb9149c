package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
type connState struct {
	mu      sync.Mutex
	up      bool
	gen     uint64
	upCh    chan struct{} // closed while up
	lastErr error
}

func newConnState() *connState { return &connState{upCh: make(chan struct{})} }

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

func (c *connState) setDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		c.up = false
		c.upCh = make(chan struct{})
	}
	if err != nil {
		c.lastErr = err
	}
}

func (c *connState) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// await waits until the connection is up, returning its generation, or
// fails with the last connection error once ctx ends.
func (c *connState) await(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	if c.up {
		g := c.gen
		c.mu.Unlock()
		return g, nil
	}
	ch := c.upCh
	c.mu.Unlock()
	select {
	case <-ch:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.gen, nil
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.lastErr != nil {
			return 0, withReason(ReasonConnect, fmt.Errorf("not connected: %w", c.lastErr))
		}
		return 0, withReason(ReasonConnect, errors.New("not connected before the deadline (no answer to connect)"))
	}
}

// connPools shares long-lived broker connections and streams between the
// probers of one scheduler; a connection lives while a prober holds it.
type connPools struct {
	replica string
	logger  *slog.Logger

	mu   sync.Mutex
	mqtt map[mqttKey]*mqttConn
	nats map[natsKey]*natsConn
	sse  map[sseKey]*sseStream
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
	mqtt, nats, sse := p.mqtt, p.nats, p.sse
	p.mqtt, p.nats, p.sse = map[mqttKey]*mqttConn{}, map[natsKey]*natsConn{}, map[sseKey]*sseStream{}
	p.mu.Unlock()
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
