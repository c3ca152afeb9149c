package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// statusConfig has one probe that always fails (nothing listens on port 1).
const statusConfig = "global: {replica: test}\nprobes:\n- name: port\n  interval: 200ms\n  timeout: 100ms\n  tcp: {address: '127.0.0.1:1'}\n"

func TestStatusPrintsTheOverviewOfARunningTocsin(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(statusConfig), 0o600))
	_, lines := tocsinProcess(t, "run", "--config.file", file, "--web.listen-address", "127.0.0.1:0", "--storage.path", filepath.Join(dir, "data"))
	base := "http://" + waitForAddress(t, lines)

	// The pages and the API are served by `tocsin run` itself.
	for _, path := range []string{"/", "/probes/port", "/alerts", "/receivers", "/rules", "/config", "/api/v1/status"} {
		code, _ := get(t, base+path)
		require.Equal(t, 200, code, path)
	}

	var code int
	var out, errOut string
	require.Eventually(t, func() bool {
		code, out, errOut = runCLI(t, "status", "--url", base)
		return code != 0
	}, 20*time.Second, 20*time.Millisecond, "the probe never failed: %s", out)
	require.Equal(t, 2, code, "a probe is down: %s%s", out, errOut)
	require.Contains(t, out, "replica test")
	require.Contains(t, out, "ATTENTION: 1 of 1 probes down")
	require.Regexp(t, `port\s+DOWN\s+tcp\s+\d+s ago\s+connect: `, out)
}

func TestStatusSaysWhenTocsinCannotBeAsked(t *testing.T) {
	code, _, errOut := runCLI(t, "status", "--url", "http://127.0.0.1:1", "--timeout", "2s")
	require.Equal(t, 1, code, "a failure to ask exits 1, not 2")
	require.Contains(t, errOut, "status: ask http://127.0.0.1:1/api/v1/status")
}

// Replicas of a cluster show each other on the overview and in tocsin status.
func TestStatusShowsTheCluster(t *testing.T) {
	_, target, v := haTargetAndVendor(t)
	replicas := startHA(t, 2, target, v.fake.APIURL(), "1m")

	code, out, errOut := runCLI(t, "status", "--url", replicas[1].base)
	require.Contains(t, []int{0, 2}, code, errOut)
	require.Contains(t, out, "Cluster: this replica is r1, position 1, gossip ready; 2 replicas: r0, r1")

	code, page := get(t, replicas[0].base+"/")
	require.Equal(t, 200, code)
	require.Contains(t, page, "This replica is <strong>r0</strong>, position 0")
	require.Contains(t, page, "r1")

	// A replica that dies shows as ReplicaDown on the other's alerts page.
	replicas[1].kill()
	require.Eventually(t, func() bool {
		_, page = get(t, replicas[0].base+"/alerts")
		return strings.Contains(page, "replica r1 is missing")
	}, 30*time.Second, 50*time.Millisecond, "ReplicaDown for r1 on r0's alerts page")
	require.Contains(t, page, "ReplicaDown")
}
