package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestNotifyTestReportsEveryIntegration(t *testing.T) {
	const routingKey = "R0UT1NGKEY0123456789012345678901"
	pd := notifiertest.NewPagerDuty(routingKey)
	defer pd.Close()
	sw := notifiertest.NewSlackWebhook(notifiertest.WithMode(notifiertest.Reject))
	defer sw.Close()
	hookPath := strings.TrimPrefix(sw.APIURL(), sw.URL())

	file := filepath.Join(t.TempDir(), "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`global: {replica: test}
route: {receiver: oncall}
receivers:
- name: oncall
  strategy: failover
  pagerduty_configs: [{routing_key: %s, url: '%s'}]
  slack_configs: [{api_url: '%s'}]
`, routingKey, pd.APIURL(), sw.APIURL())), 0o600))

	code, out, errOut := runCLI(t, "notify", "test", "--receiver", "oncall", "--config.file", file, "--timeout", "10s")
	require.Equal(t, 1, code, "one integration refused: %s %s", out, errOut)
	require.Contains(t, out, "pagerduty[0]")
	require.Regexp(t, `pagerduty\[0\]\s+accepted`, out)
	require.Regexp(t, `slack\[0\]\s+rejected`, out)
	require.Contains(t, errOut, "1 of 2 integrations did not accept the test page")
	require.NotContains(t, out+errOut, hookPath, "the webhook URL is a secret")
	require.NotContains(t, out+errOut, routingKey)

	pages := pd.Pages()
	require.Len(t, pages, 1, "failover or not, every integration gets the test page")
	require.Contains(t, pages[0].Title+pages[0].Text, "Test")

	code, _, errOut = runCLI(t, "notify", "test", "--receiver", "nobody", "--config.file", file)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `no receiver named "nobody"`)
}

func TestNotifyTestUsesTheConfigsTemplateFiles(t *testing.T) {
	const routingKey = "R0UT1NGKEY0123456789012345678901"
	pd := notifiertest.NewPagerDuty(routingKey)
	defer pd.Close()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "team.tmpl"), []byte(`{{ define "team.summary" }}team says: {{ .CommonLabels.alertname }}{{ end }}`), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`global: {replica: test}
templates: ['*.tmpl']
route: {receiver: oncall}
receivers:
- name: oncall
  pagerduty_configs: [{routing_key: %s, url: '%s', description: '{{ template "team.summary" . }}'}]
`, routingKey, pd.APIURL())), 0o600))

	code, out, errOut := runCLI(t, "notify", "test", "--receiver", "oncall", "--config.file", file, "--timeout", "10s")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	pages := pd.Pages()
	require.Len(t, pages, 1)
	require.Equal(t, "team says: TocsinTestPage", pages[0].Title)
}

// TestNotifyTestScrubsAnEchoedRequest points a receiver at a vendor whose
// error reply echoes the whole request, headers and body: neither the
// console nor the log may show a secret.
func TestNotifyTestScrubsAnEchoedRequest(t *testing.T) {
	const (
		routingKey = "R0UT1NGKEY0123456789012345678901"
		genieKey   = "genie-secret-0000-1111-2222"
		hookToken  = "T0001/B0001/s3cr3tW3bh00kT0k3n"
	)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dump strings.Builder
		_ = r.Write(&dump)
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "refused: " + dump.String()})
	}))
	defer echo.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pd-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(routingKey), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`global: {replica: test}
route: {receiver: oncall}
receivers:
- name: oncall
  pagerduty_configs: [{routing_key_file: %s, url: '%s/v2/enqueue'}]
  opsgenie_configs: [{api_key: %s, api_url: '%s'}]
  slack_configs: [{api_url: '%s/services/%s'}]
`, keyFile, echo.URL, genieKey, echo.URL, echo.URL, hookToken)), 0o600))

	code, out, errOut := runCLI(t, "notify", "test", "--receiver", "oncall", "--config.file", file, "--timeout", "10s", "--log.level", "debug")
	require.Equal(t, 1, code)
	require.Equal(t, 3, strings.Count(out, "<secret>"), "each echo is shown, scrubbed: %s", out)
	for _, s := range []string{routingKey, genieKey, "s3cr3tW3bh00kT0k3n"} {
		require.NotContains(t, out+errOut, s)
	}
}
