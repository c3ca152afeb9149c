package ui_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/internal/ui"
)

func TestPages(t *testing.T) {
	w := startWorld(t)
	tests := []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{"Attention", scenario.ProbeBrokerRoundTrip, scenario.ProbeWatchdog, "heartbeat_missing", "ProbeFailing", "opsgenie[0]", "<svg class=\"chart success\""}},
		{"/probes/" + scenario.ProbeWatchdog, 200, []string{"DOWN", "heartbeat_missing", "Recent failures", "ProbeFailing", "token: &lt;secret&gt;"}},
		{"/probes/" + scenario.ProbeBrokerRoundTrip, 200, []string{"UP", "No failed run since tocsin started", "ProbeFailing", "canary/ping"}},
		{"/probes/no-such-probe", 404, []string{"Not found"}},
		{"/alerts", 200, []string{"FIRING", "ProbeFailing", "Probe legacy-alerting-watchdog (heartbeat) is failing", "runbook"}},
		{"/silences", 200, []string{"Silences", "None: every alert pages.", "New silence", `name="csrf_token"`}},
		{"/receivers", 200, []string{"pagerduty[0]", "opsgenie[0]", "rejected", "DOWN"}},
		{"/rules", 200, []string{"liveness", "ProbeFailing", "probe_success == 0"}},
		{"/config", 200, []string{"broker-roundtrip", "routing_key: &lt;secret&gt;", "api_key: &lt;secret&gt;"}},
		{"/static/tocsin.css", 200, []string{"--bad"}},
		{"/nowhere", 404, []string{"Not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, w.TocsinURL+tt.path)
			require.Equal(t, tt.code, code, body)
			for _, s := range tt.want {
				require.Contains(t, body, s)
			}
		})
	}
}

func TestPagesNeverShowSecrets(t *testing.T) {
	w := startWorld(t)
	cfg := w.Pipeline.Snapshot().Config
	i := slices.IndexFunc(cfg.Receivers, func(r *configs.ReceiverConfig) bool { return r.Name == "oncall" })
	require.GreaterOrEqual(t, i, 0, "the scenario's paging receiver")
	oncall := cfg.Receivers[i]
	secrets := []string{
		string(oncall.PagerDutyConfigs[0].RoutingKey),
		string(oncall.OpsgenieConfigs[0].APIKey),
		"watchdog-token",
	}
	for _, path := range []string{"/", "/config", "/receivers", "/alerts", "/probes/" + scenario.ProbeWatchdog, "/api/v1/probes/" + scenario.ProbeWatchdog, "/api/v1/status", "/api/v1/receivers"} {
		_, body := get(t, w.TocsinURL+path)
		for _, s := range secrets {
			require.NotEmpty(t, s)
			require.NotContains(t, body, s, path)
		}
	}
}

// The links tocsin puts into pages lead to pages that answer.
func TestLinksInNotificationsResolve(t *testing.T) {
	w := startWorld(t)
	var links []string
	for _, req := range w.PagerDuty.Requests() {
		var ev struct {
			ClientURL string `json:"client_url"`
			Links     []struct {
				Href string `json:"href"`
			} `json:"links"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &ev))
		if ev.ClientURL != "" {
			links = append(links, ev.ClientURL)
		}
		for _, l := range ev.Links {
			links = append(links, l.Href)
		}
	}
	var ours int
	for _, l := range links {
		if !strings.HasPrefix(l, w.TocsinURL) {
			continue // the runbook
		}
		ours++
		code, _ := get(t, l)
		require.Equal(t, http.StatusOK, code, l)
	}
	require.GreaterOrEqual(t, ours, 2, "the page links to tocsin and to the alert's probe: %v", links)
	require.Contains(t, links, w.TocsinURL+"/probes/"+scenario.ProbeWatchdog)

	// Links in pages sent before the status pages existed still land.
	code, body := get(t, w.TocsinURL+"/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "ProbeFailing")
}

// Behind a reverse proxy, --web.external-url's path prefixes every link and
// the pages are served under the route prefix.
func TestRoutePrefix(t *testing.T) {
	w := startWorld(t)
	pages, err := ui.New(ui.Options{Source: w.Pipeline, ExternalURL: "https://ops.example/tocsin/"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	pages.Mount(mux, "/tocsin")
	srv := httptest.NewServer(mux)
	defer srv.Close()

	code, body := get(t, srv.URL+"/tocsin/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `href="/tocsin/probes/`+scenario.ProbeWatchdog+`"`)
	require.Contains(t, body, `href="/tocsin/static/tocsin.css"`)
	code, _ = get(t, srv.URL+"/tocsin/static/tocsin.css")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, srv.URL+"/tocsin/api/v1/status")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, srv.URL+"/probes/"+scenario.ProbeWatchdog)
	require.Equal(t, http.StatusNotFound, code, "nothing is served outside the route prefix")
}
