package probes

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

func TestNATSRoundTrip(t *testing.T) {
	t.Parallel()
	srv := probetest.StartNATS(t)
	nats := &configs.NATSTransport{URL: srv.URL, Subject: "canary.ping"}
	cfg := probeConfig("nats", 2*time.Second, func(p *configs.ProbeConfig) {
		p.RoundTrip = &configs.RoundTripProbe{Send: configs.RoundTripSend{NATS: nats}, Expect: configs.RoundTripExpect{NATS: nats}}
	})
	p, err := New(cfg, Options{Replica: testReplica})
	require.NoError(t, err)
	defer p.Close()
	r := p.Probe(t.Context())
	require.True(t, r.Success, "reason %s: %s", r.Reason, r.Detail)

	srv.Close()
	cfg.Timeout = cfg.Timeout / 5
	r = p.Probe(t.Context())
	require.False(t, r.Success)
	require.Contains(t, []Reason{ReasonConnect, ReasonPublish}, r.Reason, r.Detail)
}

// relay forwards what it receives to url, wrapped in its own JSON and
// signed with key, the way a device cloud's webhook integration does.
func relay(t *testing.T, url func() string, key []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wrapped := []byte(fmt.Sprintf(`{"event":"ping","data":%q}`, body))
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, url(), bytes.NewReader(wrapped))
		mac := hmac.New(sha256.New, key)
		mac.Write(wrapped)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPSendToWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		relayKey  string
		wantOK    bool
		wantCalls int
	}{
		{"good signature", "shared", true, 1},
		{"bad signature", "wrong", false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := NewEndpoints(nil)
			tocsin := httptest.NewServer(ep.Handler())
			defer tocsin.Close()
			rel := relay(t, func() string { return tocsin.URL + WebhookPath + "hook" }, []byte(tc.relayKey))
			cfg := probeConfig("hook", 500*time.Millisecond, func(p *configs.ProbeConfig) {
				p.RoundTrip = &configs.RoundTripProbe{
					Send:   configs.RoundTripSend{HTTP: &configs.HTTPSend{URL: rel.URL, Method: "POST", Body: `{"canary":"{{.Nonce}}"}`}},
					Expect: configs.RoundTripExpect{Webhook: &configs.WebhookExpect{Secret: "shared"}},
				}
			})
			p, err := New(cfg, Options{Replica: testReplica, Endpoints: ep})
			require.NoError(t, err)
			defer p.Close()
			r := p.Probe(t.Context())
			require.Equal(t, tc.wantOK, r.Success, "reason %s: %s", r.Reason, r.Detail)
			if !tc.wantOK {
				require.Equal(t, ReasonLost, r.Reason)
			}
			require.Equal(t, http.StatusAccepted, r.HTTPStatusCode)
		})
	}
}

func TestWebhookEndpoint(t *testing.T) {
	t.Parallel()
	ep := NewEndpoints(nil)
	m := &matcher{now: time.Now, onLate: func() {}}
	w := ep.registerWebhook("p", &configs.WebhookExpect{Secret: "k"}, m)
	defer w.close()
	srv := httptest.NewServer(ep.Handler())
	defer srv.Close()
	sign := func(b string) string {
		mac := hmac.New(sha256.New, []byte("k"))
		mac.Write([]byte(b))
		return hex.EncodeToString(mac.Sum(nil))
	}
	tests := []struct {
		name, method, path, sig string
		want                    int
	}{
		{"signed, bare hex", "POST", "/probe/webhook/p", sign("x"), http.StatusNoContent},
		{"signed, prefixed", "POST", "/probe/webhook/p", "sha256=" + sign("x"), http.StatusNoContent},
		{"unsigned", "POST", "/probe/webhook/p", "", http.StatusUnauthorized},
		{"badly signed", "POST", "/probe/webhook/p", sign("y"), http.StatusUnauthorized},
		{"unknown probe", "POST", "/probe/webhook/q", sign("x"), http.StatusNotFound},
		{"wrong method", "GET", "/probe/webhook/p", "", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewBufferString("x"))
		if tc.sig != "" {
			req.Header.Set("X-Hub-Signature-256", tc.sig)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, tc.name)
	}
}

// eventStream is a fake device cloud: POST /publish puts the body on the
// event stream served at GET /events.
type eventStream struct {
	mu   sync.Mutex
	subs []chan []byte
}

func (e *eventStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/publish":
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		for _, c := range e.subs {
			select {
			case c <- body:
			default:
			}
		}
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case "/events":
		if r.Header.Get("Authorization") != "Bearer cloud-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		c := make(chan []byte, 16)
		e.mu.Lock()
		e.subs = append(e.subs, c)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": welcome\n\nevent: other\ndata: {\"data\":\"unrelated\"}\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case b := <-c:
				fmt.Fprintf(w, "event: canary\ndata: {\"data\":%q,\n data: \"ttl\":60}\n\n", b)
				w.(http.Flusher).Flush()
			}
		}
	}
}

func TestHTTPSendToSSE(t *testing.T) {
	t.Parallel()
	cloud := httptest.NewServer(&eventStream{})
	defer cloud.Close()
	defer cloud.CloseClientConnections()
	cfg := probeConfig("sse", 2*time.Second, func(p *configs.ProbeConfig) {
		p.RoundTrip = &configs.RoundTripProbe{
			Send:   configs.RoundTripSend{HTTP: &configs.HTTPSend{URL: cloud.URL + "/publish", Method: "POST"}},
			Expect: configs.RoundTripExpect{SSE: &configs.SSEExpect{URL: cloud.URL + "/events", BearerToken: "cloud-token"}},
		}
	})
	p, err := New(cfg, Options{Replica: testReplica})
	require.NoError(t, err)
	defer p.Close()
	for range 2 {
		r := p.Probe(t.Context())
		require.True(t, r.Success, "reason %s: %s", r.Reason, r.Detail)
	}

	// A stream the cloud refuses: the probe cannot subscribe.
	cfg.RoundTrip.Expect.SSE = &configs.SSEExpect{URL: cloud.URL + "/events", BearerToken: "wrong"}
	cfg.Timeout /= 4
	r := runOnce(t, cfg)
	require.Equal(t, ReasonConnect, r.Reason, r.Detail)
	require.Contains(t, r.Detail, "status 401")
}
