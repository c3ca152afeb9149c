package api_test

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/api"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/probes"
)

func TestRedactHidesPasswordsInURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"url: mqtt://canary:hunter2@broker:1883\n", "url: mqtt://canary:<secret>@broker:1883\n"},
		{"url: 'nats://u:p%40ss@nats:4222/x'\n", "url: 'nats://u:<secret>@nats:4222/x'\n"},
		{"url: https://user@example.com/\n", "url: https://user@example.com/\n"},
		{"url: tcp://broker:1883\n", "url: tcp://broker:1883\n"},
		{"password: <secret>\n", "password: <secret>\n"},
		{"https://api.example/healthz?token=abc&verbose=1", "https://api.example/healthz?token=<secret>&verbose=1"},
		{"https://x.example/invoke?api-version=1&sp=%2Ftriggers&sig=AbC", "https://x.example/invoke?api-version=1&sp=%2Ftriggers&sig=<secret>"},
		{"https://x.example/?q=1#frag", "https://x.example/?q=1#frag"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, api.Redact(tt.in), tt.in)
	}
}

func TestRedactedYAMLHidesCredentialsInPlainStrings(t *testing.T) {
	pc := &configs.ProbeConfig{
		Name: "api",
		HTTP: &configs.HTTPProbe{
			URL:         "https://user:pa55@api.example/healthz?access_token=t0k3n",
			Headers:     map[string]string{"Authorization": "Basic c2VjcmV0", "X-Api-Key": "k3y", "Accept": "application/json"},
			BearerToken: "b34r3r",
		},
	}
	out := api.RedactedYAML(pc)
	for _, secret := range []string{"pa55", "t0k3n", "c2VjcmV0", "k3y", "b34r3r"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "Accept: application/json")
	require.Contains(t, out, "url: https://user:<secret>@api.example/healthz?access_token=<secret>")
}

func TestByAttentionPutsFailingProbesFirst(t *testing.T) {
	ps := []api.Probe{
		{Name: "a", State: api.StateUp},
		{Name: "b", State: api.StateDown},
		{Name: "c", State: api.StateUnknown},
		{Name: "d", State: api.StateStale},
		{Name: "e", State: api.StateDown},
	}
	var names []string
	for _, p := range api.ByAttention(ps) {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"b", "e", "d", "c", "a"}, names)
	require.Equal(t, "a", ps[0].Name, "the caller's slice is left alone")
}

func TestProbeStates(t *testing.T) {
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	cfg := &configs.Config{Probes: []*configs.ProbeConfig{{
		Name: "broker", Interval: model.Duration(10 * time.Second), TCP: &configs.TCPProbe{Address: "broker:1883"},
	}}}
	tests := []struct {
		name    string
		result  *probes.Result
		want    string
		summary api.Summary
	}{
		{"no run yet", nil, api.StateUnknown, api.Summary{Probes: 1, ProbesUnknown: 1}},
		{"last run succeeded", &probes.Result{Time: now.Add(-5 * time.Second), Success: true}, api.StateUp, api.Summary{Probes: 1, ProbesUp: 1}},
		{"last run failed", &probes.Result{Time: now.Add(-5 * time.Second), Reason: probes.ReasonLost}, api.StateDown, api.Summary{Probes: 1, ProbesDown: 1}},
		{"two intervals without a run is not yet stale", &probes.Result{Time: now.Add(-20 * time.Second), Success: true}, api.StateUp, api.Summary{Probes: 1, ProbesUp: 1}},
		{"no run for over three intervals", &probes.Result{Time: now.Add(-31 * time.Second), Success: true}, api.StateStale, api.Summary{Probes: 1, ProbesStale: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := pipeline.Snapshot{Config: cfg, Latest: map[string]probes.Result{}}
			if tt.result != nil {
				r := *tt.result
				r.Probe = "broker"
				snap.Latest["broker"] = r
			}
			st := api.NewStatus(snap, now)
			require.Equal(t, tt.want, st.Probes[0].State)
			require.Equal(t, tt.summary, st.Summary)
		})
	}
}
