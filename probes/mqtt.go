package probes

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/tocsin-alerting/tocsin/configs"
)

// mqttKey identifies a shareable broker connection: everything the broker
// sees at CONNECT.
type mqttKey struct {
	url, version, clientID, username, password string
	tls                                        configs.ProbeTLSConfig
	hasTLS                                     bool
}

// mqttClient hides the difference between MQTT 3.1.1 and 5 clients.
type mqttClient interface {
	publish(ctx context.Context, topic string, qos byte, payload []byte) error
	subscribe(ctx context.Context, filter string, qos byte) error
	unsubscribe(ctx context.Context, filter string) error
	close()
}

// mqttConn is one broker connection shared by every probe with the same
// mqttKey. Incoming messages are routed to the matchers subscribed to a
// filter that matches their topic.
type mqttConn struct {
	pools  *connPools
	key    mqttKey
	refs   int // guarded by pools.mu
	state  *connState
	client mqttClient

	mu    sync.Mutex
	exact map[string]*mqttSub // filters without wildcards
	wild  map[string]*mqttSub
}

type mqttSub struct {
	filter   string
	qos      byte
	gen      uint64 // session generation it was subscribed in; 0: not yet
	inflight chan struct{}
	matchers map[*matcher]struct{}
}

// acquireMQTT returns the shared connection for t, creating it (and
// starting to connect in the background) when it is the first.
func (p *connPools) acquireMQTT(t *configs.MQTTTransport) (*mqttConn, error) {
	u, user, pass, err := stripUserinfo(t.URL)
	if err != nil {
		return nil, err
	}
	if t.Username != "" {
		user, pass = t.Username, string(t.Password)
	}
	key := mqttKey{url: u.String(), version: t.ProtocolVersion, clientID: t.ClientID, username: user, password: pass}
	if t.TLS != nil {
		key.tls, key.hasTLS = *t.TLS, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.mqtt[key]; ok {
		c.refs++
		return c, nil
	}
	var tlsCfg *tls.Config
	if t.TLS != nil || isTLSScheme(u.Scheme) {
		if tlsCfg, err = newTLSConfig(t.TLS, u.Hostname()); err != nil {
			return nil, err
		}
	}
	clientID := t.ClientID
	if clientID == "" {
		clientID = mqttClientID(p.replica)
	}
	c := &mqttConn{pools: p, key: key, refs: 1, state: newConnState(),
		exact: map[string]*mqttSub{}, wild: map[string]*mqttSub{}}
	if addr := mqttAddress(u); addr != "" {
		c.state.dial = tcpDial(addr)
	}
	dial := dialMQTT311
	if t.ProtocolVersion == configs.MQTTv5 {
		dial = dialMQTT5
	}
	c.client, err = dial(mqttDial{url: u, clientID: clientID, username: user, password: pass, tls: tlsCfg, state: c.state, deliver: c.deliver})
	if err != nil {
		return nil, fmt.Errorf("mqtt %s: %w", u.Redacted(), err)
	}
	p.mqtt[key] = c
	return c, nil
}

// mqttDial is what both protocol versions need to connect.
type mqttDial struct {
	url                          interface{ String() string }
	clientID, username, password string
	tls                          *tls.Config
	state                        *connState
	deliver                      func(topic string, payload []byte, retained bool)
}

// mqttClientID is unique per connection and names the replica, so that a
// broker's client list shows who is probing.
func mqttClientID(replica string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := sanitize(replica)
	if len(r) > 10 {
		r = r[:10]
	}
	return "tocsin-" + r + "-" + hex.EncodeToString(b[:])
}

// mqttAddress is the host:port a broker URL connects to, or "" for a
// scheme whose default port is unknown.
func mqttAddress(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := map[string]string{"tcp": "1883", "mqtt": "1883", "ssl": "8883", "tls": "8883", "mqtts": "8883", "ws": "80", "wss": "443"}[strings.ToLower(u.Scheme)]
	if port == "" || u.Hostname() == "" {
		return ""
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func isTLSScheme(s string) bool {
	switch strings.ToLower(s) {
	case "ssl", "tls", "mqtts", "wss", "https":
		return true
	}
	return false
}

// release drops one holder; the last one closes the connection.
func (c *mqttConn) release() {
	p := c.pools
	p.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last {
		delete(p.mqtt, c.key)
	}
	p.mu.Unlock()
	if last {
		c.client.close()
	}
}

// deliver routes an incoming message. Retained messages are old by
// definition and never count.
func (c *mqttConn) deliver(topic string, payload []byte, retained bool) {
	if retained {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.exact[topic]; ok {
		for m := range s.matchers {
			m.deliver(payload)
		}
	}
	for _, s := range c.wild {
		if topicMatches(s.filter, topic) {
			for m := range s.matchers {
				m.deliver(payload)
			}
		}
	}
}

// subscribe routes messages on filter to m. The broker subscription is
// made (and renewed after reconnects) by ensure, within a run's deadline.
func (c *mqttConn) subscribe(m *matcher, filter string, qos byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	subs := c.exact
	if strings.ContainsAny(filter, "+#") {
		subs = c.wild
	}
	s, ok := subs[filter]
	if !ok {
		s = &mqttSub{filter: filter, qos: qos, matchers: map[*matcher]struct{}{}}
		subs[filter] = s
	}
	s.qos = max(s.qos, qos)
	s.matchers[m] = struct{}{}
}

// unsubscribe stops routing filter to m and, when m was the last, tells the broker.
func (c *mqttConn) unsubscribe(ctx context.Context, m *matcher, filter string) {
	c.mu.Lock()
	subs := c.exact
	if strings.ContainsAny(filter, "+#") {
		subs = c.wild
	}
	s, ok := subs[filter]
	if !ok {
		c.mu.Unlock()
		return
	}
	delete(s.matchers, m)
	last := len(s.matchers) == 0
	if last {
		delete(subs, filter)
	}
	c.mu.Unlock()
	// Only worth telling the broker when the connection stays open for others.
	if last && c.refsLeft() > 1 {
		_ = c.client.unsubscribe(ctx, filter)
	}
}

func (c *mqttConn) refsLeft() int {
	c.pools.mu.Lock()
	defer c.pools.mu.Unlock()
	return c.refs
}

// ensure waits for the connection and makes sure filter is subscribed in
// the current session. Concurrent callers share one SUBSCRIBE.
func (c *mqttConn) ensure(ctx context.Context, filter string) error {
	gen, err := c.state.await(ctx)
	if err != nil {
		return err
	}
	for {
		c.mu.Lock()
		s := c.exact[filter]
		if s == nil {
			s = c.wild[filter]
		}
		if s == nil {
			c.mu.Unlock()
			return withReason(ReasonSubscribe, fmt.Errorf("subscribe %s: not registered", filter))
		}
		if s.gen == gen {
			c.mu.Unlock()
			return nil
		}
		if ch := s.inflight; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return withReason(ReasonSubscribe, fmt.Errorf("subscribe %s: %w", filter, ctx.Err()))
			}
		}
		ch := make(chan struct{})
		s.inflight = ch
		qos := s.qos
		c.mu.Unlock()

		err := c.client.subscribe(ctx, filter, qos)
		c.mu.Lock()
		s.inflight = nil
		if err == nil {
			s.gen = gen
		}
		c.mu.Unlock()
		close(ch)
		if err != nil {
			return withReason(ReasonSubscribe, fmt.Errorf("subscribe %s: %w", filter, err))
		}
		return nil
	}
}

// publish sends payload once connected.
func (c *mqttConn) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	if _, err := c.state.await(ctx); err != nil {
		return err
	}
	if err := c.client.publish(ctx, topic, qos, payload); err != nil {
		return withReason(ReasonPublish, fmt.Errorf("publish %s: %w", topic, err))
	}
	return nil
}

// topicMatches applies MQTT's filter rules (+ one level, # the rest).
func topicMatches(filter, topic string) bool {
	for {
		f, fRest, fMore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, tRest, tMore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fMore || !tMore {
			// "a/#" also matches "a".
			return fMore == tMore || (fMore && fRest == "#")
		}
		filter, topic = fRest, tRest
	}
}

// mqttSender publishes the nonce.
type mqttSender struct {
	conn    *mqttConn
	topic   string
	qos     byte
	unwatch func()
}

func (s *mqttSender) send(ctx context.Context, payload []byte) (int, error) {
	return 0, s.conn.publish(ctx, s.topic, s.qos, payload)
}

func (s *mqttSender) close() {
	s.unwatch()
	s.conn.release()
}

// mqttExpecter subscribes for the nonce.
type mqttExpecter struct {
	conn    *mqttConn
	filter  string
	m       *matcher
	unwatch func()
}

func (e *mqttExpecter) ready(ctx context.Context) error { return e.conn.ensure(ctx, e.filter) }

func (e *mqttExpecter) close() {
	e.unwatch()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	e.conn.unsubscribe(ctx, e.m, e.filter)
	e.conn.release()
}
