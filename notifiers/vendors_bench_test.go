package notifiers_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// manualClock fires timers only when told, so that the benchmark can
// start the clock at the group flush itself.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*func()]time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &f
	c.timers[p] = c.now.Add(d)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[p]
		delete(c.timers, p)
		return ok
	}
}

// advance moves the clock by d and runs what came due (not what they schedule).
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for p, at := range c.timers {
		if !at.After(c.now) {
			due = append(due, *p)
			delete(c.timers, p)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// BenchmarkDispatchToThreeVendors sends a storm of 10,000 alerts (10
// alert names, so 10 groups) into the dispatcher and measures the time from
// the group flush to the last of PagerDuty, Slack and Opsgenie (in-process
// fakes that check each vendor's contract) accepting every group, through
// the real integrations and their templates.
//
//	go test -run '^$' -bench DispatchToThreeVendors -benchmem ./notifiers/
func BenchmarkDispatchToThreeVendors(b *testing.B) {
	const storm, names = 10000, 10
	var mu sync.Mutex
	pages := 0
	accepted := make(chan struct{}, 3*names)
	onPage := notifiertest.OnPage(func(notifiertest.Page) {
		mu.Lock()
		pages++
		mu.Unlock()
		accepted <- struct{}{}
	})
	pd := notifiertest.NewPagerDuty("R0UT1NGKEY0123456789012345678901", onPage)
	sw := notifiertest.NewSlackWebhook(onPage)
	og := notifiertest.NewOpsgenie("9f1c2b3a-0000-4000-8000-123456789abc", onPage)
	for _, s := range []*notifiertest.Server{pd, sw, og} {
		b.Cleanup(s.Close)
	}
	yml := fmt.Sprintf(`global: {replica: bench}
route: {receiver: oncall, group_by: [alertname]}
receivers:
- name: oncall
  pagerduty_configs: [{routing_key: R0UT1NGKEY0123456789012345678901, url: '%s'}]
  slack_configs: [{api_url: '%s'}]
  opsgenie_configs: [{api_key: 9f1c2b3a-0000-4000-8000-123456789abc, api_url: '%s'}]
`, pd.APIURL(), sw.APIURL(), og.APIURL())
	cfg, err := configs.Load("bench.yml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	recv, err := integrations.Build(cfg.Receivers[0], integrations.Options{ExternalURL: "http://tocsin.example:9797"})
	if err != nil {
		b.Fatal(err)
	}
	route, err := notifiers.NewRoute(cfg.Route)
	if err != nil {
		b.Fatal(err)
	}

	var flushTime time.Duration
	var heap uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clock := &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), timers: map[*func()]time.Time{}}
		d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{recv}, notifiers.Options{Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { _ = d.Run(ctx); close(stopped) }()
		alerts := make([]*model.Alert, storm)
		for i := range alerts {
			alerts[i] = &model.Alert{
				Labels: model.LabelSet{
					"alertname": model.LabelValue(fmt.Sprintf("ProbeFailing%d", i%names)), "probe": model.LabelValue(fmt.Sprintf("probe-%05d", i)),
					"service": "device-broker", "replica": "bench", "severity": "critical",
				},
				Annotations: model.LabelSet{"summary": "messages no longer pass through the broker", "runbook_url": "https://runbooks.example/broker"},
				StartsAt:    clock.Now(), EndsAt: clock.Now().Add(time.Hour),
			}
		}
		d.Send(alerts...)
		b.StartTimer()

		start := time.Now()
		clock.advance(time.Duration(configs.DefaultGroupWait)) // the flush
		for range 3 * names {
			<-accepted
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
	if pages != 3*names*b.N {
		b.Fatalf("vendors accepted %d pages, want %d", pages, 3*names*b.N)
	}
	b.ReportMetric(float64(flushTime.Microseconds())/1000/float64(b.N), "flush-to-last-accept-ms/op")
	b.ReportMetric(float64(heap)/(1<<20), "heap-inuse-MB")
}
