package probes

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-alerting/tocsin/configs"
)

type natsKey struct {
	url, username, password string
	tls                     configs.ProbeTLSConfig
	hasTLS                  bool
}

// natsConn is one NATS connection shared by probes with the same natsKey.
type natsConn struct {
	pools *connPools
	key   natsKey
	refs  int // guarded by pools.mu
	state *connState
	nc    *nats.Conn

	mu   sync.Mutex
	subs map[string]*natsSub
}

type natsSub struct {
	sub      *nats.Subscription
	gen      uint64 // connection generation whose server saw the subscription
	matchers map[*matcher]struct{}
}

func (p *connPools) acquireNATS(t *configs.NATSTransport) (*natsConn, error) {
	u, user, pass, err := stripUserinfo(t.URL)
	if err != nil {
		return nil, err
	}
	if t.Username != "" {
		user, pass = t.Username, string(t.Password)
	}
	key := natsKey{url: u.String(), username: user, password: pass}
	if t.TLS != nil {
		key.tls, key.hasTLS = *t.TLS, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.nats[key]; ok {
		c.refs++
		return c, nil
	}
	c := &natsConn{pools: p, key: key, refs: 1, state: newConnState(), subs: map[string]*natsSub{}}
	// As for MQTT, a run that finds the connection down fails at once when
	// the server refuses; with a list of servers, it waits for a reconnect.
	if addr := natsAddress(u, t.URL); addr != "" {
		c.state.dial = tcpDial(addr)
	}
	opts := []nats.Option{
		nats.Name("tocsin " + p.replica),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectDelay),
		nats.RetryOnFailedConnect(true),
		nats.Timeout(mqttConnectTimeout),
		nats.NoCallbacksAfterClientClose(),
		nats.ConnectHandler(func(*nats.Conn) { c.state.setUp() }),
		nats.ReconnectHandler(func(*nats.Conn) { c.state.setUp() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { c.state.setDown(err) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { c.state.setErr(err) }),
	}
	if user != "" {
		opts = append(opts, nats.UserInfo(user, pass))
	}
	if t.TLS != nil || u.Scheme == "tls" {
		var tc *tls.Config
		if tc, err = newTLSConfig(t.TLS, u.Hostname()); err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	c.nc, err = nats.Connect(u.String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", u.Redacted(), err)
	}
	if c.nc.IsConnected() {
		c.state.setUp()
	}
	p.nats[key] = c
	return c, nil
}

// natsAddress is the host:port of a single-server NATS URL, or "" for a
// list of servers or a scheme whose default port is unknown.
func natsAddress(u *url.URL, raw string) string {
	if u.Hostname() == "" || strings.Contains(raw, ",") {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	switch strings.ToLower(u.Scheme) {
	case "nats", "tls":
		return net.JoinHostPort(u.Hostname(), "4222")
	}
	return ""
}

func (c *natsConn) release() {
	p := c.pools
	p.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last {
		delete(p.nats, c.key)
	}
	p.mu.Unlock()
	if last {
		c.nc.Close()
	}
}

func (p *connPools) natsSender(t *configs.NATSTransport, d *signal) (sender, error) {
	c, err := p.acquireNATS(t)
	if err != nil {
		return nil, err
	}
	return &natsSender{conn: c, subject: t.Subject, unwatch: c.state.watch(d)}, nil
}

type natsSender struct {
	conn    *natsConn
	subject string
	unwatch func()
}

// send publishes and flushes, so that the server has the message when it returns.
func (s *natsSender) send(ctx context.Context, payload []byte) (int, error) {
	if _, err := s.conn.state.await(ctx); err != nil {
		return 0, err
	}
	if err := s.conn.nc.Publish(s.subject, payload); err != nil {
		return 0, withReason(ReasonPublish, fmt.Errorf("publish %s: %w", s.subject, err))
	}
	if err := s.conn.nc.FlushWithContext(ctx); err != nil {
		return 0, withReason(ReasonPublish, fmt.Errorf("publish %s: flush: %w", s.subject, err))
	}
	return 0, nil
}

func (s *natsSender) close() {
	s.unwatch()
	s.conn.release()
}

func (p *connPools) natsExpecter(t *configs.NATSTransport, m *matcher, d *signal) (expecter, error) {
	c, err := p.acquireNATS(t)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	s, ok := c.subs[t.Subject]
	if !ok {
		s = &natsSub{matchers: map[*matcher]struct{}{}}
		sub, err := c.nc.Subscribe(t.Subject, func(msg *nats.Msg) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for m := range s.matchers {
				m.deliver(msg.Data)
			}
		})
		if err != nil {
			c.mu.Unlock()
			c.release()
			return nil, fmt.Errorf("subscribe %s: %w", t.Subject, err)
		}
		s.sub = sub
		c.subs[t.Subject] = s
	}
	s.matchers[m] = struct{}{}
	c.mu.Unlock()
	return &natsExpecter{conn: c, subject: t.Subject, m: m, unwatch: c.state.watch(d)}, nil
}

type natsExpecter struct {
	conn    *natsConn
	subject string
	m       *matcher
	unwatch func()
}

// ready waits for the connection and, once per connection, for the server
// to have seen the subscription (a flush is a round trip).
func (e *natsExpecter) ready(ctx context.Context) error {
	gen, err := e.conn.state.await(ctx)
	if err != nil {
		return err
	}
	e.conn.mu.Lock()
	s := e.conn.subs[e.subject]
	done := s != nil && s.gen == gen
	e.conn.mu.Unlock()
	if done {
		return nil
	}
	if err := e.conn.nc.FlushWithContext(ctx); err != nil {
		return withReason(ReasonSubscribe, fmt.Errorf("subscribe %s: %w", e.subject, err))
	}
	e.conn.mu.Lock()
	if s != nil {
		s.gen = gen
	}
	e.conn.mu.Unlock()
	return nil
}

func (e *natsExpecter) close() {
	e.unwatch()
	c := e.conn
	c.mu.Lock()
	if s, ok := c.subs[e.subject]; ok {
		delete(s.matchers, e.m)
		if len(s.matchers) == 0 {
			_ = s.sub.Unsubscribe()
			delete(c.subs, e.subject)
		}
	}
	c.mu.Unlock()
	c.release()
}
