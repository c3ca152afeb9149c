package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TestTocsinConfigLoads keeps the benchmark's generated tocsin config valid
// as the config schema changes.
func TestTocsinConfigLoads(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, tocsinConfig, "127.0.0.1:1883", "127.0.0.1:1883", "http://127.0.0.1:9/tocsin"), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	require.Len(t, cfg.Probes, 1)
}
