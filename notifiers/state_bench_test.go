package notifiers

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// BenchmarkNotificationState compares the state kept in memory with every
// change synced to the state file: one group paging one instant vendor
// (the latency of a page), and 200 groups at once (notifications per
// second); the benchmark waits until every delivery is recorded.
//
//	go test -run '^$' -bench NotificationState -benchtime 20x ./notifiers/
func BenchmarkNotificationState(b *testing.B) {
	for _, bc := range []struct {
		groups  int
		durable bool
	}{{1, false}, {1, true}, {200, false}, {200, true}} {
		name := fmt.Sprintf("groups=%d/memory", bc.groups)
		if bc.durable {
			name = fmt.Sprintf("groups=%d/synced", bc.groups)
		}
		groups, durable := bc.groups, bc.durable
		b.Run(name, func(b *testing.B) {
			route, err := NewRoute(routeCfg("oncall", []model.LabelName{"probe"}, 0, time.Minute, time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				opts := Options{Clock: newFakeClock(), Logger: slog.New(slog.DiscardHandler)}
				if durable {
					s, err := OpenState(b.TempDir(), 0)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					opts.State = s
				}
				vendor := newRecorder()
				d, err := NewDispatcher(route, []*Receiver{{Name: "oncall", Strategy: configs.StrategyAll,
					Integrations: []Integration{{Name: "hook", Notifier: vendor, SendResolved: true}}}}, opts)
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan bool, groups)
				d.onFlushDone = func(_ string, ok bool) { done <- ok }
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				go func() { _ = d.Run(ctx); close(stopped) }()
				now := opts.Clock.Now()
				alerts := make([]*model.Alert, groups)
				for i := range alerts {
					alerts[i] = &model.Alert{Labels: model.LabelSet{"alertname": "ProbeFailing", "probe": model.LabelValue(fmt.Sprint("p", i))}, StartsAt: now, EndsAt: now.Add(time.Hour)}
				}
				b.StartTimer()
				start := time.Now()
				d.Send(alerts...)
				for range groups {
					if !<-done {
						b.Fatal("a delivery failed")
					}
				}
				elapsed += time.Since(start)
				b.StopTimer()
				cancel()
				<-stopped
			}
			b.ReportMetric(float64(groups*b.N)/elapsed.Seconds(), "notifications/s")
		})
	}
}
