package amapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/amapi"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
)

// BenchmarkStorm is examples/storm in one process, for profiles: 10,000
// alerts in 100 groups POSTed to the API, group_wait 1s, one webhook
// receiver with a durable state file. It reports the time from the first
// POST to the last notification less group_wait.
//
//	go test -run '^$' -bench Storm -benchtime 3x -cpuprofile cpu.out ./internal/amapi/
func BenchmarkStorm(b *testing.B) {
	const alerts, groups, batch = 10000, 100, 256
	for b.Loop() {
		b.StopTimer()
		var mu sync.Mutex
		seen := map[string]bool{}
		var last time.Time
		done := make(chan struct{})
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Decodes only what it counts, as examples/storm's receiver.
			var msg struct {
				Alerts []struct {
					Labels struct{ Instance string }
				}
			}
			_ = json.NewDecoder(r.Body).Decode(&msg)
			mu.Lock()
			defer mu.Unlock()
			for _, a := range msg.Alerts {
				seen[a.Labels.Instance] = true
			}
			last = time.Now()
			if len(seen) == alerts {
				close(done)
			}
		}))
		wait, interval, repeat := model.Duration(time.Second), model.Duration(5*time.Minute), model.Duration(4*time.Hour)
		route, err := notifiers.NewRoute(&configs.Route{Receiver: "hook", GroupBy: []model.LabelName{"group"},
			GroupWait: &wait, GroupInterval: &interval, RepeatInterval: &repeat})
		require.NoError(b, err)
		recv, err := integrations.Build(&configs.ReceiverConfig{Name: "hook", Strategy: configs.StrategyAll,
			WebhookConfigs: []*configs.WebhookConfig{{URL: config.Secret(hook.URL)}}}, integrations.Options{})
		require.NoError(b, err)
		dir := b.TempDir()
		state, err := notifiers.OpenState(dir, 0)
		require.NoError(b, err)
		sils := silences.New(silences.Options{Registerer: prometheus.NewRegistry()})
		require.NoError(b, sils.Open(dir))
		disp, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{recv}, notifiers.Options{State: state, Silences: sils})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(b.Context())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = disp.Run(ctx) }()
		api := httptest.NewServer(amapi.New(amapi.Options{Alerts: dispatcherAlerts{disp}, Silences: sils}))
		bodies := make([][]byte, 0, alerts/batch+1)
		var pa []map[string]any
		for i := range alerts {
			pa = append(pa, map[string]any{"labels": map[string]string{
				"alertname": "StormAlert", "group": fmt.Sprintf("g%03d", i%groups), "instance": fmt.Sprintf("host-%05d", i)}})
			if len(pa) == batch || i == alerts-1 {
				body, _ := json.Marshal(pa)
				bodies = append(bodies, body)
				pa = nil
			}
		}
		b.StartTimer()

		start := time.Now()
		for _, body := range bodies {
			resp, err := http.Post(api.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
			require.NoError(b, err)
			require.Equal(b, 200, resp.StatusCode)
			resp.Body.Close()
		}
		<-done
		mu.Lock()
		b.ReportMetric(float64(last.Sub(start)-time.Second)/1e6, "ms-after-group_wait")
		mu.Unlock()

		b.StopTimer()
		api.Close()
		cancel()
		<-stopped
		hook.Close()
		require.NoError(b, state.Close())
		b.StartTimer()
	}
}
