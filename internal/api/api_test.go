package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/internal/api"
	"github.com/tocsin-alerting/tocsin/probes"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, scenario.IgnoredLeaks()...)
}

// startScenario runs the particle scenario with a watchdog that never
// beats, and returns once every probe has reported twice and the
// watchdog's probe has failed.
func startScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	results := make(chan probes.Result, 64)
	s, err := scenario.Start(scenario.Options{
		Dir:      t.TempDir(),
		Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond,
		Watchdog: 300 * time.Millisecond,
		OnResult: func(r probes.Result) {
			select {
			case results <- r:
			default:
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	seen := map[string]int{}
	watchdogDown := false
	limit := time.After(30 * time.Second)
	for len(seen) < 5 || minCount(seen) < 2 || !watchdogDown {
		select {
		case r := <-results:
			seen[r.Probe]++
			if r.Probe == scenario.ProbeWatchdog {
				watchdogDown = !r.Success
			}
		case <-limit:
			t.Fatalf("probes did not all report: %v", seen)
		}
	}
	return s
}

func minCount(m map[string]int) int {
	n := -1
	for _, c := range m {
		if n < 0 || c < n {
			n = c
		}
	}
	return n
}

// getData fetches a tocsin API endpoint and decodes its data into v.
func getData(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	if resp.StatusCode == http.StatusOK {
		require.Equal(t, "success", env.Status)
		require.NoError(t, json.Unmarshal(env.Data, v))
	} else {
		require.Equal(t, "error", env.Status)
		require.NotEmpty(t, env.ErrorType)
		require.NotEmpty(t, env.Error)
	}
	return resp.StatusCode
}

func TestTocsinEndpoints(t *testing.T) {
	s := startScenario(t)
	base := s.TocsinURL + "/api/v1"

	var st api.Status
	require.Equal(t, http.StatusOK, getData(t, base+"/status", &st))
	require.Equal(t, "demo-1", st.Replica)
	require.Equal(t, 5, st.Summary.Probes)
	states := map[string]string{}
	for _, p := range st.Probes {
		states[p.Name] = p.State
	}
	require.Equal(t, api.StateUp, states[scenario.ProbeBrokerRoundTrip])
	require.Equal(t, api.StateDown, states[scenario.ProbeWatchdog])
	require.Len(t, st.Integrations, 3)

	var ps []api.Probe
	require.Equal(t, http.StatusOK, getData(t, base+"/probes", &ps))
	require.Len(t, ps, 5)

	var d api.ProbeDetail
	require.Equal(t, http.StatusOK, getData(t, base+"/probes/"+scenario.ProbeWatchdog, &d))
	require.Equal(t, "heartbeat_missing", d.Reason)
	require.NotEmpty(t, d.RecentFailures)
	require.Equal(t, "heartbeat_missing", d.RecentFailures[0].Reason)
	require.NotEmpty(t, d.Rules, "the shipped pack reads every probe")
	require.Contains(t, d.Config, "token: <secret>")
	require.NotContains(t, d.Config, "watchdog-token")

	require.Equal(t, http.StatusNotFound, getData(t, base+"/probes/nope", &d))

	var rules struct {
		Groups []api.RuleGroup `json:"groups"`
	}
	require.Equal(t, http.StatusOK, getData(t, base+"/rules", &rules))
	require.NotEmpty(t, rules.Groups)
	require.NotEmpty(t, rules.Groups[0].Rules)

	var recv api.Receivers
	require.Equal(t, http.StatusOK, getData(t, base+"/receivers", &recv))
	require.Len(t, recv.Integrations, 3)

	var alerts struct {
		Alerts []api.Alert `json:"alerts"`
	}
	require.Equal(t, http.StatusOK, getData(t, base+"/alerts", &alerts))
}

// Grafana and other Prometheus clients read the local TSDB through
// Prometheus' own client library.
func TestPrometheusQueryAPI(t *testing.T) {
	s := startScenario(t)
	client, err := promapi.NewClient(promapi.Config{Address: s.TocsinURL})
	require.NoError(t, err)
	prom := promv1.NewAPI(client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()

	v, _, _, err := prom.Query(ctx, `probe_success`, now)
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "an instant query answers a vector, got %s", v.Type())
	byProbe := map[string]model.SampleValue{}
	for _, smp := range vec {
		byProbe[string(smp.Metric["probe"])] = smp.Value
	}
	require.Equal(t, model.SampleValue(1), byProbe[scenario.ProbeBrokerRoundTrip])
	require.Equal(t, model.SampleValue(0), byProbe[scenario.ProbeWatchdog])

	v, _, _, err = prom.QueryRange(ctx, `probe_duration_seconds{probe="front-door"}`, promv1.Range{Start: now.Add(-time.Minute), End: now, Step: time.Second})
	require.NoError(t, err)
	m, ok := v.(model.Matrix)
	require.True(t, ok)
	require.Len(t, m, 1)
	require.NotEmpty(t, m[0].Values)

	v, _, _, err = prom.Query(ctx, `scalar(count(probe_success))`, now)
	require.NoError(t, err)
	require.Equal(t, model.ValScalar, v.Type())

	series, _, _, err := prom.Series(ctx, []string{`probe_success`}, now.Add(-time.Hour), now)
	require.NoError(t, err)
	require.Len(t, series, 5)

	names, _, _, err := prom.LabelNames(ctx, nil, now.Add(-time.Hour), now)
	require.NoError(t, err)
	require.Subset(t, names, model.LabelNames{"__name__", "probe", "kind", "replica"})

	values, _, _, err := prom.LabelValues(ctx, "probe", []string{`probe_success`}, now.Add(-time.Hour), now)
	require.NoError(t, err)
	require.Len(t, values, 5)

	_, _, _, err = prom.Query(ctx, `probe_success{`, now)
	var perr *promv1.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, promv1.ErrBadData, perr.Type)

	_, _, _, err = prom.QueryRange(ctx, `probe_success`, promv1.Range{Start: now, End: now.Add(-time.Minute), Step: time.Second})
	require.ErrorAs(t, err, &perr)
	require.Equal(t, promv1.ErrBadData, perr.Type)

	_, err = prom.Buildinfo(ctx)
	require.NoError(t, err)

	// Grafana lists a data source's rules and alerts with these two.
	rules, err := prom.Rules(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, rules.Groups)
	var failing *promv1.AlertingRule
	for _, g := range rules.Groups {
		require.Positive(t, g.Interval)
		for _, r := range g.Rules {
			if ar, ok := r.(promv1.AlertingRule); ok && ar.Name == "ProbeFailing" {
				failing = &ar
			}
		}
	}
	require.NotNil(t, failing, "the shipped pack's ProbeFailing rule")
	require.Equal(t, promv1.RuleHealth(promv1.RuleHealthGood), failing.Health)
	require.Equal(t, 15.0, failing.Duration, "for: 15s")

	alerts, err := prom.Alerts(ctx)
	require.NoError(t, err)
	for _, a := range alerts.Alerts {
		require.Contains(t, []promv1.AlertState{promv1.AlertStateFiring, promv1.AlertStatePending}, a.State)
	}
}
