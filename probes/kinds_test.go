package probes

import (
	"bufio"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ep := NewEndpoints(clock.Now)
	srv := httptest.NewServer(ep.Handler())
	defer srv.Close()
	cfg := probeConfig("watchdog", time.Second, func(p *configs.ProbeConfig) {
		p.Heartbeat = &configs.HeartbeatProbe{Grace: model.Duration(time.Minute), Token: "s3cret"}
	})
	p, err := New(cfg, Options{Replica: testReplica, Now: clock.Now, Endpoints: ep})
	require.NoError(t, err)
	defer p.Close()

	beat := func(auth string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/heartbeats/watchdog", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Within grace of tocsin's start, no beat yet is not a failure.
	require.True(t, p.Probe(t.Context()).Success)
	clock.Add(2 * time.Minute)
	r := p.Probe(t.Context())
	require.Equal(t, ReasonHeartbeatMissing, r.Reason)
	require.True(t, r.LastHeartbeat.IsZero())

	require.Equal(t, http.StatusUnauthorized, beat(""))
	require.Equal(t, http.StatusUnauthorized, beat("Bearer wrong"))
	require.Equal(t, http.StatusUnauthorized, beat("s3cret"))
	require.Equal(t, ReasonHeartbeatMissing, p.Probe(t.Context()).Reason)

	require.Equal(t, http.StatusNoContent, beat("Bearer s3cret"))
	require.True(t, p.(*Heartbeat).wake().take(), "a beat should wake the probe")
	r = p.Probe(t.Context())
	require.True(t, r.Success)
	require.Equal(t, clock.Now(), r.LastHeartbeat)

	clock.Add(61 * time.Second) // expired
	r = p.Probe(t.Context())
	require.Equal(t, ReasonHeartbeatMissing, r.Reason)
	require.Equal(t, uint64(3), r.Failures[ReasonHeartbeatMissing])

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/heartbeats/nobody", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("status: green"))
		case "/down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	tlsCfg := &configs.ProbeTLSConfig{CAFile: caFile}

	tests := []struct {
		name   string
		cfg    configs.HTTPProbe
		reason Reason
		status int
	}{
		{"ok", configs.HTTPProbe{URL: srv.URL + "/ok", TLS: tlsCfg, FailIfBodyNotMatchesRegexp: []string{"green"}}, "", 200},
		{"bad status", configs.HTTPProbe{URL: srv.URL + "/down", TLS: tlsCfg}, ReasonHTTPStatus, 503},
		{"status listed as valid", configs.HTTPProbe{URL: srv.URL + "/down", TLS: tlsCfg, ValidStatusCodes: []int{503}}, "", 503},
		{"body must not match", configs.HTTPProbe{URL: srv.URL + "/ok", TLS: tlsCfg, FailIfBodyMatchesRegexp: []string{"green"}}, ReasonBody, 200},
		{"fail if ssl", configs.HTTPProbe{URL: srv.URL + "/ok", TLS: tlsCfg, FailIfSSL: true}, ReasonTLS, 200},
		{"unknown CA", configs.HTTPProbe{URL: srv.URL + "/ok"}, ReasonTLS, 0},
		{"refused", configs.HTTPProbe{URL: "http://127.0.0.1:1/"}, ReasonConnect, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Method = "GET"
			r := runOnce(t, probeConfig("api", 2*time.Second, func(p *configs.ProbeConfig) { p.HTTP = &tc.cfg }))
			require.Equal(t, tc.reason, r.Reason, r.Detail)
			require.Equal(t, tc.status, r.HTTPStatusCode)
			if tc.status != 0 {
				require.Equal(t, srv.Certificate().NotAfter.Unix(), r.CertExpiry.Unix())
				require.NotNil(t, r.HTTPPhases)
				require.Positive(t, r.HTTPPhases.TLS)
			}
		})
	}
}

// newCountingServer answers "ok" on every path and counts the connections
// clients open to it.
func newCountingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &opened
}

// TestHTTPProbeKeepsConnection: runs share one connection, and a run after
// the target closed it opens a new one and still succeeds.
func TestHTTPProbeKeepsConnection(t *testing.T) {
	t.Parallel()
	srv, opened := newCountingServer(t)
	p, err := New(probeConfig("api", 2*time.Second, func(p *configs.ProbeConfig) {
		p.HTTP = &configs.HTTPProbe{URL: srv.URL, Method: "GET"}
	}), Options{Replica: testReplica})
	require.NoError(t, err)
	defer p.Close()

	for run := range 3 {
		r := p.Probe(t.Context())
		require.True(t, r.Success, r.Detail)
		if run > 0 {
			require.Zero(t, r.HTTPPhases.Connect, "run %d reused the connection", run)
		}
	}
	require.EqualValues(t, 1, opened.Load())

	// The runs of one prober share their series' labels and references.
	r1, r2 := p.Probe(t.Context()), p.Probe(t.Context())
	first, second := r1.Series(), r2.Series()
	require.Len(t, second, len(first))
	for i := range first {
		require.Equal(t, first[i].Labels, second[i].Labels)
		require.NotNil(t, first[i].Ref)
		require.Same(t, first[i].Ref, second[i].Ref)
	}

	srv.CloseClientConnections()
	r := p.Probe(t.Context())
	require.True(t, r.Success, r.Detail)
	require.EqualValues(t, 2, opened.Load())
}

// TestHTTPProbesShareConnections: the HTTP probes of one scheduler share
// their connections to a host, a probe that stops leaves the others'
// connections open, and a probe with a tls_config keeps its own.
func TestHTTPProbesShareConnections(t *testing.T) {
	t.Parallel()
	srv, opened := newCountingServer(t)
	pools := newConnPools(testReplica, nil)
	defer pools.close()
	newProbe := func(name string, tc *configs.ProbeTLSConfig) Prober {
		p, err := New(probeConfig(name, 2*time.Second, func(p *configs.ProbeConfig) {
			p.HTTP = &configs.HTTPProbe{URL: srv.URL + "/" + name, Method: "GET", TLS: tc}
		}), Options{Replica: testReplica, conns: pools})
		require.NoError(t, err)
		return p
	}
	run := func(p Prober) Result {
		r := p.Probe(t.Context())
		require.True(t, r.Success, r.Detail)
		return r
	}
	a, b := newProbe("a", nil), newProbe("b", nil)
	run(a)
	require.Zero(t, run(b).HTTPPhases.Connect, "b reused a's connection")
	a.Close()
	require.Zero(t, run(b).HTTPPhases.Connect, "a's end left the connection open")
	require.EqualValues(t, 1, opened.Load())

	own := newProbe("own", &configs.ProbeTLSConfig{ServerName: "example.com"})
	defer own.Close()
	run(own)
	require.EqualValues(t, 2, opened.Load(), "a probe with a tls_config dials its own connection")

	b.Close()
	pools.mu.Lock()
	defer pools.mu.Unlock()
	require.Nil(t, pools.http, "the last probe to stop gave the transport back")
}

// TestHTTPProbesCloseABurstsExtraConnections: runs that pile up open a
// connection each; once they end, the shared transport keeps
// sharedIdleConns of them and closes the rest.
func TestHTTPProbesCloseABurstsExtraConnections(t *testing.T) {
	t.Parallel()
	const burst = sharedIdleConns + 8
	var arrived, opened, closed atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if arrived.Add(1) == burst {
			close(release)
		}
		<-release // every run holds its connection until all have one
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	pools := newConnPools(testReplica, nil)
	defer pools.close()

	probers := make([]Prober, burst)
	for i := range probers {
		p, err := New(probeConfig(fmt.Sprintf("p%d", i), 2*time.Second, func(p *configs.ProbeConfig) {
			p.HTTP = &configs.HTTPProbe{URL: fmt.Sprintf("%s/%d", srv.URL, i), Method: "GET"}
		}), Options{Replica: testReplica, conns: pools})
		require.NoError(t, err)
		defer p.Close()
		probers[i] = p
	}
	results := make(chan Result, burst)
	for _, p := range probers {
		go func() { results <- p.Probe(t.Context()) }()
	}
	for range burst {
		r := <-results
		require.True(t, r.Success, r.Detail)
	}
	require.EqualValues(t, burst, opened.Load())
	require.Eventually(t, func() bool { return closed.Load() == burst-sharedIdleConns },
		5*time.Second, 10*time.Millisecond, "closed %d of %d", closed.Load(), burst)

	r := probers[0].Probe(t.Context())
	require.True(t, r.Success, r.Detail)
	require.Zero(t, r.HTTPPhases.Connect, "a kept connection is reused")
	require.EqualValues(t, burst-sharedIdleConns, closed.Load())
}

func TestTCPProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := bufio.NewScanner(c)
			if sc.Scan() && sc.Text() == "PING" {
				_, _ = c.Write([]byte("+banner\n+PONG\n"))
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()
	addr := ln.Addr().String()
	tests := []struct {
		name   string
		cfg    configs.TCPProbe
		reason Reason
	}{
		{"ping pong", configs.TCPProbe{Address: addr, Send: "PING", Expect: `^\+PONG$`}, ""},
		{"wrong answer", configs.TCPProbe{Address: addr, Send: "PING", Expect: `^\+OK`}, ReasonBody},
		{"refused", configs.TCPProbe{Address: "127.0.0.1:1"}, ReasonConnect},
	}
	for _, tc := range tests {
		r := runOnce(t, probeConfig("tcp", time.Second, func(p *configs.ProbeConfig) { p.TCP = &tc.cfg }))
		require.Equal(t, tc.reason, r.Reason, "%s: %s", tc.name, r.Detail)
	}
}

func TestResultSeries(t *testing.T) {
	t.Parallel()
	r := Result{Probe: "rt", Kind: "roundtrip", Replica: "eu-1", Success: true,
		Duration: 30 * time.Millisecond, RoundTrip: 20 * time.Millisecond,
		Failures: map[Reason]uint64{ReasonLost: 2, ReasonConnect: 0}}
	r.Labels = newBase(probeConfig("rt", time.Second, func(p *configs.ProbeConfig) {}), Options{Logger: slog.New(slog.DiscardHandler), Now: time.Now, Replica: "eu-1"}).labels
	got := map[string]float64{}
	for _, s := range r.Series() {
		require.Equal(t, "rt", s.Labels.Get("probe"))
		require.Equal(t, "roundtrip", s.Labels.Get("kind"))
		require.Equal(t, "eu-1", s.Labels.Get("replica"))
		require.Equal(t, "broker", s.Labels.Get("service"))
		got[s.Labels.Get("__name__")+"/"+s.Labels.Get("reason")] = s.Value
	}
	require.Equal(t, map[string]float64{
		"probe_success/": 1, "probe_duration_seconds/": 0.03, "probe_roundtrip_seconds/": 0.02,
		"probe_failures_total/lost": 2, "probe_failures_total/connect": 0,
	}, got)
}
