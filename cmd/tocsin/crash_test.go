package main

import (
	"fmt"
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
	// down: the rules fire again, and the vendor hears nothing new.
	r.targets[0].Store(true)
	pages = r.waitPages(v, "t0", 3, 30*time.Second)
	require.False(t, pages[2].resolved)
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
