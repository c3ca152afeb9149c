package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"text/template"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// sender is how a round trip's nonce leaves.
type sender interface {
	// send delivers payload; for HTTP it also returns the status code.
	send(ctx context.Context, payload []byte) (status int, err error)
	close()
}

// expecter is where a round trip's nonce comes back; what it receives goes
// to the probe's matcher.
type expecter interface {
	// ready returns once a message sent now would be seen.
	ready(ctx context.Context) error
	close()
}

// RoundTrip sends a fresh nonce through one transport and succeeds when it
// comes back through another within the timeout.
type RoundTrip struct {
	*base
	send   sender
	expect expecter
	m      *matcher
	drops  *signal            // a long-lived connection of send or expect dropped
	body   *template.Template // nil: the default JSON payload
	pools  *connPools
	owned  bool // pools are private to this prober
}

func newRoundTrip(b *base, cfg *configs.RoundTripProbe, opts Options) (_ *RoundTrip, err error) {
	p := &RoundTrip{base: b, pools: opts.conns, drops: newSignal()}
	if p.pools == nil {
		p.pools, p.owned = newConnPools(opts.Replica, b.logger), true
	}
	p.m = &matcher{now: b.now, onLate: func() { b.count(ReasonLate) }}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.expect, err = p.newExpecter(&cfg.Expect, opts.Endpoints); err != nil {
		return nil, fmt.Errorf("expect: %w", err)
	}
	if p.send, err = p.newSender(&cfg.Send); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	return p, nil
}

func (p *RoundTrip) newExpecter(e *configs.RoundTripExpect, ep *Endpoints) (expecter, error) {
	switch {
	case e.MQTT != nil:
		c, err := p.pools.acquireMQTT(e.MQTT)
		if err != nil {
			return nil, err
		}
		c.subscribe(p.m, e.MQTT.Topic, e.MQTT.QoS)
		return &mqttExpecter{conn: c, filter: e.MQTT.Topic, m: p.m, unwatch: c.state.watch(p.drops)}, nil
	case e.NATS != nil:
		return p.pools.natsExpecter(e.NATS, p.m, p.drops)
	case e.SSE != nil:
		return p.pools.sseExpecter(e.SSE, p.m)
	case e.Webhook != nil:
		return ep.registerWebhook(p.name, e.Webhook, p.m), nil
	}
	return nil, errors.New("no transport set")
}

func (p *RoundTrip) newSender(s *configs.RoundTripSend) (sender, error) {
	switch {
	case s.MQTT != nil:
		c, err := p.pools.acquireMQTT(s.MQTT)
		if err != nil {
			return nil, err
		}
		return &mqttSender{conn: c, topic: s.MQTT.Topic, qos: s.MQTT.QoS, unwatch: c.state.watch(p.drops)}, nil
	case s.NATS != nil:
		return p.pools.natsSender(s.NATS, p.drops)
	case s.HTTP != nil:
		if s.HTTP.Body != "" {
			t, err := template.New("body").Option("missingkey=error").Parse(s.HTTP.Body)
			if err != nil {
				return nil, err
			}
			p.body = t
		}
		return newHTTPSender(s.HTTP, p.drops)
	}
	return nil, errors.New("no transport set")
}

// Probe runs one round trip.
func (p *RoundTrip) Probe(ctx context.Context) Result {
	r, ctx, cancel := p.start(ctx)
	defer cancel()
	// Subscribe first, so that a fast answer is never missed.
	if err := p.expect.ready(ctx); err != nil {
		fail(&r, reasonOf(err, ReasonSubscribe), "%v", err)
		return p.finish(&r)
	}
	nonce := newNonce(p.replica)
	payload, err := p.payload(nonce, r.Time)
	if err != nil {
		fail(&r, ReasonPublish, "body template: %v", err)
		return p.finish(&r)
	}
	hit := p.m.arm(nonce)
	sent := p.now()
	status, err := p.send.send(ctx, payload)
	r.HTTPStatusCode = status
	if err != nil {
		p.m.disarm()
		fail(&r, reasonOf(err, ReasonPublish), "%v", err)
		return p.finish(&r)
	}
	select {
	case at := <-hit:
		r.RoundTrip = max(at.Sub(sent), time.Nanosecond)
	case <-ctx.Done():
		p.m.expire()
		fail(&r, ReasonLost, "sent, but the nonce did not come back within %s", p.timeout)
	}
	return p.finish(&r)
}

// dropped tells the scheduler when a connection of the probe drops.
func (p *RoundTrip) dropped() *signal { return p.drops }

// payload renders the message carrying nonce.
func (p *RoundTrip) payload(nonce string, at time.Time) ([]byte, error) {
	data := configs.ProbeTemplateData{Nonce: nonce, Probe: p.name, Replica: p.replica, SentAt: at.UTC().Format(time.RFC3339Nano)}
	if p.body != nil {
		var buf bytes.Buffer
		err := p.body.Execute(&buf, data)
		return buf.Bytes(), err
	}
	return json.Marshal(struct {
		Nonce   string `json:"tocsin_nonce"`
		Probe   string `json:"probe"`
		Replica string `json:"replica"`
		SentAt  string `json:"sent_at"`
	}{data.Nonce, data.Probe, data.Replica, data.SentAt})
}

// Close releases the transports.
func (p *RoundTrip) Close() {
	if p.expect != nil {
		p.expect.close()
	}
	if p.send != nil {
		p.send.close()
	}
	if p.owned {
		p.pools.close()
	}
}

// maxExpired bounds how many timed-out nonces are remembered to count
// their late arrival.
const maxExpired = 8

// matcher recognises the current run's nonce anywhere in what an expect
// transport receives. Anything else — retained or stale messages, a
// duplicate of a nonce already seen, another replica's nonce — is ignored,
// except a nonce whose run already failed as lost: that one counts as late.
type matcher struct {
	now    func() time.Time
	onLate func()

	mu      sync.Mutex
	nonce   []byte
	hit     chan time.Time
	expired [][]byte
}

// arm starts waiting for nonce; the channel gets the receipt time.
func (m *matcher) arm(nonce string) <-chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nonce = []byte(nonce)
	m.hit = make(chan time.Time, 1)
	return m.hit
}

// disarm forgets the current nonce (it was never sent).
func (m *matcher) disarm() {
	m.mu.Lock()
	m.nonce = nil
	m.mu.Unlock()
}

// expire moves the current nonce to those whose late arrival is counted.
func (m *matcher) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nonce == nil {
		// It arrived just as the deadline passed: late after all.
		if len(m.hit) > 0 {
			<-m.hit
			m.onLate()
		}
		return
	}
	if len(m.expired) == maxExpired {
		m.expired = slices.Delete(m.expired, 0, 1)
	}
	m.expired = append(m.expired, m.nonce)
	m.nonce = nil
}

// deliver looks for a nonce in a received message.
func (m *matcher) deliver(payload []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nonce != nil && bytes.Contains(payload, m.nonce) {
		m.hit <- m.now()
		m.nonce = nil
		return
	}
	for i, e := range m.expired {
		if bytes.Contains(payload, e) {
			m.expired = slices.Delete(m.expired, i, i+1)
			m.onLate()
			return
		}
	}
}
