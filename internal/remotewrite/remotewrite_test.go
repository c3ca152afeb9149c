package remotewrite

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
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
	ext := model.LabelSet{"replica": "r1"}

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
	cfg := load(t, "remote_write:\n- url: https://u:hunter2@mimir.example.com/api/v1/push\n  tls_config: {ca_file: missing.pem}\n")
	err := Check(cfg)
	require.ErrorContains(t, err, "remote_write entry 1 (https://u:xxxxx@mimir.example.com/api/v1/push)")
	require.ErrorContains(t, err, "missing.pem")
	require.NotContains(t, err.Error(), "hunter2")
	require.NoError(t, Check(load(t, "remote_write: [{url: 'http://r/'}]\n")))
}
