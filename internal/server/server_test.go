package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tocsin_test_gauge", Help: "test"}))
	opts.ListenAddress = "127.0.0.1:0"
	opts.Logger = promslog.NewNopLogger()
	opts.Gatherer = reg
	return New(opts)
}

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// serve starts s on a loopback port and returns its base URL; the server
// stops when the test ends.
func serve(t *testing.T, s *Server, scheme string) string {
	t.Helper()
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return scheme + "://" + s.Addr().String()
}

func TestEndpoints(t *testing.T) {
	isReady := false
	reloadErr := errors.New("tocsin.yml:3:9: unknown key \"adress\"")
	var failReload, quit bool
	s := newTestServer(t, Options{
		EnableLifecycle: true,
		Reload: func(context.Context) error {
			if failReload {
				return reloadErr
			}
			return nil
		},
		Ready: func() bool { return isReady },
		Quit:  func() { quit = true },
	})
	h := s.Handler()

	code, _ := do(t, h, "GET", "/-/healthy")
	require.Equal(t, 200, code)

	code, _ = do(t, h, "GET", "/-/ready")
	require.Equal(t, 503, code)
	isReady = true
	code, _ = do(t, h, "GET", "/-/ready")
	require.Equal(t, 200, code)

	code, body := do(t, h, "GET", "/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, "tocsin_test_gauge 0")

	code, _ = do(t, h, "POST", "/-/reload")
	require.Equal(t, 200, code)
	failReload = true
	code, body = do(t, h, "POST", "/-/reload")
	require.Equal(t, 500, code)
	require.Contains(t, body, "unknown key")

	code, _ = do(t, h, "POST", "/-/quit")
	require.Equal(t, 200, code)
	require.True(t, quit)
}

func TestMutatingEndpointsArePOSTOnly(t *testing.T) {
	s := newTestServer(t, Options{EnableLifecycle: true, Reload: func(context.Context) error { return nil }, Quit: func() {}})
	for _, path := range []string{"/-/reload", "/-/quit"} {
		for _, method := range []string{"GET", "PUT", "DELETE", "PATCH"} {
			code, _ := do(t, s.Handler(), method, path)
			require.Equal(t, http.StatusMethodNotAllowed, code, "%s %s", method, path)
		}
	}
}

func TestLifecycleIsOffByDefault(t *testing.T) {
	reloaded, quit := false, false
	s := newTestServer(t, Options{Reload: func(context.Context) error { reloaded = true; return nil }, Quit: func() { quit = true }})
	for _, path := range []string{"/-/reload", "/-/quit"} {
		code, body := do(t, s.Handler(), "POST", path)
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "--web.enable-lifecycle")
	}
	require.False(t, reloaded)
	require.False(t, quit)
}

func TestRoutePrefix(t *testing.T) {
	s := newTestServer(t, Options{RoutePrefix: "/tocsin/"})
	s.Handle("/probe/webhook/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "webhook "+r.URL.Path)
	}))
	base := serve(t, s, "http")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		method, path string
		code         int
		body         string
		location     string
	}{
		{"GET", "/tocsin/-/healthy", 200, "tocsin is healthy", ""},
		{"GET", "/tocsin/metrics", 200, "tocsin_test_gauge", ""},
		{"POST", "/tocsin/probe/webhook/p1", 200, "webhook /probe/webhook/p1", ""},
		{"GET", "/-/healthy", 404, "", ""},
		{"GET", "/metrics", 404, "", ""},
		{"GET", "/tocsinx/-/healthy", 404, "", ""},
		{"GET", "/", 302, "", "/tocsin/"},
		{"GET", "/tocsin", 302, "", "/tocsin/"},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.code, resp.StatusCode)
			require.Contains(t, string(body), tc.body)
			require.Equal(t, tc.location, resp.Header.Get("Location"))
		})
	}
}

func TestServeShutsDownWhenCancelled(t *testing.T) {
	s := newTestServer(t, Options{})
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	resp, err := http.Get("http://" + s.Addr().String() + "/-/healthy")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(string(body), "tocsin is healthy"))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("server did not shut down within its bound")
	}
	_, err = http.Get("http://" + s.Addr().String() + "/-/healthy")
	require.Error(t, err, "the port should be closed after shutdown")
}

func TestListenReportsAPortInUse(t *testing.T) {
	a := newTestServer(t, Options{})
	require.NoError(t, a.Listen())
	defer a.ln.Close()
	b := New(Options{ListenAddress: a.Addr().String(), Logger: promslog.NewNopLogger(), Gatherer: prometheus.NewRegistry()})
	require.ErrorContains(t, b.Listen(), "listen on "+a.Addr().String())
}
