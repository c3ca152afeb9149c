package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// crashRig runs tocsin as a real process against HTTP targets that the
// test breaks and heals, paging through fake webhook vendors that live in
// the test process, so they outlive every kill of tocsin.
type crashRig struct {
	t       *testing.T
	dir     string
	config  string
	targets []atomic.Bool // true: answers 500
	server  *httptest.Server
	vendors []*vendorLog

	cmd  *exec.Cmd
	base string
}

// vendorLog is a fake webhook vendor and what it accepted, in order.
type vendorLog struct {
	name string
	fake *notifiertest.Server

	mu    sync.Mutex
	pages []receivedPage
}

type receivedPage struct {
	probe    string
	resolved bool
	at       time.Time
}

var probeInKey = regexp.MustCompile(`probe="([^"]+)"`)

func (v *vendorLog) onPage(p notifiertest.Page) {
	m := probeInKey.FindStringSubmatch(p.Key)
	if m == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pages = append(v.pages, receivedPage{probe: m[1], resolved: p.Resolved, at: time.Now()})
}

// received returns the pages about probe, in the order they arrived.
func (v *vendorLog) received(probe string) []receivedPage {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []receivedPage
	for _, p := range v.pages {
		if p.probe == probe {
			out = append(out, p)
		}
	}
	return out
}

const crashRules = `groups:
- name: crash
  rules:
  - alert: TargetDown
    expr: probe_success{kind="http"} == 0
    for: 1s
`

func newCrashRig(t *testing.T, targets, vendors int) *crashRig {
	t.Helper()
	r := &crashRig{t: t, dir: t.TempDir(), targets: make([]atomic.Bool, targets)}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var i int
		if _, err := fmt.Sscanf(req.URL.Path, "/t/%d", &i); err != nil || i < 0 || i >= len(r.targets) {
			http.NotFound(w, req)
			return
		}
		if r.targets[i].Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.server.Close)
	var cfg strings.Builder
	cfg.WriteString("global: {replica: crash}\nevaluation_interval: 500ms\nrule_files: [rules.yml]\nprobes:\n")
	for i := range targets {
		fmt.Fprintf(&cfg, "- name: t%d\n  interval: 200ms\n  timeout: 150ms\n  http: {url: '%s/t/%d'}\n", i, r.server.URL, i)
	}
	cfg.WriteString("route:\n  receiver: oncall\n  group_by: [alertname, probe]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n")
	cfg.WriteString("receivers:\n- name: oncall\n  webhook_configs:\n")
	for i := range vendors {
		v := &vendorLog{name: fmt.Sprintf("vendor%d", i)}
		v.fake = notifiertest.NewWebhook(notifiertest.OnPage(v.onPage))
		t.Cleanup(v.fake.Close)
		r.vendors = append(r.vendors, v)
		fmt.Fprintf(&cfg, "  - {url: '%s', send_resolved: true}\n", v.fake.APIURL())
	}
	r.config = filepath.Join(r.dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(r.config, []byte(cfg.String()), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "rules.yml"), []byte(crashRules), 0o600))
	return r
}

// start runs tocsin on the rig's storage and waits until it listens.
func (r *crashRig) start() {
	r.t.Helper()
	cmd, lines := tocsinProcess(r.t, "run", "--config.file", r.config, "--web.listen-address", "127.0.0.1:0",
		"--storage.path", filepath.Join(r.dir, "data"))
	r.base = "http://" + waitForAddress(r.t, lines)
	go func() {
		for range lines { // keep reading, or tocsin blocks on its log
		}
	}()
	r.cmd = cmd
}

// kill ends tocsin with SIGKILL: no shutdown code runs.
func (r *crashRig) kill() {
	r.t.Helper()
	require.NoError(r.t, r.cmd.Process.Signal(syscall.SIGKILL))
	_ = r.cmd.Wait()
}

// waitPages waits until vendor v has received n pages about probe.
func (r *crashRig) waitPages(v *vendorLog, probe string, n int, timeout time.Duration) []receivedPage {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return len(v.received(probe)) >= n }, timeout, 10*time.Millisecond,
		"%s: expected %d pages about %s, got %v", v.name, n, probe, v.received(probe))
	return v.received(probe)
}

// The three promises of a restart, with real processes and kill -9: a page
// that could not be delivered before the crash is delivered after it; a
// page that was delivered is not sent again; an alert that ended while
// tocsin was down is resolved.
func TestKill9NeitherLosesNorRepeatsAPage(t *testing.T) {
	r := newCrashRig(t, 1, 1)
	v := r.vendors[0]

	// The vendor answers 500 while the target is down: tocsin keeps trying.
	v.fake.SetMode(notifiertest.Fail)
	r.start()
	r.targets[0].Store(true)
	require.Eventually(t, func() bool { return v.fake.Attempts() >= 2 }, 30*time.Second, 10*time.Millisecond)
	r.kill()

	// Healed while tocsin is down; so is the target, so that nothing but
	// the outbox can bring the page.
	v.fake.SetMode(notifiertest.Accept)
	r.targets[0].Store(false)
	r.start()
	pages := r.waitPages(v, "t0", 2, 30*time.Second)
	require.False(t, pages[0].resolved, "the page that was pending is delivered")
	require.True(t, pages[1].resolved, "and, since the target is healthy, resolved")

	// A delivered page, then kill -9 and a restart while the target stays
	// down: the rules fire again, and the vendor hears nothing new. The
	// kill waits until tocsin counts the page as accepted, which it does
	// once the acceptance is on disk; a kill between the vendor's answer
	// and that write may repeat the page once (see make crash-test).
	r.targets[0].Store(true)
	pages = r.waitPages(v, "t0", 3, 30*time.Second)
	require.False(t, pages[2].resolved)
	waitMetricAtLeast(t, r.base, `tocsin_notifications_total{integration="webhook",outcome="accepted",receiver="oncall"}`, 1)
	r.kill()
	r.start()
	waitMetricAtLeast(t, r.base, "tocsin_dispatcher_alerts_received_total", 1) // firing again in the new process
	r.targets[0].Store(false)
	pages = r.waitPages(v, "t0", 4, 30*time.Second)
	require.True(t, pages[3].resolved, "no second page before repeat_interval, only the resolve")

	// The alert ends while tocsin is down: the resolve comes after the restart.
	r.targets[0].Store(true)
	pages = r.waitPages(v, "t0", 5, 30*time.Second)
	require.False(t, pages[4].resolved)
	// This process accepted the resolve above and this page.
	waitMetricAtLeast(t, r.base, `tocsin_notifications_total{integration="webhook",outcome="accepted",receiver="oncall"}`, 2)
	r.kill()
	r.targets[0].Store(false)
	r.start()
	pages = r.waitPages(v, "t0", 6, 30*time.Second)
	require.True(t, pages[5].resolved)
	require.Empty(t, v.fake.Violations())
}

// waitMetricAtLeast waits until a counter of tocsin's /metrics reaches n.
func waitMetricAtLeast(t *testing.T, base, name string, n float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, body := get(t, base+"/metrics")
		for _, l := range strings.Split(body, "\n") {
			var v float64
			if strings.HasPrefix(l, name+" ") {
				if _, err := fmt.Sscanf(strings.TrimPrefix(l, name+" "), "%g", &v); err == nil && v >= n {
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
}

// span is a stretch of time; a zero end means it has not ended.
type span struct{ from, to time.Time }

// timeline records when each condition held during a crash test.
type timeline struct {
	up       []span   // tocsin running (from: listening)
	failing  [][]span // per target
	accepted [][]span // per vendor
}

func openSpan(s []span, now time.Time) []span {
	if len(s) > 0 && s[len(s)-1].to.IsZero() {
		return s
	}
	return append(s, span{from: now})
}

func closeSpan(s []span, now time.Time) []span {
	if len(s) > 0 && s[len(s)-1].to.IsZero() {
		s[len(s)-1].to = now
	}
	return s
}

func set(s []span, on bool, now time.Time) []span {
	if on {
		return openSpan(s, now)
	}
	return closeSpan(s, now)
}

// intersect returns the stretches in both a and b.
func intersect(a, b []span, end time.Time) []span {
	var out []span
	for _, x := range a {
		for _, y := range b {
			xt, yt := x.to, y.to
			if xt.IsZero() {
				xt = end
			}
			if yt.IsZero() {
				yt = end
			}
			from, to := maxT(x.from, y.from), minT(xt, yt)
			if to.After(from) {
				out = append(out, span{from, to})
			}
		}
	}
	return out
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func longest(s []span) time.Duration {
	var d time.Duration
	for _, x := range s {
		d = max(d, x.to.Sub(x.from))
	}
	return d
}

// crashFigures is what a crash test counts, per vendor and group.
type crashFigures struct {
	kills, groups, vendors     int
	mustPage, paged            int
	mustResolve, resolved      int
	duplicates, maxDuplicates  int
	firingPages, resolvedPages int
}

// TestKill9AtRandomMoments kills tocsin at random moments while targets
// break and heal and vendors fail and recover, restarts it on the same
// storage each time, and counts per vendor per group what arrived. It runs
// a few kills in `make test`; `make crash-test` runs it long (see
// docs/benchmarks.md).
func TestKill9AtRandomMoments(t *testing.T) {
	kills := envInt(t, "TOCSIN_CRASH_KILLS", 3)
	seed := int64(envInt(t, "TOCSIN_CRASH_SEED", int(time.Now().UnixNano()%1e9)))
	rnd := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("kills=%d seed=%d (TOCSIN_CRASH_SEED repeats the same random choices)", kills, seed)
	const targets, vendors = 4, 2
	r := newCrashRig(t, targets, vendors)
	tl := &timeline{failing: make([][]span, targets), accepted: make([][]span, vendors)}
	now := time.Now()
	for i := range vendors {
		tl.accepted[i] = openSpan(nil, now)
	}
	flipTargets := func() {
		for i := range targets {
			if rnd.IntN(2) == 0 {
				fail := !r.targets[i].Load()
				r.targets[i].Store(fail)
				tl.failing[i] = set(tl.failing[i], fail, time.Now())
			}
		}
	}
	setVendors := func(heal bool) {
		for i, v := range r.vendors {
			ok := heal || rnd.IntN(2) == 0
			mode := notifiertest.Accept
			if !ok {
				mode = notifiertest.Fail
			}
			v.fake.SetMode(mode)
			tl.accepted[i] = set(tl.accepted[i], ok, time.Now())
		}
	}
	pause := func(lo, hi time.Duration) { time.Sleep(lo + time.Duration(rnd.Int64N(int64(hi-lo)))) }

	r.start()
	tl.up = openSpan(tl.up, time.Now())
	for range kills {
		setVendors(false)
		flipTargets()
		pause(500*time.Millisecond, 3*time.Second) // the random moment of the kill
		r.kill()
		tl.up = closeSpan(tl.up, time.Now())
		if rnd.IntN(2) == 0 {
			flipTargets() // breaks and recoveries while tocsin is down
		}
		pause(10*time.Millisecond, time.Second)
		r.start()
		tl.up = openSpan(tl.up, time.Now())
		pause(500*time.Millisecond, 2*time.Second)
		setVendors(true)
		pause(time.Second, 3*time.Second)
	}
	// The end: every vendor accepts, the targets hold long enough to page,
	// then all heal and every group must end resolved everywhere.
	setVendors(true)
	time.Sleep(4 * time.Second)
	for i := range targets {
		r.targets[i].Store(false)
		tl.failing[i] = closeSpan(tl.failing[i], time.Now())
	}
	end := time.Now()
	for _, v := range r.vendors {
		for i := range targets {
			probe := fmt.Sprintf("t%d", i)
			require.Eventually(t, func() bool {
				p := v.received(probe)
				return len(p) == 0 || p[len(p)-1].resolved
			}, 30*time.Second, 20*time.Millisecond, "%s: group of %s does not end resolved: %v", v.name, probe, v.received(probe))
		}
	}
	f := countCrash(tl, r, end, kills)
	t.Logf("crash test: %d kills, %d groups, %d vendors: firing pages %d/%d expected delivered, resolves %d/%d, "+
		"duplicates %d (at most %d for one vendor and group); pages received: %d firing, %d resolved",
		f.kills, f.groups, f.vendors, f.paged, f.mustPage, f.resolved, f.mustResolve,
		f.duplicates, f.maxDuplicates, f.firingPages, f.resolvedPages)
	require.Equal(t, f.mustPage, f.paged, "every page that could be delivered was")
	require.Equal(t, f.mustResolve, f.resolved, "every resolve that could be delivered was")
	require.LessOrEqual(t, f.maxDuplicates, kills, "at most one duplicate per vendor per group per crash")
	for _, v := range r.vendors {
		require.Empty(t, v.fake.Violations())
	}
}

// window is how long a condition must hold for tocsin to be sure to act:
// the rule's for (1s), an evaluation, a probe run and a restart's grace.
const window = 3 * time.Second

func countCrash(tl *timeline, r *crashRig, end time.Time, kills int) crashFigures {
	f := crashFigures{kills: kills, groups: len(r.targets), vendors: len(r.vendors)}
	// tocsin acts from a moment after it starts listening.
	var up []span
	for _, s := range tl.up {
		s.from = s.from.Add(500 * time.Millisecond)
		if s.to.IsZero() || s.to.After(s.from) {
			up = append(up, s)
		}
	}
	for vi, v := range r.vendors {
		can := intersect(up, tl.accepted[vi], end)
		for ti := range r.targets {
			pages := v.received(fmt.Sprintf("t%d", ti))
			dups := 0
			for i, p := range pages {
				if p.resolved {
					f.resolvedPages++
				} else {
					f.firingPages++
					if i > 0 && !pages[i-1].resolved {
						dups++
					}
				}
			}
			f.duplicates += dups
			f.maxDuplicates = max(f.maxDuplicates, dups)
			eps := tl.failing[ti]
			for ei, ep := range eps {
				epEnd := ep.to
				if epEnd.IsZero() {
					epEnd = end
				}
				if longest(intersect([]span{{ep.from, epEnd}}, can, end)) >= window {
					f.mustPage++
					// Paged: a firing page came, or the vendor's incident
					// was still open (its resolve was never delivered, so
					// the on-call is still paged and dedup adds nothing).
					if hasPage(pages, false, ep.from, epEnd.Add(window)) || openBefore(pages, ep.from) {
						f.paged++
					}
				}
				next := end.Add(time.Minute)
				if ei+1 < len(eps) {
					next = eps[ei+1].from
				}
				if hasPage(pages, false, ep.from, epEnd) && longest(intersect([]span{{epEnd, next}}, can, end)) >= 2*window {
					f.mustResolve++
					if hasPage(pages, true, epEnd, next.Add(window)) {
						f.resolved++
					}
				}
			}
		}
	}
	return f
}

// openBefore reports whether the last page before t said firing.
func openBefore(pages []receivedPage, t time.Time) bool {
	open := false
	for _, p := range pages {
		if p.at.Before(t) {
			open = !p.resolved
		}
	}
	return open
}

func hasPage(pages []receivedPage, resolved bool, from, to time.Time) bool {
	for _, p := range pages {
		if p.resolved == resolved && !p.at.Before(from) && !p.at.After(to) {
			return true
		}
	}
	return false
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	require.NoError(t, err, "%s=%q", name, s)
	return n
}
