package remotewrite

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestMain(m *testing.M) {
	// net/http keeps idle client connections' readers for a moment.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

func load(t *testing.T, yaml string) *configs.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte("global: {replica: r1}\n"+yaml), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	return cfg
}

func TestWriter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	withEntry := load(t, "remote_write: [{url: '"+srv.URL+"', name: r}]\n")
	without := load(t, "")
	ext := labels.FromStrings("replica", "r1")

	for _, tc := range []struct {
		name        string
		apply       []*configs.Config
		wantMetrics bool
	}{
		{name: "no entry starts nothing and registers nothing", apply: []*configs.Config{without, without}},
		{name: "an entry starts a queue", apply: []*configs.Config{withEntry}, wantMetrics: true},
		{name: "an entry added on a reload", apply: []*configs.Config{without, withEntry}, wantMetrics: true},
		{name: "an entry removed on a reload", apply: []*configs.Config{withEntry, without}, wantMetrics: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			w := New(Options{Dir: t.TempDir(), Registerer: reg, FlushDeadline: time.Second})
			for _, cfg := range tc.apply {
				require.NoError(t, w.Apply(cfg, ext))
			}
			// Neither waits, with or without queues.
			w.Notify()
			w.Notify()
			w.Appended(time.Now(), 3)

			mfs, err := reg.Gather()
			require.NoError(t, err)
			require.Equal(t, tc.wantMetrics, len(mfs) > 0)

			require.NoError(t, w.Close())
			require.NoError(t, w.Close())
			require.Error(t, w.Apply(withEntry, ext), "a closed writer starts no queue")
			w.Notify()
			w.Appended(time.Now(), 1)
		})
	}
}

func TestCheckRefusesAnEntryWhoseClientCannotBeBuilt(t *testing.T) {
	cfg := load(t, "remote_write:\n- url: https://u:hunter2@mimir.example.com/api/v1/push\n")
	// The CA file was there at load and is gone at reload.
	cfg.RemoteWrite[0].HTTPClientConfig.TLSConfig.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	err := Check(cfg)
	require.ErrorContains(t, err, "remote_write entry 1 (https://u:xxxxx@mimir.example.com/api/v1/push)")
	require.ErrorContains(t, err, "missing.pem")
	require.NotContains(t, err.Error(), "hunter2")
	require.NoError(t, Check(load(t, "remote_write: [{url: 'http://r/'}]\n")))
}

func TestLogsHideThePasswordOfTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized) // a failed send is logged with the URL
	}))
	defer srv.Close()
	// A file, because the queues log from their own goroutines.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer logFile.Close()
	w := New(Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	cfg := load(t, "remote_write: [{url: '"+strings.Replace(srv.URL, "://", "://u:hunter2@", 1)+"'}]\n")
	require.NoError(t, w.Apply(cfg, labels.FromStrings("replica", "r1")))
	require.NoError(t, w.Close())
	logs, err := os.ReadFile(logFile.Name())
	require.NoError(t, err)
	require.Contains(t, string(logs), "u:xxxxx@127.0.0.1", "the queue logged its URL")
	require.NotContains(t, string(logs), "hunter2")
}

func TestRedactAttr(t *testing.T) {
	for _, tc := range []struct {
		attr slog.Attr
		want string
	}{
		{slog.String("url", "https://u:p4ss@h/x"), "url=https://u:xxxxx@h/x"},
		{slog.Any("err", errors.New(`Post "http://u:p4ss@h/": refused`)), `err="Post \"http://u:xxxxx@h/\": refused"`},
		{slog.Group("g", slog.String("url", "http://u:p4ss@h")), "g.url=http://u:xxxxx@h"},
		{slog.Int("n", 3), "n=3"},
		{slog.String("url", "http://h/"), "url=http://h/"},
	} {
		var out bytes.Buffer
		slog.New(redactingHandler{slog.NewTextHandler(&out, nil)}).Info("m", tc.attr)
		require.Contains(t, out.String(), tc.want)
		require.NotContains(t, out.String(), "p4ss")
	}
}

func TestApplyErrorsHideThePasswordOfTheURL(t *testing.T) {
	cfg := load(t, "remote_write: [{url: 'http://u:hunter2@r/', name: a}]\n")
	cfg.RemoteWrite = append(cfg.RemoteWrite, cfg.RemoteWrite[0]) // Prometheus refuses twins
	w := New(Options{Dir: t.TempDir()})
	defer func() { require.NoError(t, w.Close()) }()
	err := w.Apply(cfg, labels.EmptyLabels())
	require.ErrorContains(t, err, "http://u:xxxxx@r/")
	require.NotContains(t, err.Error(), "hunter2")
}

// TestCloseDoesNotWaitForAHungEndpoint: an endpoint that takes a request
// and never answers holds a shutdown for the flush deadline, not for its
// remote_timeout.
func TestCloseDoesNotWaitForAHungEndpoint(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	dir := t.TempDir()
	w := New(Options{Dir: dir, FlushDeadline: 100 * time.Millisecond})
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	require.NoError(t, err)
	defer db.Close()
	db.SetWriteNotified(w)
	cfg := load(t, "remote_write: [{url: '"+srv.URL+"', remote_timeout: 1h, queue_config: {batch_send_deadline: 10ms}}]\n")
	require.NoError(t, w.Apply(cfg, labels.EmptyLabels()))

	// Samples until the first batch is at the endpoint.
	series := labels.FromStrings("__name__", "probe_success", "probe", "p")
	for sent := false; !sent; {
		app := db.AppenderV2(t.Context())
		_, err := app.Append(0, series, 0, time.Now().UnixMilli(), 1, nil, nil, storage.AOptions{})
		require.NoError(t, err)
		require.NoError(t, app.Commit())
		select {
		case <-arrived:
			sent = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NoError(t, w.Close(), "returns after the flush deadline although the request hangs")
}
