// Command particle replays the 2018 device-broker incident against a real
// tocsin: a device cloud runs in this process, tocsin probes it end to end,
// then the broker stops relaying while its front door stays green and the
// primary paging vendor fails. The demo prints each page as a vendor
// accepts it, with the time since the break, and the resolve after healing.
//
//	go run ./examples/particle          (or: make demo)
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

// Phases of the demo.
const (
	healthyFor  = 6 * time.Second
	outageLimit = 90 * time.Second // give up waiting for pages after this
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo prints what happens, with times relative to its start.
type demo struct {
	out   io.Writer
	start time.Time

	mu       sync.Mutex
	breakAt  time.Time
	healAt   time.Time
	state    map[string]bool // probe → last success
	pages    chan notifiertest.Page
	firstBy  map[string]time.Duration // vendor → time from break to its first page
	resolves map[string]time.Duration // vendor → time from heal to its first resolve
	titles   map[string]string        // vendor key → title of the firing page
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// onResult prints a probe's state when it changes.
func (d *demo) onResult(r probes.Result) {
	d.mu.Lock()
	prev, seen := d.state[r.Probe]
	d.state[r.Probe] = r.Success
	d.mu.Unlock()
	if seen && prev == r.Success {
		return
	}
	switch {
	case r.Success && r.RoundTrip > 0:
		d.say("probe %-22s ok       message came back in %s", r.Probe, r.RoundTrip.Round(10*time.Microsecond))
	case r.Success:
		d.say("probe %-22s ok       answered in %s", r.Probe, r.Duration.Round(10*time.Microsecond))
	default:
		d.say("probe %-22s FAILING  reason: %s", r.Probe, r.Reason)
	}
}

func (d *demo) onPage(p notifiertest.Page) { d.pages <- p }

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "tocsin-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	d := &demo{out: out, start: time.Now(), state: map[string]bool{}, pages: make(chan notifiertest.Page, 256),
		firstBy: map[string]time.Duration{}, resolves: map[string]time.Duration{}, titles: map[string]string{}}
	fmt.Fprintln(out, "tocsin demo: the 2018 device-broker incident, replayed in one process.")
	fmt.Fprintln(out, "In 2018 the broker's host died; devices still connected and port checks stayed green, but no")
	fmt.Fprintln(out, "message passed. The only alerting ran through one hosted provider, which had silently stopped")
	fmt.Fprintln(out, "working: nobody was paged for 33 minutes. Here tocsin watches the same kind of device cloud.")
	fmt.Fprintln(out)

	s, err := scenario.Start(scenario.Options{
		Dir:      dir,
		Logger:   demoLogger(),
		OnPage:   d.onPage,
		OnResult: d.onResult,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	d.say("device cloud up: MQTT broker %s, front door %s", s.Cloud.MQTTURL(), s.Cloud.HTTPURL())
	d.say("tocsin up at %s: 4 end-to-end probes every 1s, the shipped liveness rules,", s.TocsinURL)
	d.say("  receiver \"oncall\" pages PagerDuty (primary), Opsgenie and Slack at once")

	devCtx, stopDevices := context.WithCancel(ctx)
	defer stopDevices()
	var devices sync.WaitGroup
	for _, id := range []string{"e00fce68a1b2", "e00fce68c3d4"} {
		devices.Go(func() { _ = devicecloud.Device{ID: id, Interval: time.Second}.Run(devCtx, s.Cloud.MQTTURL()) })
	}
	defer devices.Wait()
	defer stopDevices()

	if !wait(ctx, healthyFor) {
		return nil
	}
	d.mu.Lock()
	d.breakAt = time.Now()
	d.mu.Unlock()
	s.Cloud.BreakRelay()
	s.PagerDuty.SetMode(notifiertest.Fail)
	fmt.Fprintln(out)
	d.say("BREAK: the broker stops relaying. Devices still connect and get their acks; no message passes.")
	d.say("       PagerDuty, the primary vendor, starts failing with HTTP 500.")
	d.say("       front door check: %s", frontDoor(s.Cloud.HTTPURL()))

	// Wait for pages from at least two vendors about the broken broker.
	if !d.collect(ctx, func() bool { return len(d.firstBy) >= 2 }) {
		return nil
	}
	// Keep PagerDuty down a little longer: tocsin notices and says so
	// through the vendors that still work.
	if !d.collectFor(ctx, 6*time.Second) {
		return nil
	}
	d.say("PagerDuty recovers; tocsin's retries deliver what it missed.")
	s.PagerDuty.SetMode(notifiertest.Accept)
	if !d.collect(ctx, func() bool { _, ok := d.firstBy["pagerduty"]; return ok }) {
		return nil
	}

	fmt.Fprintln(out)
	d.mu.Lock()
	d.healAt = time.Now()
	d.mu.Unlock()
	s.Cloud.HealRelay()
	d.say("HEAL: the broker is redeployed; messages flow again.")
	if !d.collect(ctx, func() bool { return len(d.resolves) >= 3 }) {
		return nil
	}
	// Let the last resolves of the other groups arrive before the summary.
	if !d.collectFor(ctx, 3*time.Second) {
		return nil
	}
	d.summary()
	return nil
}

// collectFor prints pages for a while; it returns false when ctx ended.
func (d *demo) collectFor(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case p := <-d.pages:
			d.printPage(p)
		}
	}
}

// collect prints pages until done reports true (checked under d.mu), the
// outage limit passes, or ctx ends. It returns false when the demo should stop.
func (d *demo) collect(ctx context.Context, done func() bool) bool {
	limit := time.NewTimer(outageLimit)
	defer limit.Stop()
	for {
		d.mu.Lock()
		finished := done()
		d.mu.Unlock()
		if finished {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-limit.C:
			d.say("gave up waiting after %s", outageLimit)
			return false
		case p := <-d.pages:
			d.printPage(p)
		}
	}
}

func (d *demo) printPage(p notifiertest.Page) {
	d.mu.Lock()
	title := oneLine(p.Title)
	if p.Key != "" {
		if t, ok := d.titles[p.Key]; ok && (title == "" || p.Resolved) {
			title = "[RESOLVED] " + strings.TrimPrefix(t, "[FIRING:1] ")
		} else if !p.Resolved {
			d.titles[p.Key] = title
		}
	}
	about := isProbeAlert(title)
	var when string
	if p.Resolved && !d.healAt.IsZero() {
		since := time.Since(d.healAt)
		when = fmt.Sprintf("%+5.1fs after healing", since.Seconds())
		if _, ok := d.resolves[p.Vendor]; !ok && about {
			d.resolves[p.Vendor] = since
		}
	} else {
		since := time.Since(d.breakAt)
		when = fmt.Sprintf("%+5.1fs after the break", since.Seconds())
		if _, ok := d.firstBy[p.Vendor]; !ok && about && !p.Resolved {
			d.firstBy[p.Vendor] = since
		}
	}
	d.mu.Unlock()
	kind := "PAGE    "
	if p.Resolved {
		kind = "RESOLVED"
	}
	d.say("%s via %-9s %s: %s", kind, p.Vendor, when, title)
}

// isProbeAlert tells pages about the broker from tocsin's own NotifierFailing.
func isProbeAlert(title string) bool {
	return strings.Contains(title, "Probe")
}

func (d *demo) summary() {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "Summary")
	fmt.Fprintln(d.out, "  2018: the first person learned of the outage 33 minutes after the broker died.")
	for _, v := range []string{"opsgenie", "slack", "pagerduty"} {
		if t, ok := d.firstBy[v]; ok {
			fmt.Fprintf(d.out, "  tocsin: paged through %-9s %5.1fs after the break\n", v, t.Seconds())
		}
	}
	fmt.Fprintln(d.out, "  (ProbeFailing in the shipped rules waits 15s before paging, so one lost message never pages.)")
	for _, v := range []string{"opsgenie", "slack", "pagerduty"} {
		if t, ok := d.resolves[v]; ok {
			fmt.Fprintf(d.out, "  resolved through %-9s %5.1fs after the broker healed\n", v, t.Seconds())
		}
	}
}

// demoLogger shows tocsin's own logs on stderr when TOCSIN_DEMO_LOG is set
// to a level (debug, info, warn, error); by default the demo prints only
// its narrative.
func demoLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("TOCSIN_DEMO_LOG"))); err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func frontDoor(base string) string {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return "unreachable: " + err.Error()
	}
	resp.Body.Close()
	return fmt.Sprintf("HTTP %d — still green, as in 2018", resp.StatusCode)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

// wait sleeps for d unless ctx ends first; it reports whether to go on.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
