package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

func TestProbeCommand(t *testing.T) {
	broker := probetest.StartMQTT(t)
	dropping := probetest.StartMQTT(t, new(probetest.DropPublishes))
	cfg := filepath.Join(t.TempDir(), "tocsin.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
global: {replica: cli-test}
probes:
- name: ok
  interval: 1s
  timeout: 900ms
  roundtrip:
    send:   {mqtt: {url: %[1]q, topic: canary/cli, qos: 1}}
    expect: {mqtt: {url: %[1]q, topic: canary/cli, qos: 1}}
- name: dropped
  interval: 1s
  timeout: 300ms
  roundtrip:
    send:   {mqtt: {url: %[2]q, topic: canary/cli, qos: 1, protocol_version: 5}}
    expect: {mqtt: {url: %[2]q, topic: canary/cli, qos: 1, protocol_version: 5}}
`, broker.URL, dropping.URL)), 0o600))

	code, out, stderr := runCLI(t, "probe", "ok", "--config.file", cfg)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `  ok  roundtrip  ok  roundtrip=\S+  duration=`, out)

	code, out, _ = runCLI(t, "probe", "dropped", "--config.file", cfg)
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAILED reason=lost")

	code, _, stderr = runCLI(t, "probe", "nope", "--config.file", cfg)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `no probe named "nope"`)
}
