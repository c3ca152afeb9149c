package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// TestRunTakesAlertsAndKeepsSilencesAcrossARestart runs tocsin as a
// process: an alert POSTed to its Alertmanager API pages the webhook
// vendor, and a silence made through the API is there after kill -9.
func TestRunTakesAlertsAndKeepsSilencesAcrossARestart(t *testing.T) {
	pages := make(chan notifiertest.Page, 10)
	vendor := notifiertest.NewWebhook(notifiertest.OnPage(func(p notifiertest.Page) { pages <- p }))
	defer vendor.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "tocsin.yml")
	cfg := runConfig + fmt.Sprintf("route: {receiver: hook, group_by: [alertname], group_wait: 0s}\n"+
		"receivers:\n- name: hook\n  webhook_configs: [{url: '%s'}]\n", vendor.APIURL())
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))
	start := func() (*os.Process, string) {
		cmd, lines := tocsinProcess(t, "run", "--config.file", file, "--web.listen-address", "127.0.0.1:0",
			"--storage.path", filepath.Join(dir, "data"))
		base := "http://" + waitForAddress(t, lines)
		go func() {
			for range lines { // keep reading, or tocsin blocks on its log
			}
		}()
		return cmd.Process, base
	}
	proc, base := start()

	resp, err := http.Post(base+"/api/v2/alerts", "application/json",
		strings.NewReader(`[{"labels": {"alertname": "FromPrometheus", "job": "node"}}]`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	select {
	case p := <-pages:
		require.Equal(t, "firing", p.Action)
	case <-time.After(30 * time.Second):
		t.Fatal("the alert did not page")
	}

	resp, err = http.Post(base+"/api/v2/silences", "application/json", strings.NewReader(fmt.Sprintf(
		`{"matchers": [{"name": "job", "value": "node", "isRegex": false}], "startsAt": %q, "endsAt": %q,
		  "createdBy": "ops", "comment": "node maintenance"}`,
		time.Now().Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339))))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	require.NoError(t, proc.Signal(syscall.SIGKILL))
	_, _ = proc.Wait()
	_, base = start()
	code, body := get(t, base+"/api/v2/silences?active=true&pending=false&expired=false")
	require.Equal(t, 200, code)
	require.Contains(t, body, "node maintenance", "the silence outlived kill -9")
}
