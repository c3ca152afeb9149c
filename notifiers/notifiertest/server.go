// Package notifiertest runs fake vendor APIs in-process, on 127.0.0.1, for
// tests and demos. Each fake checks the vendor's documented contract (auth
// header, content type, required fields, lengths), records what it
// accepted, and can be told to answer the way a failing vendor does: a 4xx
// with the vendor's own error body, a 429 with Retry-After, a 5xx, no
// answer at all, or a reset connection.
package notifiertest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
)

// Mode is how a fake vendor answers.
type Mode int

// Answers a fake vendor can give.
const (
	// Accept answers as the vendor does when it takes the notification.
	Accept Mode = iota
	// Reject answers 4xx with the vendor's own error body: a permanent error.
	Reject
	// RateLimit answers 429 with a Retry-After header.
	RateLimit
	// Fail answers 5xx.
	Fail
	// Hang never answers; the request ends when the client gives up or the
	// server closes.
	Hang
	// Reset closes the connection abruptly without answering.
	Reset
)

func (m Mode) String() string {
	switch m {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case RateLimit:
		return "rate-limit"
	case Fail:
		return "fail"
	case Hang:
		return "hang"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Page is an accepted notification in vendor-neutral form, for tests that
// look at several vendors at once and for the demo's display.
type Page struct {
	// Vendor is the fake's name: pagerduty, slack, opsgenie, webhook, email,
	// msteams, twilio, or for heartbeats opsgenie-heartbeat, ping, http-ping.
	Vendor string
	// Action is the vendor's verb: trigger/resolve (PagerDuty), create/close
	// (Opsgenie), post/update (Slack), firing/resolved (webhook), send,
	// ping (heartbeats).
	Action string
	// Key is the vendor's deduplication key where it has one: PagerDuty
	// dedup_key, Opsgenie alias, webhook groupKey, Slack message ts.
	Key string
	// Title is the short text a person sees first.
	Title string
	// Text is the rest of the message, flattened.
	Text string
	// Resolved tells whether the page reports a recovery.
	Resolved bool
}

// Request is one request a fake vendor accepted.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Page   Page
}

// Option configures a fake vendor.
type Option func(*settings)

type settings struct {
	mode          Mode
	retryAfter    string
	onPage        func(Page)
	authorization string
	smtpUser      string
	smtpPass      string
	smtpSecret    string
	startTLS      bool
	implicitTLS   bool
	anyJSON       bool
}

// WithMode sets how the fake answers from the start (Accept by default).
func WithMode(m Mode) Option { return func(s *settings) { s.mode = m } }

// WithRetryAfter sets the Retry-After value sent with 429 answers
// ("1" by default); seconds or an HTTP date.
func WithRetryAfter(v string) Option { return func(s *settings) { s.retryAfter = v } }

// OnPage calls f with every accepted page, after it is recorded. f runs on
// the server's goroutine and must not block for long.
func OnPage(f func(Page)) Option { return func(s *settings) { s.onPage = f } }

// WithAnyJSON makes the generic webhook fake take any JSON body, as a
// receiver of a webhook_configs payload does, rather than only
// Alertmanager's version-4 message.
func WithAnyJSON() Option { return func(s *settings) { s.anyJSON = true } }

// WithAuthorization makes the generic webhook and Teams fakes require this
// exact Authorization header (as set by http_config).
func WithAuthorization(v string) Option { return func(s *settings) { s.authorization = v } }

// maxBody bounds what a fake reads; a webhook with ten thousand alerts
// is a few megabytes.
const maxBody = 64 << 20

// answer is an HTTP response a fake gives.
type answer struct {
	status      int
	contentType string
	body        string
}

// vendor is what differs between the HTTP fakes.
type vendor struct {
	name string
	// check validates a request; a non-nil answer refuses it as the vendor
	// would, with the violated rule in the body.
	check func(r *http.Request, body []byte) (Page, *answer)
	// accepted is the vendor's success answer; it may keep state and fill
	// in what only the vendor knows (a Slack ts). It runs under the lock.
	accepted func(r *http.Request, body []byte, p *Page) answer
	reject   answer
	limit    answer
	fail     answer
}

// Server is one fake vendor API listening on 127.0.0.1.
type Server struct {
	vendor  vendor
	srv     *httptest.Server
	apiPath string

	mu         sync.Mutex
	settings   settings
	requests   []Request
	violations []string
	attempts   int

	closing   chan struct{}
	closeOnce sync.Once
}

func newServer(v vendor, apiPath string, opts []Option) *Server {
	s := &Server{vendor: v, apiPath: apiPath, closing: make(chan struct{})}
	s.settings.retryAfter = "1"
	for _, o := range opts {
		o(&s.settings)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("notifiertest: listen on 127.0.0.1: %v", err))
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the URL to put in the integration's config (url, api_url or
// webhook_url), including any secret path the vendor would put there.
func (s *Server) APIURL() string { return s.srv.URL + s.apiPath }

// Handler serves the fake's API without its listener, for tests whose
// HTTP client calls it in memory (inside a testing/synctest bubble, where
// network I/O would stop the fake clock).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// SetMode changes how the fake answers from the next request on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings.mode = m
}

// SetRetryAfter changes the Retry-After value of 429 answers.
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings.retryAfter = v
}

// Requests returns the requests accepted so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Pages returns the pages accepted so far.
func (s *Server) Pages() []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Page, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.Page
	}
	return out
}

// Violations returns every broken contract rule seen, one line each. A
// correct client leaves it empty.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Attempts counts every request received, answered or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Close stops the server, releasing hanging requests first.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.attempts++
	mode, retryAfter := s.settings.mode, s.settings.retryAfter
	s.mu.Unlock()

	switch mode {
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		// Drop the connection without an answer: returning normally would
		// send an empty 200, which a client would take as accepted.
		panic(http.ErrAbortHandler)
	case Reset:
		reset(w)
		return
	}

	body, err := readBody(r)
	if err != nil {
		return
	}
	page, refusal := s.vendor.check(r, body)
	if refusal != nil {
		s.mu.Lock()
		s.violations = append(s.violations, fmt.Sprintf("%s %s: %d %s", r.Method, r.URL.Path, refusal.status, refusal.body))
		s.mu.Unlock()
		write(w, *refusal)
		return
	}
	switch mode {
	case Reject:
		write(w, s.vendor.reject)
		return
	case RateLimit:
		w.Header().Set("Retry-After", retryAfter)
		write(w, s.vendor.limit)
		return
	case Fail:
		write(w, s.vendor.fail)
		return
	}
	page.Vendor = s.vendor.name
	s.mu.Lock()
	a := s.vendor.accepted(r, body, &page)
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, Page: page,
	})
	onPage := s.settings.onPage
	s.mu.Unlock()
	if onPage != nil {
		onPage(page)
	}
	write(w, a)
}

// readBody reads a request body in one allocation when its length is known.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > 0 && r.ContentLength <= maxBody {
		body := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, body)
		return body, err
	}
	return io.ReadAll(io.LimitReader(r.Body, maxBody))
}

func write(w http.ResponseWriter, a answer) {
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// reset drops the connection with a TCP RST, the way a crashed proxy does.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("notifiertest: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func jsonAnswer(status int, body string) answer {
	return answer{status: status, contentType: "application/json", body: body}
}

func textAnswer(status int, body string) answer {
	return answer{status: status, contentType: "text/plain; charset=utf-8", body: body}
}
