package amapi_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/internal/amapi"
)

// TestPrometheusNotifierPages sends an alert with Prometheus' own notifier,
// configured as under alerting.alertmanagers, and expects the page.
func TestPrometheusNotifierPages(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	u, err := url.Parse(e.url)
	require.NoError(t, err)
	cfg, err := promconfig.Load("alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['"+u.Host+"']\n", nil)
	require.NoError(t, err)

	n := notifier.NewManager(&notifier.Options{QueueCapacity: 100, Registerer: prometheus.NewRegistry()}, model.UTF8Validation, nil)
	require.NoError(t, n.ApplyConfig(cfg))
	tsets := make(chan map[string][]*targetgroup.Group, 1)
	tgs := map[string][]*targetgroup.Group{}
	for k := range cfg.AlertingConfig.AlertmanagerConfigs.ToMap() {
		tgs[k] = []*targetgroup.Group{{Targets: []model.LabelSet{{model.AddressLabel: model.LabelValue(u.Host)}}, Source: "0"}}
	}
	tsets <- tgs
	done := make(chan struct{})
	go func() { defer close(done); n.Run(tsets) }()
	defer func() { n.Stop(); close(tsets); <-done }()
	require.Eventually(t, func() bool { return len(n.Alertmanagers()) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, e.url+"/api/v2/alerts", n.Alertmanagers()[0].String())

	now := time.Now()
	n.Send(&notifier.Alert{
		Labels:       labels.FromStrings("alertname", "ProbeFailing", "service", "broker"),
		Annotations:  labels.FromStrings("summary", "broker round trip failing"),
		StartsAt:     now,
		EndsAt:       now.Add(4 * time.Minute), // what Prometheus sets: a few resend intervals ahead
		GeneratorURL: "http://prometheus.example/graph",
	})
	require.Equal(t, []string{"ProbeFailing"}, e.nextPage(t))
}
