package probes

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Mount paths of the push endpoints. Mount Endpoints.Handler (or
// Scheduler.Handler) on both prefixes without stripping them:
//
//	mux.Handle(probes.WebhookPath, h)   // any method is routed; POST is served
//	mux.Handle(probes.HeartbeatPath, h)
//
// The probe name is the rest of the path, e.g. /probe/webhook/broker-to-webhook.
const (
	WebhookPath   = "/probe/webhook/"
	HeartbeatPath = "/api/v1/heartbeats/"
)

// Endpoints receives what other systems push to tocsin: webhook calls that
// carry a round trip's nonce, and heartbeats. Probes register and
// unregister themselves; state is kept per probe name, so a heartbeat probe
// whose config changes keeps its last beat.
type Endpoints struct {
	now func() time.Time

	mu         sync.RWMutex
	webhooks   map[string]*webhookTarget
	heartbeats map[string]*heartbeatState
	onBeat     func(probe string, at time.Time)
}

// NewEndpoints returns empty Endpoints; now is the clock (nil: time.Now).
func NewEndpoints(now func() time.Time) *Endpoints {
	if now == nil {
		now = time.Now
	}
	return &Endpoints{now: now, webhooks: map[string]*webhookTarget{}, heartbeats: map[string]*heartbeatState{}}
}

// Handler serves both push endpoints: POST /probe/webhook/<probe> and
// POST /api/v1/heartbeats/<probe>.
func (e *Endpoints) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, WebhookPath):
			e.serveWebhook(w, r, strings.TrimPrefix(r.URL.Path, WebhookPath))
		case strings.HasPrefix(r.URL.Path, HeartbeatPath):
			e.serveHeartbeat(w, r, strings.TrimPrefix(r.URL.Path, HeartbeatPath))
		default:
			http.NotFound(w, r)
		}
	})
}

type webhookTarget struct {
	secret []byte
	header string
	m      *matcher
}

func (e *Endpoints) registerWebhook(probe string, cfg *configs.WebhookExpect, m *matcher) *webhookExpecter {
	t := &webhookTarget{secret: []byte(cfg.Secret), header: cfg.SignatureHeader, m: m}
	if t.header == "" {
		t.header = configs.DefaultWebhookSignatureHeader
	}
	e.mu.Lock()
	e.webhooks[probe] = t
	e.mu.Unlock()
	return &webhookExpecter{e: e, probe: probe, t: t}
}

// webhookExpecter is a round trip's expect side when the nonce comes back
// as a call to tocsin's own webhook endpoint.
type webhookExpecter struct {
	e     *Endpoints
	probe string
	t     *webhookTarget
}

// ready: the endpoint is always listening (while the server is).
func (w *webhookExpecter) ready(context.Context) error { return nil }

func (w *webhookExpecter) close() {
	w.e.mu.Lock()
	if w.e.webhooks[w.probe] == w.t { // a newer config of the same probe may own it now
		delete(w.e.webhooks, w.probe)
	}
	w.e.mu.Unlock()
}

func (e *Endpoints) serveWebhook(w http.ResponseWriter, r *http.Request, probe string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	e.mu.RLock()
	t := e.webhooks[probe]
	e.mu.RUnlock()
	if t == nil {
		http.Error(w, "no webhook probe of that name", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusRequestEntityTooLarge)
		return
	}
	if len(t.secret) > 0 && !validSignature(t.secret, body, r.Header.Get(t.header)) {
		http.Error(w, "missing or bad signature", http.StatusUnauthorized)
		return
	}
	t.m.deliver(body)
	w.WriteHeader(http.StatusNoContent)
}

// validSignature checks an HMAC-SHA256 of body, given as hex with or
// without a "sha256=" prefix.
func validSignature(secret, body []byte, header string) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(header), "sha256="))
	if err != nil || len(got) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// HeartbeatTokenHeader carries a heartbeat's token when the Authorization
// header is taken by the web config's basic auth.
const HeartbeatTokenHeader = "X-Tocsin-Token"

// heartbeatToken reads the token from "Authorization: Bearer <token>", or
// from HeartbeatTokenHeader when the sender also authenticates to the
// web server itself.
func heartbeatToken(h http.Header) (string, bool) {
	if t := h.Get(HeartbeatTokenHeader); t != "" {
		return t, true
	}
	return strings.CutPrefix(h.Get("Authorization"), "Bearer ")
}

// heartbeatState is one heartbeat probe's view of its pushes.
type heartbeatState struct {
	owner   *Heartbeat
	token   [sha256.Size]byte // hashed, so the compare takes constant time whatever the length
	created time.Time
	wake    *signal // a beat arrived: evaluate now

	mu   sync.Mutex
	last time.Time
}

func (e *Endpoints) registerHeartbeat(probe string, token string, owner *Heartbeat) *heartbeatState {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.heartbeats[probe]
	if !ok {
		s = &heartbeatState{created: e.now(), wake: newSignal()}
		e.heartbeats[probe] = s
	}
	s.token = sha256.Sum256([]byte(token))
	s.owner = owner
	return s
}

func (e *Endpoints) unregisterHeartbeat(probe string, owner *Heartbeat) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.heartbeats[probe]; ok && s.owner == owner {
		delete(e.heartbeats, probe)
	}
}

func (e *Endpoints) serveHeartbeat(w http.ResponseWriter, r *http.Request, probe string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	e.mu.RLock()
	s := e.heartbeats[probe]
	var token [sha256.Size]byte
	if s != nil {
		token = s.token
	}
	e.mu.RUnlock()
	if s == nil {
		http.Error(w, "no heartbeat probe of that name", http.StatusNotFound)
		return
	}
	got, ok := heartbeatToken(r.Header)
	sum := sha256.Sum256([]byte(got))
	if !ok || subtle.ConstantTimeCompare(sum[:], token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
		http.Error(w, "missing or bad bearer token", http.StatusUnauthorized)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	at := e.now()
	s.beat(at)
	e.mu.RLock()
	onBeat := e.onBeat
	e.mu.RUnlock()
	if onBeat != nil {
		onBeat(probe, at)
	}
	w.WriteHeader(http.StatusNoContent)
}
