package ui_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/internal/api"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

// waitLimit bounds every wait for a state; states normally come within a
// few probe intervals, the bound only keeps a broken pipeline from hanging.
const waitLimit = 30 * time.Second

// fastRules page on the first failed run.
const fastRules = `groups:
- name: liveness
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
    for: 0s
    labels: {severity: page}
    annotations:
      summary: 'Probe {{ $labels.probe }} ({{ $labels.kind }}) is failing'
      runbook_url: 'https://runbooks.example/probe-failing'
  - alert: ProbeSlow
    expr: probe_duration_seconds > 30
    for: 1m
    labels: {severity: ticket}
`

// world is a running particle scenario (device cloud, fake vendors, a real
// tocsin with its pages) in a known bad state: the legacy watchdog sends no
// heartbeat, so its probe is down and ProbeFailing fires; Opsgenie refuses
// every alert, so its integration is down with Opsgenie's reason.
type world struct {
	*scenario.Scenario
	changed chan struct{}
}

func startWorld(t *testing.T) *world {
	t.Helper()
	w := launch(t, 500*time.Millisecond)
	w.Opsgenie.SetMode(notifiertest.Reject)
	w.until(t, "every probe to report, the watchdog alert to fire and Opsgenie to be marked down", func(st api.Status) bool {
		return st.Summary.ProbesUnknown == 0 && st.Summary.AlertsFiring > 0 && st.Summary.IntegrationsDown > 0 &&
			len(w.PagerDuty.Pages()) > 0
	})
	return w
}

// startHealthyWorld is the scenario with every probe up and no alert.
func startHealthyWorld(t *testing.T) *world {
	t.Helper()
	return waitHealthy(t, launch(t, 0))
}

// waitHealthy waits until every probe of w has succeeded.
func waitHealthy(t *testing.T, w *world) *world {
	t.Helper()
	w.until(t, "every probe to report success", func(st api.Status) bool {
		return st.Summary.ProbesUp == st.Summary.Probes
	})
	return w
}

// launch starts the scenario, with a watchdog probe when grace is set;
// tune changes its options before it starts.
func launch(t *testing.T, grace time.Duration, tune ...func(*world, *scenario.Options)) *world {
	t.Helper()
	w := &world{changed: make(chan struct{}, 1)}
	poke := w.poke
	opts := scenario.Options{
		Dir:      t.TempDir(),
		Interval: 250 * time.Millisecond, Timeout: 200 * time.Millisecond,
		Rules:         fastRules,
		Watchdog:      grace,
		GroupInterval: time.Second,
		OnResult:      func(probes.Result) { poke() },
		OnPage:        func(notifiertest.Page) { poke() },
	}
	for _, f := range tune {
		f(w, &opts)
	}
	s, err := scenario.Start(opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	w.Scenario = s
	return w
}

// poke wakes up a wait: something that it may wait for has happened.
func (w *world) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// until waits for cond to hold on tocsin's status, re-checking after each
// probe result and page.
func (w *world) until(t *testing.T, what string, cond func(api.Status) bool) api.Status {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		st := api.NewStatus(w.Pipeline.Snapshot(), time.Now())
		if cond(st) {
			return st
		}
		select {
		case <-w.changed:
		case <-limit.C:
			t.Fatalf("waited %s for %s; status: %+v", waitLimit, what, st.Summary)
		}
	}
}

// get fetches a URL and returns its status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
