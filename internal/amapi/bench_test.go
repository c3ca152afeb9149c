package amapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
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

const stormAlerts, stormGroups, stormBatch = 10000, 100, 256

// BenchmarkStorm is examples/storm in one process, for profiles: 10,000
// alerts in 100 groups POSTed to the API, group_wait 1s, one webhook
// receiver with a durable state file. It reports the time from the first
// POST to the last notification less group_wait.
//
//	go test -run '^$' -bench 'Storm$' -benchtime 3x -cpuprofile cpu.out ./internal/amapi/
func BenchmarkStorm(b *testing.B) {
	bodies := stormBodies(nil)
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
			if len(seen) == stormAlerts {
				close(done)
			}
		}))
		s := startStormDispatcher(b, hook.URL, time.Second)
		api := httptest.NewServer(amapi.New(amapi.Options{Alerts: dispatcherAlerts{s.disp}, Silences: s.silences}))
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
		s.stop(b)
		hook.Close()
		b.StartTimer()
	}
}

// BenchmarkStormIngest takes examples/storm's alerts in (with the
// annotation and generator URL it sends) through the API into a
// dispatcher with its state file, with a group_wait that sends nothing,
// and reports the heap each alert keeps live once the state file's writes
// are done, and what taking it in allocated. The dispatcher holds every
// alert until it resolves, and the heap's peak in a storm follows what is
// live.
//
//	go test -run '^$' -bench StormIngest -benchtime 3x ./internal/amapi/
func BenchmarkStormIngest(b *testing.B) {
	bodies := stormBodies(map[string]any{
		"annotations":  map[string]string{"summary": "a storm of alerts"},
		"generatorURL": "http://prometheus.example/graph",
	})
	var live, allocated uint64
	for b.Loop() {
		b.StopTimer()
		s := startStormDispatcher(b, "http://127.0.0.1:1/", time.Hour)
		api := amapi.New(amapi.Options{Alerts: dispatcherAlerts{s.disp}, Silences: s.silences})
		before := heapAfterGC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		total := ms.TotalAlloc
		b.StartTimer()

		for _, body := range bodies {
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v2/alerts", bytes.NewReader(body)))
			require.Equal(b, http.StatusOK, rec.Code)
		}

		b.StopTimer()
		runtime.ReadMemStats(&ms)
		allocated += ms.TotalAlloc - total
		require.NoError(b, s.state.Close()) // waits for the queued writes
		live += heapAfterGC() - before
		require.Len(b, s.disp.AlertGroups(), stormGroups)
		s.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(live)/float64(b.N*stormAlerts), "live-B/alert")
	b.ReportMetric(float64(allocated)/float64(b.N*stormAlerts), "alloc-B/alert")
}

// stormBodies returns the storm's POST bodies: 10,000 alerts in 100
// groups, 256 per request, each with the fields of extra.
func stormBodies(extra map[string]any) [][]byte {
	bodies := make([][]byte, 0, stormAlerts/stormBatch+1)
	var batch []map[string]any
	for i := range stormAlerts {
		a := map[string]any{"labels": map[string]string{
			"alertname": "StormAlert", "group": fmt.Sprintf("g%03d", i%stormGroups), "instance": fmt.Sprintf("host-%05d", i)}}
		for k, v := range extra {
			a[k] = v
		}
		batch = append(batch, a)
		if len(batch) == stormBatch || i == stormAlerts-1 {
			body, _ := json.Marshal(batch)
			bodies = append(bodies, body)
			batch = nil
		}
	}
	return bodies
}

// stormDispatcher is a running dispatcher with the storm's route, one
// webhook receiver and its state file.
type stormDispatcher struct {
	disp     *notifiers.Dispatcher
	state    *notifiers.State
	silences *silences.Store
	cancel   context.CancelFunc
	stopped  chan struct{}
}

func startStormDispatcher(b *testing.B, hookURL string, groupWait time.Duration) *stormDispatcher {
	b.Helper()
	wait, interval, repeat := model.Duration(groupWait), model.Duration(5*time.Minute), model.Duration(4*time.Hour)
	route, err := notifiers.NewRoute(&configs.Route{Receiver: "hook", GroupBy: []model.LabelName{"group"},
		GroupWait: &wait, GroupInterval: &interval, RepeatInterval: &repeat})
	require.NoError(b, err)
	recv, err := integrations.Build(&configs.ReceiverConfig{Name: "hook", Strategy: configs.StrategyAll,
		WebhookConfigs: []*configs.WebhookConfig{{URL: config.Secret(hookURL)}}}, integrations.Options{})
	require.NoError(b, err)
	dir := b.TempDir()
	s := &stormDispatcher{stopped: make(chan struct{})}
	s.state, err = notifiers.OpenState(dir, 0)
	require.NoError(b, err)
	s.silences = silences.New(silences.Options{Registerer: prometheus.NewRegistry()})
	require.NoError(b, s.silences.Open(dir))
	s.disp, err = notifiers.NewDispatcher(route, []*notifiers.Receiver{recv}, notifiers.Options{State: s.state, Silences: s.silences})
	require.NoError(b, err)
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(b.Context())
	go func() { defer close(s.stopped); _ = s.disp.Run(ctx) }()
	return s
}

func (s *stormDispatcher) stop(b *testing.B) {
	s.cancel()
	<-s.stopped
	require.NoError(b, s.state.Close())
}

// heapAfterGC is the live heap: collected twice, so that what sync.Pools
// held at the first collection is gone too.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
