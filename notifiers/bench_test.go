package notifiers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// BenchmarkFullPayloadToThreeVendors is the worst case of the storm: three
// HTTP receivers that each get every one of the 10,000 alerts as JSON (as
// a webhook without max_alerts does) and decode all of it, on the same
// cores as the dispatcher.
//
//	go test -run '^$' -bench FullPayloadToThreeVendors -benchmem ./notifiers/
func BenchmarkFullPayloadToThreeVendors(b *testing.B) {
	const storm, names = 10000, 10
	var vendors []Integration
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var n Notification
			if err := json.NewDecoder(r.Body).Decode(&n); err != nil || len(n.Alerts) == 0 {
				http.Error(w, "bad payload", http.StatusBadRequest)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}))
		b.Cleanup(srv.Close)
		vendors = append(vendors, Integration{Name: fmt.Sprintf("vendor%d", i), Notifier: hookNotifier{srv.URL + "/hook"}, SendResolved: true})
	}
	w, gi, ri := model.Duration(30*time.Second), model.Duration(5*time.Minute), model.Duration(4*time.Hour)
	route, err := NewRoute(&configs.Route{Receiver: "oncall", GroupBy: []model.LabelName{"alertname"}, GroupWait: &w, GroupInterval: &gi, RepeatInterval: &ri})
	if err != nil {
		b.Fatal(err)
	}
	var sendTime, flushTime time.Duration
	var heap uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clock := newFakeClock()
		done := make(chan bool, names)
		d, err := NewDispatcher(route, []*Receiver{{Name: "oncall", Strategy: configs.StrategyAll, Integrations: vendors}},
			Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		d.onFlushDone = func(_ string, ok bool) { done <- ok }
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { _ = d.Run(ctx); close(stopped) }()
		now := clock.Now()
		alerts := make([]*model.Alert, storm)
		for i := range alerts {
			alerts[i] = &model.Alert{
				Labels: model.LabelSet{
					"alertname": model.LabelValue(fmt.Sprintf("ProbeFailing%d", i%names)), "probe": model.LabelValue(fmt.Sprintf("probe-%d", i)),
					"service": "device-broker", "replica": "eu-1", "severity": "critical",
				},
				Annotations: model.LabelSet{"summary": "Probe failing", "runbook_url": "https://runbooks.example/probe-failing"},
				StartsAt:    now, EndsAt: now.Add(time.Hour),
			}
		}
		b.StartTimer()

		start := time.Now()
		d.Send(alerts...)
		sendTime += time.Since(start)
		start = time.Now()
		clock.Advance(30 * time.Second) // the flush
		for range names {
			if !<-done {
				b.Fatal("a vendor did not accept")
			}
		}
		flushTime += time.Since(start)

		b.StopTimer()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		cancel()
		<-stopped
		b.StartTimer()
	}
	b.ReportMetric(float64(sendTime.Milliseconds())/float64(b.N), "send-ms/op")
	b.ReportMetric(float64(flushTime.Microseconds())/1000/float64(b.N), "flush-to-last-accept-ms/op")
	b.ReportMetric(float64(heap)/(1<<20), "heap-inuse-MB")
}
