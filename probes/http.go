package probes

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// maxBody bounds how much of a response body a probe reads.
const maxBody = 1 << 20

// idleConnTimeout is how long an HTTP probe's connection is kept between
// runs; a probe that runs less often opens a new one each time.
const idleConnTimeout = 90 * time.Second

// sharedIdleConns is how many idle connections to one host the shared
// transport keeps. Runs in flight at once are bounded by the scheduler
// (DefaultMaxConcurrent), and a stall of a few tens of milliseconds lets
// that many pile up, each on a connection of its own; kept idle for
// idleConnTimeout, they would hold two goroutines and their buffers each
// long after the stall. A thousand probes of one host at 1s need a few
// connections at a time; beyond this many, one that comes back is closed.
const sharedIdleConns = 32

// connBufferSize is the read and the write buffer of an HTTP probe's
// connection; longer header lines and bodies still pass, in pieces.
const connBufferSize = 1 << 10

// HTTP checks an HTTP endpoint like blackbox_exporter's http prober: valid
// status codes, body regular expressions, TLS expectations and phases.
type HTTP struct {
	*base
	cfg       *configs.HTTPProbe
	client    *http.Client
	transport *http.Transport
	release   func() // gives a shared transport back; nil for a private one
	mustMatch []*regexp.Regexp
	mustNot   []*regexp.Regexp
}

func newHTTPProber(b *base, cfg *configs.HTTPProbe, pools *connPools) (*HTTP, error) {
	p := &HTTP{base: b, cfg: cfg}
	if cfg.TLS == nil && pools != nil {
		p.transport, p.release = pools.acquireHTTP()
	} else {
		tc, err := newTLSConfig(cfg.TLS, "")
		if err != nil {
			return nil, err
		}
		p.transport = newHTTPTransport(tc, 1) // one run at a time
	}
	p.client = &http.Client{Transport: p.transport}
	if cfg.NoFollowRedirects {
		p.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	for _, s := range cfg.FailIfBodyNotMatchesRegexp {
		re, err := regexp.Compile(s)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.mustMatch = append(p.mustMatch, re)
	}
	for _, s := range cfg.FailIfBodyMatchesRegexp {
		re, err := regexp.Compile(s)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.mustNot = append(p.mustNot, re)
	}
	return p, nil
}

// newHTTPTransport is an HTTP probe's transport, keeping up to maxIdle
// connections per host. Connections are kept between runs, as the
// target's own clients keep theirs: a new TCP connection (and TLS
// handshake) every run costs the prober more than the request itself. A
// run that finds no idle connection opens one, and its connect and tls
// phases are measured; one the target has closed meanwhile is dropped, not
// reused. The connections' buffers are smaller than net/http's 4 KiB: a
// probe sends one small request.
func newHTTPTransport(tc *tls.Config, maxIdle int) *http.Transport {
	return &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: maxIdle, IdleConnTimeout: idleConnTimeout,
		ReadBufferSize: connBufferSize, WriteBufferSize: connBufferSize}
}

// sharedHTTP is the transport the HTTP probes of one scheduler share.
type sharedHTTP struct {
	transport *http.Transport
	holders   int
}

// acquireHTTP returns the transport shared by the HTTP probes without a
// tls_config, and the function that gives it back. As a Prometheus scrape
// pool shares one client among its targets, probes of one host then share
// its connections: a thousand probes of one server keep about as many
// connections as run at once (at most sharedIdleConns idle), not a
// thousand (each with net/http's two goroutines and its buffers). Probes with a tls_config keep their own
// transport, so that a certificate file is read again whenever their
// config changes. The last holder to give it back closes its idle
// connections.
func (p *connPools) acquireHTTP() (*http.Transport, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.http == nil {
		// The default TLS settings cannot fail to build.
		tc, _ := newTLSConfig(nil, "")
		p.http = &sharedHTTP{transport: newHTTPTransport(tc, sharedIdleConns)}
	}
	s := p.http
	s.holders++
	var once sync.Once
	return s.transport, func() {
		once.Do(func() {
			p.mu.Lock()
			s.holders--
			last := s.holders == 0 && p.http == s
			if last {
				p.http = nil
			}
			p.mu.Unlock()
			if last {
				s.transport.CloseIdleConnections()
			}
		})
	}
}

// Probe runs one request.
func (p *HTTP) Probe(ctx context.Context) (r Result) {
	r, ctx, cancel := p.start(ctx)
	defer cancel()
	phases := &phaseTrace{now: p.now}
	defer func() { r.HTTPPhases = phases.result() }()
	ctx = httptrace.WithClientTrace(ctx, phases.trace())
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, p.cfg.URL, strings.NewReader(p.cfg.Body))
	if err != nil {
		fail(&r, ReasonConnect, "request: %v", cleanURLError(err))
		return p.finish(&r)
	}
	setHeaders(req, p.cfg.Headers, string(p.cfg.BearerToken))
	resp, err := p.client.Do(req)
	if err != nil {
		fail(&r, classifyNetErr(ctx, err), "%s %s: %v", p.cfg.Method, safeURL(p.cfg.URL), cleanURLError(err))
		return p.finish(&r)
	}
	defer resp.Body.Close()
	body, err := p.readBody(resp.Body)
	phases.done()
	r.HTTPStatusCode = resp.StatusCode
	r.CertExpiry = earliestExpiry(resp.TLS)
	switch {
	case err != nil:
		fail(&r, classifyNetErr(ctx, err), "read body: %v", err)
	case !validStatus(resp.StatusCode, p.cfg.ValidStatusCodes):
		fail(&r, ReasonHTTPStatus, "status %d is not valid", resp.StatusCode)
	case p.cfg.FailIfSSL && resp.TLS != nil:
		fail(&r, ReasonTLS, "answered over TLS, and fail_if_ssl is set")
	case p.cfg.FailIfNotSSL && resp.TLS == nil:
		fail(&r, ReasonTLS, "answered without TLS, and fail_if_not_ssl is set")
	default:
		p.checkBody(&r, body)
	}
	return p.finish(&r)
}

// readBody reads the response to its end (up to maxBody), so that the
// connection can serve the next run; it keeps the body only when a regular
// expression is to be matched against it.
func (p *HTTP) readBody(body io.Reader) ([]byte, error) {
	body = io.LimitReader(body, maxBody)
	if len(p.mustMatch) == 0 && len(p.mustNot) == 0 {
		_, err := io.Copy(io.Discard, body)
		return nil, err
	}
	return io.ReadAll(body)
}

func (p *HTTP) checkBody(r *Result, body []byte) {
	for _, re := range p.mustNot {
		if re.Match(body) {
			fail(r, ReasonBody, "body matches %q", re.String())
			return
		}
	}
	for _, re := range p.mustMatch {
		if !re.Match(body) {
			fail(r, ReasonBody, "body does not match %q", re.String())
			return
		}
	}
}

// Close drops idle connections, or gives a shared transport back.
func (p *HTTP) Close() {
	if p.release != nil {
		p.release()
		return
	}
	p.transport.CloseIdleConnections()
}

func validStatus(code int, valid []int) bool {
	if len(valid) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(valid, code)
}

func setHeaders(req *http.Request, headers map[string]string, bearer string) {
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
}

// phaseTrace measures blackbox_exporter's phases: resolve, connect, tls,
// processing (request written → first byte) and transfer (→ body read).
// Across redirects the phases add up. The transport may still be dialling
// for a request that has given up, so the callbacks lock, and the Result
// gets a copy.
type phaseTrace struct {
	now                                         func() time.Time
	mu                                          sync.Mutex
	p                                           HTTPPhases
	dnsStart, connStart, tlsStart, wrote, first time.Time
}

// locked runs f with the trace locked.
func (t *phaseTrace) locked(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f()
}

func (t *phaseTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { t.locked(func() { t.dnsStart = t.now() }) },
		DNSDone:           func(httptrace.DNSDoneInfo) { t.locked(func() { t.p.Resolve += t.now().Sub(t.dnsStart) }) },
		ConnectStart:      func(string, string) { t.locked(func() { t.connStart = t.now() }) },
		ConnectDone:       func(string, string, error) { t.locked(func() { t.p.Connect += t.now().Sub(t.connStart) }) },
		TLSHandshakeStart: func() { t.locked(func() { t.tlsStart = t.now() }) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { t.locked(func() { t.p.TLS += t.now().Sub(t.tlsStart) }) },
		WroteRequest:      func(httptrace.WroteRequestInfo) { t.locked(func() { t.wrote = t.now() }) },
		GotFirstResponseByte: func() {
			t.locked(func() {
				t.first = t.now()
				t.p.Processing += t.first.Sub(t.wrote)
			})
		},
	}
}

func (t *phaseTrace) done() {
	t.locked(func() {
		if !t.first.IsZero() {
			t.p.Transfer += t.now().Sub(t.first)
		}
	})
}

// result is a copy of the phases measured so far.
func (t *phaseTrace) result() *HTTPPhases {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.p
	return &p
}

// httpSender sends the nonce as an HTTP request; connections are reused
// between runs, and one the server closes tells the probe's drop signal.
type httpSender struct {
	cfg       *configs.HTTPSend
	client    *http.Client
	transport *http.Transport
}

func newHTTPSender(cfg *configs.HTTPSend, drops *signal) (*httpSender, error) {
	tc, err := newTLSConfig(cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2,
		DialContext: dialNotifyingDrops((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext, drops)}
	return &httpSender{cfg: cfg, transport: tr, client: &http.Client{Transport: tr}}, nil
}

func (s *httpSender) send(ctx context.Context, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, s.cfg.Method, s.cfg.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, withReason(ReasonPublish, cleanURLError(err))
	}
	if s.cfg.Body == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	setHeaders(req, s.cfg.Headers, string(s.cfg.BearerToken))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, withReason(classifyNetErr(ctx, err), fmt.Errorf("%s %s: %w", s.cfg.Method, safeURL(s.cfg.URL), cleanURLError(err)))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, withReason(ReasonHTTPStatus, fmt.Errorf("%s %s: status %d", s.cfg.Method, safeURL(s.cfg.URL), resp.StatusCode))
	}
	return resp.StatusCode, nil
}

func (s *httpSender) close() { s.transport.CloseIdleConnections() }
