package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

func TestMain(m *testing.M) {
	ignore := scenario.IgnoredLeaks()
	// Alertmanager's Peer.Leave leaves the cluster but never shuts
	// memberlist down (it has no Shutdown), so the in-process replicas of
	// the sharding tests leave memberlist's loops behind until the process
	// ends, as a tocsin run process does on its way out.
	for _, f := range []string{"checkBroadcastQueueDepth", "packetHandler", "packetListen", "pushPullTrigger", "streamListen", "triggerFunc"} {
		ignore = append(ignore, goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist)."+f))
	}
	goleak.VerifyTestMain(m, ignore...)
}

// The end-to-end tests run the particle scenario: an in-process device
// cloud, fake PagerDuty, Opsgenie and Slack, and a real tocsin (probes,
// TSDB, rules, dispatcher, HTTP server) that watches the cloud. Each test
// breaks the cloud or a vendor the way production breaks and waits, within
// a bound, for what the on-call would see.

const (
	probeInterval = 250 * time.Millisecond
	probeTimeout  = 200 * time.Millisecond
	// waitLimit bounds every wait for a page, a resolve or a probe state.
	// Pages normally come within a probe interval or two; the bound only
	// keeps a broken pipeline from hanging the run.
	waitLimit = 20 * time.Second
)

// e2eRules pages on the first failed run, so the tests need not wait out
// the shipped pack's `for: 15s`.
const e2eRules = `groups:
- name: e2e-probes
  rules:
  - alert: ProbeFailing
    expr: probe_success{kind!="heartbeat"} == 0
    for: 0s
    labels: {severity: page}
    annotations:
      summary: 'Probe {{ $labels.probe }} ({{ $labels.kind }}) is failing'
- name: e2e-heartbeats
  rules:
  - alert: HeartbeatMissing
    expr: probe_success{kind="heartbeat"} == 0
    for: 0s
    labels: {severity: page}
    annotations:
      summary: 'No heartbeat from {{ $labels.probe }}'
`

const (
	alertProbeFailing     = "ProbeFailing"
	alertHeartbeatMissing = "HeartbeatMissing"
)

// world is what the on-call and tocsin's probes see: every page the fake
// vendors accepted and every probe result, in order of arrival.
type world struct {
	mu      sync.Mutex
	pages   []notifiertest.Page
	results []probes.Result
	changed chan struct{}
}

func (w *world) onPage(p notifiertest.Page) {
	w.mu.Lock()
	w.pages = append(w.pages, p)
	w.mu.Unlock()
	w.poke()
}

func (w *world) onResult(r probes.Result) {
	w.mu.Lock()
	w.results = append(w.results, r)
	w.mu.Unlock()
	w.poke()
}

func (w *world) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// seen is a snapshot of the world.
type seen struct {
	pages   []notifiertest.Page
	results []probes.Result
}

func (w *world) snapshot() seen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return seen{pages: slices.Clone(w.pages), results: slices.Clone(w.results)}
}

// until waits for cond to hold, re-checking after every page and result,
// and fails the test after waitLimit with what it was waiting for and what
// it saw.
func (w *world) until(t *testing.T, what string, cond func(seen) bool) seen {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		s := w.snapshot()
		if cond(s) {
			return s
		}
		select {
		case <-w.changed:
		case <-limit.C:
			t.Fatalf("waited %s for %s; pages so far:\n%s", waitLimit, what, describe(s.pages))
		}
	}
}

func describe(pages []notifiertest.Page) string {
	var b strings.Builder
	for _, p := range pages {
		fmt.Fprintf(&b, "  %s %s key=%.12s %q\n", p.Vendor, p.Action, p.Key, p.Title)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// about returns the firing (resolved false) or resolving pages of one
// alert group. Firing pages carry the group in their title; PagerDuty's
// and Opsgenie's resolves only carry the dedup key of the firing page.
func (s seen) about(alert, probe string, resolved bool) []notifiertest.Page {
	group := alert + " (probe=" + probe + ")"
	keys := map[string]bool{}
	for _, p := range s.pages {
		if !p.Resolved && p.Key != "" && strings.Contains(p.Title, group) {
			keys[p.Key] = true
		}
	}
	var out []notifiertest.Page
	for _, p := range s.pages {
		if p.Resolved == resolved && (strings.Contains(p.Title, group) || keys[p.Key]) {
			out = append(out, p)
		}
	}
	return out
}

// vendors names the vendors among pages.
func vendors(pages []notifiertest.Page) []string {
	var out []string
	for _, p := range pages {
		if !slices.Contains(out, p.Vendor) {
			out = append(out, p.Vendor)
		}
	}
	slices.Sort(out)
	return out
}

// pagedBy reports whether every named vendor has paged for the group.
func (s seen) pagedBy(alert, probe string, resolved bool, want ...string) bool {
	got := vendors(s.about(alert, probe, resolved))
	for _, v := range want {
		if !slices.Contains(got, v) {
			return false
		}
	}
	return true
}

// key is the dedup key a vendor's firing page for the group carried.
func (s seen) key(vendor, alert, probe string) string {
	for _, p := range s.about(alert, probe, false) {
		if p.Vendor == vendor {
			return p.Key
		}
	}
	return ""
}

// results returns the probe's results of runs that started after since.
func (s seen) resultsOf(probe string, since time.Time) (ok, failed int) {
	for _, r := range s.results {
		if r.Probe != probe || !r.Time.After(since) {
			continue
		}
		if r.Success {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// allVendors are the on-call receiver's integrations.
var allVendors = []string{"opsgenie", "pagerduty", "slack"}

// start runs the scenario with the e2e rules and short intervals; set
// changes the options further. The scenario stops when the test ends.
func start(t *testing.T, set func(*scenario.Options)) (*scenario.Scenario, *world) {
	t.Helper()
	w := &world{changed: make(chan struct{}, 1)}
	opts := scenario.Options{
		Dir:           t.TempDir(),
		Interval:      probeInterval,
		Timeout:       probeTimeout,
		Rules:         e2eRules,
		GroupInterval: 500 * time.Millisecond,
		OnPage:        w.onPage,
		OnResult:      w.onResult,
		Dispatcher: notifiers.Options{
			AttemptTimeout: 2 * time.Second,
			BackoffMin:     100 * time.Millisecond,
			BackoffMax:     400 * time.Millisecond,
		},
	}
	if set != nil {
		set(&opts)
	}
	s, err := scenario.Start(opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, w
}

// healthy waits until each named probe has succeeded, so that a failure
// afterwards is the test's doing.
func healthy(t *testing.T, w *world, names ...string) {
	t.Helper()
	w.until(t, "every probe to succeed once", func(s seen) bool {
		for _, n := range names {
			if ok, _ := s.resultsOf(n, time.Time{}); ok == 0 {
				return false
			}
		}
		return true
	})
}

// noPages fails the test when any page is about the group.
func noPages(t *testing.T, s seen, alert, probe string) {
	t.Helper()
	require.Empty(t, s.about(alert, probe, false), "pages for %s of %s:\n%s", alert, probe, describe(s.pages))
}

// TestBrokerStopped: the broker's process dies (connection refused). The
// round-trip probes page through every vendor; when it comes back, each
// vendor gets the resolve under the key it was paged with.
func TestBrokerStopped(t *testing.T) {
	t.Parallel()
	s, w := start(t, func(o *scenario.Options) {
		o.Probes = []string{scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook}
	})
	healthy(t, w, scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook)

	s.Cloud.StopBroker()
	w.until(t, "both round-trip probes to page through every vendor", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, allVendors...) &&
			s.pagedBy(alertProbeFailing, scenario.ProbeDeviceToWebhook, false, allVendors...)
	})

	require.NoError(t, s.Cloud.StartBroker())
	got := w.until(t, "the resolves after the broker restarts", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, true, allVendors...) &&
			s.pagedBy(alertProbeFailing, scenario.ProbeDeviceToWebhook, true, allVendors...)
	})
	for _, p := range got.about(alertProbeFailing, scenario.ProbeBrokerRoundTrip, true) {
		if p.Key != "" {
			require.Equal(t, got.key(p.Vendor, alertProbeFailing, scenario.ProbeBrokerRoundTrip), p.Key, "%s resolve key", p.Vendor)
		}
	}
	requireNoViolations(t, s)
}

// TestBrokerSilentlyDropping replays the incident: the broker acks every
// publish and delivers none, while its HTTP front door answers 200. The
// round-trip probes page; the front-door check stays green and never pages.
func TestBrokerSilentlyDropping(t *testing.T) {
	t.Parallel()
	s, w := start(t, func(o *scenario.Options) {
		o.Probes = []string{scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook, scenario.ProbeFrontDoor}
	})
	healthy(t, w, scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook, scenario.ProbeFrontDoor)

	broke := time.Now()
	s.Cloud.BreakRelay()
	w.until(t, "both round-trip probes to page through every vendor", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, allVendors...) &&
			s.pagedBy(alertProbeFailing, scenario.ProbeDeviceToWebhook, false, allVendors...)
	})
	// The front door has answered several times during the outage.
	got := w.until(t, "the front door to answer during the outage", func(s seen) bool {
		ok, _ := s.resultsOf(scenario.ProbeFrontDoor, broke)
		return ok >= 3
	})
	_, failed := got.resultsOf(scenario.ProbeFrontDoor, broke)
	require.Zero(t, failed, "the front door check failed during the outage")
	noPages(t, got, alertProbeFailing, scenario.ProbeFrontDoor)

	s.Cloud.HealRelay()
	w.until(t, "the broker round trip to resolve", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, true, allVendors...)
	})
	requireNoViolations(t, s)
}

// TestRelayToWebhookBroken: only the relay's webhook leg fails. The
// device-to-webhook probe pages; the MQTT round trip keeps succeeding and
// never pages.
func TestRelayToWebhookBroken(t *testing.T) {
	t.Parallel()
	s, w := start(t, func(o *scenario.Options) {
		o.Probes = []string{scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook}
	})
	healthy(t, w, scenario.ProbeBrokerRoundTrip, scenario.ProbeDeviceToWebhook)

	broke := time.Now()
	s.Cloud.BreakWebhooks()
	w.until(t, "the webhook probe to page through every vendor", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeDeviceToWebhook, false, allVendors...)
	})
	got := w.until(t, "the MQTT round trip to succeed during the outage", func(s seen) bool {
		ok, _ := s.resultsOf(scenario.ProbeBrokerRoundTrip, broke)
		return ok >= 3
	})
	_, failed := got.resultsOf(scenario.ProbeBrokerRoundTrip, broke)
	require.Zero(t, failed, "the MQTT round trip failed while only webhooks were broken")
	noPages(t, got, alertProbeFailing, scenario.ProbeBrokerRoundTrip)
	requireNoViolations(t, s)
}

// TestPrimaryVendorFailing: the primary vendor (PagerDuty) answers 5xx,
// 429 or not at all when the broker dies. The other vendors page anyway,
// while the primary is still failing; once it recovers, tocsin's retries
// deliver to it under the same dedup key the others got.
func TestPrimaryVendorFailing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode   notifiertest.Mode
		reason string // counted in tocsin_notification_attempt_failures_total
	}{
		{notifiertest.Fail, notifiers.ReasonServerError},
		{notifiertest.RateLimit, notifiers.ReasonRateLimited},
		{notifiertest.Hang, ""},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			s, w := start(t, func(o *scenario.Options) {
				o.Probes = []string{scenario.ProbeBrokerRoundTrip}
				// An attempt on the hanging vendor outlasts every wait
				// below, so the others cannot be waiting for it to end.
				if tc.mode == notifiertest.Hang {
					o.Dispatcher.AttemptTimeout = 2 * waitLimit
				}
			})
			s.PagerDuty.SetMode(tc.mode)
			healthy(t, w, scenario.ProbeBrokerRoundTrip)

			broke := time.Now()
			s.Cloud.StopBroker()
			w.until(t, "Opsgenie and Slack to page", func(s seen) bool {
				return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, "opsgenie", "slack")
			})
			require.Empty(t, s.PagerDuty.Pages(), "PagerDuty accepted while failing")
			require.Eventually(t, func() bool { return s.PagerDuty.Attempts() > 0 }, waitLimit, 10*time.Millisecond,
				"PagerDuty was never tried")
			if tc.mode == notifiertest.Hang {
				// The attempt still hangs: the others did not wait for it.
				requireNoViolations(t, s)
				return
			}
			require.Eventually(t, func() bool { return attemptFailures(s, "pagerduty", tc.reason) > 0 }, waitLimit, 10*time.Millisecond,
				"no %s failure counted for PagerDuty", tc.reason)
			if tc.mode == notifiertest.RateLimit {
				// Later flushes come every group_interval (500ms), but
				// PagerDuty asked for a second between calls.
				require.Eventually(t, func() bool { return s.PagerDuty.Attempts() >= 3 }, waitLimit, 10*time.Millisecond)
				attempts := s.PagerDuty.Attempts()
				elapsed := time.Since(broke)
				require.LessOrEqual(t, time.Duration(attempts-1)*time.Second, elapsed,
					"%d calls within %s despite Retry-After: 1", attempts, elapsed)
			}

			s.PagerDuty.SetMode(notifiertest.Accept)
			got := w.until(t, "PagerDuty to accept after it recovers", func(s seen) bool {
				return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, "pagerduty")
			})
			pd := got.key("pagerduty", alertProbeFailing, scenario.ProbeBrokerRoundTrip)
			require.NotEmpty(t, pd)
			require.Equal(t, got.key("opsgenie", alertProbeFailing, scenario.ProbeBrokerRoundTrip), pd,
				"PagerDuty dedup_key and Opsgenie alias differ")
			requireNoViolations(t, s)
		})
	}

	t.Run("failover past a hanging primary", func(t *testing.T) {
		t.Parallel()
		s, w := start(t, func(o *scenario.Options) {
			o.Probes = []string{scenario.ProbeBrokerRoundTrip}
			o.Strategy = "failover"
			o.FailoverAfter = 500 * time.Millisecond
			// Only failover_after can move on from the hanging primary
			// within the waits below.
			o.Dispatcher.AttemptTimeout = 2 * waitLimit
		})
		s.PagerDuty.SetMode(notifiertest.Hang)
		healthy(t, w, scenario.ProbeBrokerRoundTrip)

		s.Cloud.StopBroker()
		got := w.until(t, "Opsgenie to page after failover_after", func(s seen) bool {
			return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, "opsgenie")
		})
		require.Positive(t, s.PagerDuty.Attempts(), "the primary was skipped instead of tried first")
		require.Empty(t, s.PagerDuty.Pages())
		// Failover stops at the first vendor that accepts.
		require.NotContains(t, vendors(got.about(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false)), "slack")
		requireNoViolations(t, s)
	})
}

// attemptFailures reads tocsin_notification_attempt_failures_total.
func attemptFailures(s *scenario.Scenario, integration, reason string) float64 {
	mfs, err := s.Registry.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "tocsin_notification_attempt_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var in, re bool
			for _, l := range m.GetLabel() {
				in = in || (l.GetName() == "integration" && l.GetValue() == integration)
				re = re || (l.GetName() == "reason" && l.GetValue() == reason)
			}
			if in && re {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestBadRuleReloadKeepsOldRules: a rule file edited into an error and
// reloaded is refused, tocsin_config_last_reload_successful drops to 0, and
// the rules that ran before keep paging.
func TestBadRuleReloadKeepsOldRules(t *testing.T) {
	t.Parallel()
	s, w := start(t, func(o *scenario.Options) {
		o.Probes = []string{scenario.ProbeBrokerRoundTrip}
	})
	healthy(t, w, scenario.ProbeBrokerRoundTrip)

	broken := strings.Replace(e2eRules, `probe_success{kind!="heartbeat"} == 0`, `probe_success{kind!="heartbeat"} ==`, 1)
	require.NoError(t, os.WriteFile(s.RuleFile(), []byte(broken), 0o600))
	err := s.Reload(t.Context())
	require.Error(t, err)
	require.Contains(t, err.Error(), s.RuleFile())
	require.NoError(t, testutil.GatherAndCompare(s.Registry, strings.NewReader(`
# HELP tocsin_config_last_reload_successful Whether the last configuration reload attempt was successful (1) or not (0).
# TYPE tocsin_config_last_reload_successful gauge
tocsin_config_last_reload_successful 0
`), "tocsin_config_last_reload_successful"))

	s.Cloud.StopBroker()
	w.until(t, "the old rules to page", func(s seen) bool {
		return s.pagedBy(alertProbeFailing, scenario.ProbeBrokerRoundTrip, false, allVendors...)
	})
	requireNoViolations(t, s)
}

// TestHeartbeatStops: another alerting system must call tocsin within the
// watchdog's grace. While it beats, nothing pages; when it falls silent,
// HeartbeatMissing pages; when it beats again, the page resolves.
func TestHeartbeatStops(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	started := time.Now()
	s, w := start(t, func(o *scenario.Options) {
		o.Probes = []string{scenario.ProbeWatchdog}
		o.Watchdog = grace
	})

	beating := beat(t, s)
	// Runs well past the grace, when only the beats keep the probe green.
	got := w.until(t, "the watchdog to stay green past its grace", func(s seen) bool {
		ok, _ := s.resultsOf(scenario.ProbeWatchdog, started.Add(2*grace))
		return ok >= 2
	})
	_, failed := got.resultsOf(scenario.ProbeWatchdog, started)
	require.Zero(t, failed, "the watchdog failed while heartbeats arrived")
	noPages(t, got, alertHeartbeatMissing, scenario.ProbeWatchdog)

	beating()
	w.until(t, "HeartbeatMissing to page through every vendor", func(s seen) bool {
		return s.pagedBy(alertHeartbeatMissing, scenario.ProbeWatchdog, false, allVendors...)
	})

	beating = beat(t, s)
	defer beating()
	w.until(t, "HeartbeatMissing to resolve once beats resume", func(s seen) bool {
		return s.pagedBy(alertHeartbeatMissing, scenario.ProbeWatchdog, true, allVendors...)
	})
	requireNoViolations(t, s)
}

// beat sends a heartbeat every 200ms, well within the grace, until the
// returned function is called; it returns when the beats have stopped.
func beat(t *testing.T, s *scenario.Scenario) (stop func()) {
	t.Helper()
	require.NoError(t, s.WatchdogBeat(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
				if err := s.WatchdogBeat(ctx); err != nil && !errors.Is(err, context.Canceled) {
					done <- err
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done, "heartbeat")
		})
	}
}

// requireNoViolations checks that tocsin kept each vendor's API contract.
func requireNoViolations(t *testing.T, s *scenario.Scenario) {
	t.Helper()
	for _, v := range []*notifiertest.Server{s.PagerDuty, s.Opsgenie, s.Slack} {
		require.Empty(t, v.Violations())
	}
}
