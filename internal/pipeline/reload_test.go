package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

const goodConfig = "global: {replica: r1}\nprobes:\n- name: port\n  tcp: {address: 'broker:1883'}\n"

func TestReloadKeepsTheLastGoodConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(goodConfig), 0o600))

	var applied []*configs.Config
	apply := func(_ context.Context, cfg *configs.Config) error {
		applied = append(applied, cfg)
		return nil
	}
	reg := prometheus.NewRegistry()
	r := NewReloader(file, apply, promslog.NewNopLogger(), reg)
	ok := func() float64 { return testutil.ToFloat64(r.success) }

	require.NoError(t, r.Reload(t.Context()))
	require.Equal(t, 1.0, ok())
	require.NotZero(t, testutil.ToFloat64(r.successTS))
	first := r.Current()
	require.Equal(t, "port", first.Probes[0].Name)

	// A broken edit: the old config stays, the metric says the reload failed.
	require.NoError(t, os.WriteFile(file, []byte("probes:\n- name: port\n  tcp: {adress: x}\n"), 0o600))
	err := r.Reload(t.Context())
	require.ErrorContains(t, err, "3:9: unknown key \"adress\"")
	require.Equal(t, 0.0, ok())
	require.Same(t, first, r.Current())
	require.Len(t, applied, 1)

	// A good edit brings the metric back.
	require.NoError(t, os.WriteFile(file, []byte(goodConfig+"- name: api\n  http: {url: 'http://api/'}\n"), 0o600))
	require.NoError(t, r.Reload(t.Context()))
	require.Equal(t, 1.0, ok())
	require.Len(t, r.Current().Probes, 2)
}

func TestReloadRefusedByAComponentKeepsTheOldConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(goodConfig), 0o600))
	refuse := false
	apply := func(context.Context, *configs.Config) error {
		if refuse {
			return errors.New("rules: bad rule file")
		}
		return nil
	}
	r := NewReloader(file, apply, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, r.Reload(t.Context()))
	first := r.Current()
	refuse = true
	require.ErrorContains(t, r.Reload(t.Context()), "bad rule file")
	require.Same(t, first, r.Current())
	require.Equal(t, 0.0, testutil.ToFloat64(r.success))
}
