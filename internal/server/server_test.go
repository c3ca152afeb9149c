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

func newTestServer(t *testing.T, reload func(context.Context) error, ready func() bool) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tocsin_test_gauge", Help: "test"}))
	return New(Options{ListenAddress: "127.0.0.1:0", Logger: promslog.NewNopLogger(), Gatherer: reg, Reload: reload, Ready: ready})
}

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

func TestEndpoints(t *testing.T) {
	isReady := false
	reloadErr := errors.New("tocsin.yml:3:9: unknown key \"adress\"")
	var failReload bool
	s := newTestServer(t, func(context.Context) error {
		if failReload {
			return reloadErr
		}
		return nil
	}, func() bool { return isReady })
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

	code, _ = do(t, h, "GET", "/-/reload")
	require.Equal(t, http.StatusMethodNotAllowed, code)
}

func TestServeShutsDownWhenCancelled(t *testing.T) {
	s := newTestServer(t, nil, nil)
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
	a := newTestServer(t, nil, nil)
	require.NoError(t, a.Listen())
	defer a.ln.Close()
	b := New(Options{ListenAddress: a.Addr().String(), Logger: promslog.NewNopLogger(), Gatherer: prometheus.NewRegistry()})
	require.ErrorContains(t, b.Listen(), "listen on "+a.Addr().String())
}
