// Command timetopage measures, in one run, how long a broker failure takes
// to page through tocsin and through the tuned classic stack (Prometheus
// scraping blackbox_exporter, a rule, Alertmanager): both watch the same
// in-process MQTT broker, the command breaks it again and again, and a
// webhook receiver notes when each one's page arrives. See README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tocsin-alerting/tocsin/examples/internal/benchproc"
	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
)

// Settings shared by both sides: probe every second, give up after 900 ms,
// page on the first failure.
const (
	interval = time.Second
	timeout  = 900 * time.Millisecond
	// pageWithin bounds the wait for a page, recoverWithin the wait for a
	// healthy, quiet state between breaks.
	pageWithin    = 20 * time.Second
	recoverWithin = 90 * time.Second
)

// shape is one way the broker fails, and its cure.
type shape struct {
	name string
	brk  func(*devicecloud.DeviceCloud)
	heal func(*devicecloud.DeviceCloud) error
}

var shapes = []shape{
	{"refused", (*devicecloud.DeviceCloud).StopBroker, (*devicecloud.DeviceCloud).StartBroker},
	{"killed-hanging", (*devicecloud.DeviceCloud).KillBrokerLeavingHang, func(dc *devicecloud.DeviceCloud) error { dc.UnhangBroker(); return nil }},
}

func main() {
	var bins binaries
	flag.StringVar(&bins.tocsin, "tocsin", "", "path of the tocsin binary")
	flag.StringVar(&bins.alertmanager, "alertmanager", "", "path of the alertmanager binary")
	flag.StringVar(&bins.prometheus, "prometheus", "/usr/bin/prometheus", "path of the prometheus binary")
	flag.StringVar(&bins.blackbox, "blackbox", "/usr/bin/prometheus-blackbox-exporter", "path of the blackbox_exporter binary")
	breaks := flag.Int("breaks", 10, "breaks per shape")
	only := flag.String("shapes", "", "comma-separated shapes to run (default all: refused, killed-hanging)")
	keep := flag.Bool("keep", false, "keep the configs and logs of the processes")
	verbose := flag.Bool("verbose", false, "print when tocsin's probe runs started around each break")
	flag.Parse()
	if bins.tocsin == "" || bins.alertmanager == "" {
		fmt.Fprintln(os.Stderr, "timetopage: --tocsin and --alertmanager are required")
		os.Exit(2)
	}
	if err := run(bins, *breaks, *only, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "timetopage:", err)
		os.Exit(1)
	}
}

func run(bins binaries, breaks int, only string, keep, verbose bool) error {
	work, err := os.MkdirTemp("", "timetopage-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	dc, err := devicecloud.Start(devicecloud.Config{})
	if err != nil {
		return err
	}
	defer dc.Close()
	hook, err := startHook()
	if err != nil {
		return err
	}
	defer hook.close()
	st, err := startStacks(bins, work, dc.MQTTAddr(), hook.url)
	if err != nil {
		return err
	}
	defer st.stop()

	fmt.Printf("broker %s; interval %s, timeout %s; %d breaks per shape; configs and logs in %s\n\n", dc.MQTTAddr(), interval, timeout, breaks, work)
	fmt.Println("| shape | tocsin median | tocsin max | stack median | stack max | tocsin / stack (medians) | load average before → after |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, sh := range shapes {
		if only != "" && !slices.Contains(strings.Split(only, ","), sh.name) {
			continue
		}
		loadBefore := loadavg()
		var times [2][]time.Duration // tocsin, stack
		for i := range breaks {
			if err := st.waitQuiet(); err != nil {
				return fmt.Errorf("%s, before break %d: %w", sh.name, i+1, err)
			}
			time.Sleep(rand.N(interval)) // a random phase of both schedules
			hook.reset()
			at := time.Now()
			sh.brk(dc)
			for side, name := range []string{"tocsin", "stack"} {
				select {
				case paged := <-hook.firing[side]:
					times[side] = append(times[side], paged.Sub(at))
				case <-time.After(pageWithin - time.Since(at)):
					return fmt.Errorf("%s, break %d: %s sent no page within %s", sh.name, i+1, name, pageWithin)
				}
			}
			fmt.Fprintf(os.Stderr, "%s break %d: tocsin %s, stack %s\n", sh.name, i+1,
				times[0][i].Round(time.Millisecond), times[1][i].Round(time.Millisecond))
			if verbose {
				fmt.Fprintf(os.Stderr, "  tocsin's runs since 2s before the break: %s\n", runsAround(st.tocsin, at))
			}
			if err := sh.heal(dc); err != nil {
				return err
			}
			// Each side must have sent the resolve before the next break: a
			// firing alert its notification log still holds as notified would
			// not be paged again (Alertmanager's dedup, which tocsin shares).
			for side, name := range []string{"tocsin", "stack"} {
				select {
				case <-hook.resolved[side]:
				case <-time.After(recoverWithin):
					return fmt.Errorf("%s, break %d: %s sent no resolve within %s", sh.name, i+1, name, recoverWithin)
				}
			}
		}
		t, s := summarize(times[0]), summarize(times[1])
		fmt.Printf("| %s | %s | %s | %s | %s | %.2f | %s → %s |\n", sh.name, ms(t.median), ms(t.max), ms(s.median), ms(s.max),
			t.median.Seconds()/s.median.Seconds(), loadBefore, loadavg())
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

type stats struct{ median, max time.Duration }

func summarize(ds []time.Duration) stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{median: med, max: s[len(s)-1]}
}

// binaries are the programs under test.
type binaries struct{ tocsin, alertmanager, prometheus, blackbox string }

// stacks are the running processes and their addresses.
type stacks struct {
	procs                            []*exec.Cmd
	tocsin, alertmanager, prometheus string // base URLs
}

func startStacks(bins binaries, work, broker, hookURL string) (*stacks, error) {
	st := &stacks{}
	addr := func() string { a, _ := benchproc.FreeAddress(); return a }
	tocsinAddr, amAddr, promAddr, bbAddr := addr(), addr(), addr(), addr()
	st.tocsin, st.alertmanager, st.prometheus = "http://"+tocsinAddr, "http://"+amAddr, "http://"+promAddr
	files := map[string]string{
		"tocsin.yml":       fmt.Sprintf(tocsinConfig, broker, broker, hookURL+"tocsin"),
		"rules.yml":        rules,
		"alertmanager.yml": fmt.Sprintf(alertmanagerConfig, hookURL+"stack"),
		"blackbox.yml":     blackboxConfig,
		"prometheus.yml":   fmt.Sprintf(prometheusConfig, amAddr, broker, bbAddr),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	f := func(name string) string { return filepath.Join(work, name) }
	cmds := []struct {
		name, bin string
		args      []string
	}{
		{"tocsin", bins.tocsin, []string{"run", "--config.file", f("tocsin.yml"), "--storage.path", f("tocsin-data"),
			"--web.listen-address", tocsinAddr, "--log.level", "warn"}},
		{"alertmanager", bins.alertmanager, []string{"--config.file", f("alertmanager.yml"), "--storage.path", f("am-data"),
			"--web.listen-address", amAddr, "--cluster.listen-address=", "--log.level", "warn"}},
		// The timeout offset leaves blackbox 900ms of the 1s scrape timeout.
		{"blackbox", bins.blackbox, []string{"--config.file", f("blackbox.yml"), "--web.listen-address", bbAddr, "--timeout-offset", "0.1"}},
		// Resends every hour: a resolved alert resent between breaks would
		// keep an Alertmanager group open and delay the next page.
		{"prometheus", bins.prometheus, []string{"--config.file", f("prometheus.yml"), "--storage.tsdb.path", f("prom-data"),
			"--web.listen-address", promAddr, "--rules.alert.resend-delay", "1h", "--log.level", "warn"}},
	}
	for _, c := range cmds {
		log, err := os.Create(f(c.name + ".log"))
		if err != nil {
			st.stop()
			return nil, err
		}
		cmd := exec.Command(c.bin, c.args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			st.stop()
			return nil, fmt.Errorf("start %s: %w", c.name, err)
		}
		st.procs = append(st.procs, cmd)
	}
	for _, base := range []string{st.tocsin, st.alertmanager, st.prometheus} {
		if err := benchproc.WaitReady(base); err != nil {
			st.stop()
			return nil, fmt.Errorf("%s: %w", base, err)
		}
	}
	return st, nil
}

func (st *stacks) stop() {
	for _, c := range st.procs {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range st.procs {
		_ = c.Wait()
	}
	st.procs = nil
}

// waitQuiet waits until both sides see the broker healthy and hold no
// alert group, so that the next break opens a new group on each.
func (st *stacks) waitQuiet() error {
	deadline := time.Now().Add(recoverWithin)
	for {
		quiet, why := st.quiet()
		if quiet {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not quiet after %s: %s", recoverWithin, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (st *stacks) quiet() (bool, string) {
	for name, base := range map[string]string{"tocsin": st.tocsin, "prometheus": st.prometheus} {
		up, err := probeSucceeds(base)
		if err != nil {
			return false, err.Error()
		}
		if !up {
			return false, name + ": probe_success is not 1"
		}
	}
	for _, base := range []string{st.tocsin, st.alertmanager} {
		var groups []json.RawMessage
		if err := getJSON(base+"/api/v2/alerts/groups", &groups); err != nil {
			return false, err.Error()
		}
		if len(groups) > 0 {
			return false, base + " still holds an alert group"
		}
	}
	return true, ""
}

// probeSucceeds asks a Prometheus query API whether the one probe_success
// series is 1.
func probeSucceeds(base string) (bool, error) {
	var q struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(base+"/api/v1/query?query=probe_success", &q); err != nil {
		return false, err
	}
	rs := q.Data.Result
	return len(rs) == 1 && len(rs[0].Value) == 2 && rs[0].Value[1] == "1", nil
}

// runsAround lists the starts of tocsin's probe runs (the timestamps of
// the raw probe_success samples, each a run's start) from 2 s before at,
// relative to at, with the result of each.
func runsAround(base string, at time.Time) string {
	var q struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(base+"/api/v1/query?query=probe_success[30s]", &q); err != nil {
		return err.Error()
	}
	var out []string
	for _, r := range q.Data.Result {
		for _, v := range r.Values {
			ts, _ := v[0].(float64)
			d := time.UnixMilli(int64(ts * 1000)).Sub(at)
			if d >= -2*time.Second {
				out = append(out, fmt.Sprintf("%+dms=%v", d.Milliseconds(), v[1]))
			}
		}
	}
	return strings.Join(out, " ")
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// hook receives both sides' webhooks (Alertmanager's format, which tocsin
// also sends) at /tocsin and /stack and notes when a firing page arrives.
type hook struct {
	url      string
	srv      *http.Server
	firing   [2]chan time.Time // tocsin, stack
	resolved [2]chan struct{}
}

func startHook() (*hook, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hook{url: "http://" + ln.Addr().String() + "/",
		firing:   [2]chan time.Time{make(chan time.Time, 1), make(chan time.Time, 1)},
		resolved: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tocsin", func(w http.ResponseWriter, r *http.Request) { h.receive(w, r, 0) })
	mux.HandleFunc("POST /stack", func(w http.ResponseWriter, r *http.Request) { h.receive(w, r, 1) })
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *hook) receive(w http.ResponseWriter, r *http.Request, side int) {
	now := time.Now()
	var msg struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch msg.Status {
	case "firing":
		select {
		case h.firing[side] <- now:
		default: // a repeat; the first page counts
		}
	case "resolved":
		select {
		case h.resolved[side] <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusOK)
}

// reset forgets pages and resolves from before a break.
func (h *hook) reset() {
	for side := range h.firing {
		select {
		case <-h.firing[side]:
		default:
		}
		select {
		case <-h.resolved[side]:
		default:
		}
	}
}

func (h *hook) close() { _ = h.srv.Close() }

// alertmanagerConfig is the route and receiver of both sides: page at
// once, one webhook receiver (%s), resolves sent.
const alertmanagerConfig = `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs: [{url: '%s', send_resolved: true}]
`

// tocsinConfig: one MQTT 3.1.1 round trip through the broker (%s twice),
// the rule file beside it, and Alertmanager's route and receiver.
const tocsinConfig = `global: {replica: bench}
rule_files: [rules.yml]
evaluation_interval: 1s
probes:
- name: broker
  interval: 1s
  timeout: 900ms
  roundtrip:
    send:   {mqtt: {url: 'tcp://%s', topic: canary/ping, qos: 1}}
    expect: {mqtt: {url: 'tcp://%s', topic: canary/ping, qos: 1}}
` + alertmanagerConfig

// rules pages on the first failed probe, for both sides.
const rules = `groups:
- name: time-to-page
  rules:
  - alert: BrokerFailing
    expr: probe_success == 0
    for: 0s
`

// blackboxConfig probes the broker the way a blackbox user can: an MQTT
// 3.1.1 CONNECT and a QoS 1 PUBLISH (packet id 10) sent as raw bytes, the
// CONNACK (accepted) and the PUBACK expected back. blackbox_exporter reads
// lines, and the PUBACK's packet id ends one: 0x0a is a newline. The
// PUBLISH's payload is "x" plus the newline blackbox appends to what it
// sends. A plain tcp_connect would stay green on a listener that never
// answers.
const blackboxConfig = `modules:
  mqtt_publish:
    prober: tcp
    timeout: 900ms
    tcp:
      query_response:
      - send: "\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02bb\x32\x08\x00\x02bb\x00\x0ax"
      - expect: '^\x20\x02\x00\x00\x40\x02\x00$'
`

// prometheusConfig: Alertmanager (%s), the broker (%s) through blackbox (%s).
const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
  - static_configs: [{targets: ['%s']}]
scrape_configs:
- job_name: broker
  metrics_path: /probe
  params: {module: [mqtt_publish]}
  static_configs: [{targets: ['%s']}]
  relabel_configs:
  - {source_labels: [__address__], target_label: __param_target}
  - {source_labels: [__param_target], target_label: instance}
  - {target_label: __address__, replacement: '%s'}
`
