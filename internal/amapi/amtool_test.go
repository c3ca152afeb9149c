package amapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/internal/amapi"
)

// TestAmtoolSilenceMutesAndExpireLetsItPage runs Alertmanager's own amtool
// against tocsin: alerts added with amtool page through the webhook
// vendor, a silence added with amtool keeps one of them out of the pages,
// and expiring it with amtool pages it at the group's next flush.
func TestAmtoolSilenceMutesAndExpireLetsItPage(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	id := strings.TrimSpace(e.amtool(t, "silence", "add", "alertname=BrokerDown", "--duration=1h",
		"--comment=broker maintenance", "--author=oncall@example.com"))
	require.NotEmpty(t, id)

	code, body := e.post(t, "/api/v2/alerts", `[
		{"labels": {"alertname": "BrokerDown", "service": "broker"}},
		{"labels": {"alertname": "BrokerSlow", "service": "broker"}}]`)
	require.Equal(t, 200, code, body)
	require.Equal(t, []string{"BrokerSlow"}, e.nextPage(t), "the silenced alert is not paged")

	out := e.amtool(t, "alert", "query")
	require.Contains(t, out, "BrokerSlow")
	require.NotContains(t, out, "BrokerDown", "amtool hides silenced alerts by default")
	out = e.amtool(t, "alert", "query", "--silenced", "alertname=BrokerDown")
	require.Contains(t, out, "BrokerDown")
	require.NotContains(t, out, "BrokerSlow", "the matcher filters")

	out = e.amtool(t, "silence", "query")
	require.Contains(t, out, id)
	require.Contains(t, out, "broker maintenance")
	require.Contains(t, out, "oncall@example.com")

	e.amtool(t, "silence", "expire", id)
	require.Equal(t, []string{"BrokerDown", "BrokerSlow"}, e.nextPage(t), "once expired, the alert pages")
	require.Empty(t, strings.TrimSpace(e.amtool(t, "silence", "query", "-q")), "no active silence is left")
	require.Contains(t, e.amtool(t, "silence", "query", "--expired", "-q"), id)
}

func TestAmtoolSilenceImport(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	e.amtool(t, "silence", "add", "service=broker", "--duration=2h", "--comment=window", "--author=ops")
	e.amtool(t, "silence", "add", "service=api", "--duration=2h", "--comment=window", "--author=ops")
	exported := e.amtool(t, "silence", "query", "-o", "json")

	other := newEnv(t, amapi.Options{})
	file := filepath.Join(t.TempDir(), "silences.json")
	require.NoError(t, os.WriteFile(file, []byte(exported), 0o600))
	other.amtool(t, "silence", "import", file)
	out := other.amtool(t, "silence", "query")
	require.Contains(t, out, `service="broker"`)
	require.Contains(t, out, `service="api"`)
}

func TestAmtoolConfigRoutes(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	out := e.amtool(t, "config", "routes")
	require.Contains(t, out, "oncall")
	require.Contains(t, out, `{severity="info"}  receiver: chat`)

	out = e.amtool(t, "config", "routes", "test", "severity=info")
	require.Equal(t, "chat", strings.TrimSpace(out))
	out = e.amtool(t, "config", "routes", "test", "severity=page")
	require.Equal(t, "oncall", strings.TrimSpace(out))
}

func TestAmtoolAlertAddPages(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	e.amtool(t, "alert", "add", "BrokerDown", "service=broker", "--annotation=summary=no message passes")
	require.Equal(t, []string{"BrokerDown"}, e.nextPage(t))
	out := e.amtool(t, "alert", "query", "-o", "extended")
	require.Contains(t, out, "no message passes")
	require.Contains(t, out, `service="broker"`)
}

// TestAmtoolConfigShow: amtool prints the receivers' integrations, with
// their secrets masked, and tocsin's own keys as comments.
func TestAmtoolConfigShow(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	out := e.amtool(t, "config", "show")
	require.Contains(t, out, "webhook_configs:")
	require.Contains(t, out, "url: <secret>")
	require.Contains(t, out, `target_matchers:`)
	require.Contains(t, out, "# strategy: all")
	require.NotContains(t, out, "s3cr3t")
	require.NotContains(t, out, e.vendor.APIURL())
}
