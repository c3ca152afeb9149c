package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/rules"
)

const rollbackRules = `groups:
- name: probes
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
    for: 1h
`

// rollbackConfig has one TCP probe and, when withRoute, a webhook receiver
// that is never called: nothing here runs, only Apply.
func rollbackConfig(t *testing.T, dir string, withRoute bool) *configs.Config {
	t.Helper()
	y := "global: {replica: r1}\nrule_files: [rules.yml]\nprobes:\n- name: port\n  tcp: {address: '127.0.0.1:1'}\n"
	if withRoute {
		y += "route: {receiver: team}\nreceivers:\n- name: team\n  webhook_configs: [{url: 'http://127.0.0.1:1/'}]\n"
	}
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(y), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	return cfg
}

// TestRefusedReloadRestoresTheRulesFromMemory: a reload changes the rule
// file and the probes or the route; the rules are swapped first, then the
// scheduler or the dispatcher refuses its part. The rules in force before
// come back as they were, with the pending alert's state, although the
// file on disk now holds the new content.
func TestRefusedReloadRestoresTheRulesFromMemory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		withRoute bool
		breakCfg  func(*configs.Config)
		wantErr   string
	}{
		{
			name:     "scheduler refuses",
			breakCfg: func(c *configs.Config) { c.Probes[0].TCP.Expect = "(" },
			wantErr:  "probes:",
		},
		{
			name:      "dispatcher refuses",
			withRoute: true,
			breakCfg:  func(c *configs.Config) { c.Route.Receiver = "nobody" },
			wantErr:   `unknown receiver "nobody"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ruleFile := filepath.Join(dir, "rules.yml")
			require.NoError(t, os.WriteFile(ruleFile, []byte(rollbackRules), 0o600))
			p := New(Settings{StoragePath: filepath.Join(dir, "data")}, promslog.NewNopLogger())
			require.NoError(t, p.Apply(t.Context(), rollbackConfig(t, dir, tc.withRoute)))
			defer func() { require.NoError(t, p.recorder.Close()) }()

			// A failing probe starts the hour of `for`.
			series := labels.FromStrings("__name__", "probe_success", "probe", "port", "kind", "tcp", "replica", "r1")
			require.NoError(t, p.recorder.Record(time.Now(), []rules.Sample{{Labels: series, Value: 0}}))
			p.evaluator.EvaluateAll(t.Context())
			before := pendingAlert(t, p)

			// The edit: a new rule file, and a config a later part refuses.
			require.NoError(t, os.WriteFile(ruleFile, []byte(
				"groups:\n- name: probes\n  rules:\n  - alert: ProbeFailing\n    expr: probe_success == 0\n    for: 1m\n"), 0o600))
			next := rollbackConfig(t, dir, tc.withRoute)
			tc.breakCfg(next)
			require.ErrorContains(t, p.Apply(t.Context(), next), tc.wantErr)

			groups := p.evaluator.Groups()
			require.Len(t, groups, 1)
			rule := groups[0].AlertingRules()[0]
			require.Equal(t, time.Hour, rule.HoldDuration(), "the rules in force before, not the file's new content")
			after := pendingAlert(t, p)
			require.Equal(t, before.ActiveAt, after.ActiveAt, "the pending alert keeps its time")
			require.Equal(t, promrules.StatePending, after.State)
		})
	}
}

// pendingAlert returns the one active alert of the rules in force.
func pendingAlert(t *testing.T, p *Pipeline) promrules.Alert {
	t.Helper()
	var out []promrules.Alert
	for _, g := range p.evaluator.Groups() {
		for _, r := range g.AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				out = append(out, *a)
			}
		}
	}
	require.Len(t, out, 1)
	return out[0]
}
