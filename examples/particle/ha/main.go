// Command ha replays the device-broker incident against three tocsin
// replicas in a cluster, each a real `tocsin run` process. At the moment the
// broker stops relaying, the replica that would have paged (the first in
// the cluster's order) is killed with SIGKILL: another replica pages in its
// place, and ReplicaDown says which one is gone.
//
//	make demo-ha        (or: make build && go run ./examples/particle/ha)
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

const (
	replicas    = 3
	peerTimeout = 3 * time.Second
	pdKey       = "R0UT1NGKEY00000000000000000000AB"
	limit       = 90 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin := os.Getenv("TOCSIN_BIN")
	if bin == "" {
		bin = "bin/tocsin"
	}
	if err := run(ctx, os.Stdout, bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo-ha:", err)
		os.Exit(1)
	}
}

// replica is one tocsin process of the demo.
type replica struct {
	name, web, gossip string
	cmd               *exec.Cmd
}

type demo struct {
	out   io.Writer
	start time.Time
	pages chan notifiertest.Page
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, out io.Writer, bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", bin, err)
	}
	dir, err := os.MkdirTemp("", "tocsin-demo-ha-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d := &demo{out: out, start: time.Now(), pages: make(chan notifiertest.Page, 256)}
	fmt.Fprintln(out, "tocsin demo, high availability: the device-broker incident against three tocsin replicas.")
	fmt.Fprintln(out, "The replica that would have paged is killed (SIGKILL) at the very moment the broker breaks.")
	fmt.Fprintln(out)

	pd := notifiertest.NewPagerDuty(pdKey, notifiertest.OnPage(func(p notifiertest.Page) { d.pages <- p }))
	defer pd.Close()
	slack := notifiertest.NewSlackWebhook(notifiertest.OnPage(func(p notifiertest.Page) { d.pages <- p }))
	defer slack.Close()
	cloud, err := devicecloud.Start(devicecloud.Config{})
	if err != nil {
		return err
	}
	defer cloud.Close()
	devCtx, stopDevices := context.WithCancel(ctx)
	var devices sync.WaitGroup
	defer devices.Wait()
	defer stopDevices()
	devices.Go(func() { _ = devicecloud.Device{ID: "e00fce68a1b2", Interval: time.Second}.Run(devCtx, cloud.MQTTURL()) })

	rs, err := startReplicas(dir, bin, cloud.MQTTURL(), cloud.HTTPURL(), pd.APIURL(), slack.APIURL())
	defer func() {
		for _, r := range rs {
			if r.cmd != nil && r.cmd.ProcessState == nil {
				_ = r.cmd.Process.Signal(syscall.SIGTERM)
				_ = r.cmd.Wait()
			}
		}
	}()
	if err != nil {
		return err
	}
	d.say("device cloud up: MQTT broker %s", cloud.MQTTURL())
	if !waitFor(ctx, 30*time.Second, func() bool {
		for _, r := range rs {
			if metric(r.web, "tocsin_cluster_members") != replicas || metric(r.web, "tocsin_cluster_settled") != 1 {
				return false
			}
		}
		return true
	}) {
		return fmt.Errorf("the cluster did not form within 30s")
	}
	first := rs[0]
	for _, r := range rs {
		if metric(r.web, "tocsin_cluster_position") == 0 {
			first = r
		}
	}
	d.say("three replicas in a cluster (%s, %s, %s), each probing the broker end to end every 1s;", rs[0].name, rs[1].name, rs[2].name)
	d.say("  peer timeout %s: a replica waits its position × %s before it pages, so vendors hear once", peerTimeout, peerTimeout)
	d.say("  %s is first in the cluster's order: it is the one that would page", first.name)
	if !sleep(ctx, 6*time.Second) {
		return nil
	}

	fmt.Fprintln(out)
	breakAt := time.Now()
	cloud.BreakRelay()
	_ = first.cmd.Process.Signal(syscall.SIGKILL)
	_ = first.cmd.Wait()
	d.say("BREAK: the broker stops relaying, and %s is killed with SIGKILL at the same moment.", first.name)

	var firstPage time.Duration
	pagedBy := map[string]bool{}
	titles := map[string]string{} // vendor key → title of its firing page
	brokerPages, downPages := map[string]bool{}, map[string]bool{}
	deadline := time.After(limit)
	for len(brokerPages) < 2 || len(downPages) < 2 {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return fmt.Errorf("gave up waiting for pages after %s", limit)
		case p := <-d.pages:
			since := time.Since(breakAt)
			title := oneLine(p.Title)
			titles[p.Key] = title
			d.say("PAGE via %-9s %+5.1fs after the break: %s", p.Vendor, since.Seconds(), title)
			switch {
			case strings.Contains(title, "ProbeFailing"):
				brokerPages[p.Vendor] = true
				if firstPage == 0 {
					firstPage = since
				}
			case strings.Contains(title, "ReplicaDown"):
				downPages[p.Vendor] = true
			}
		}
	}
	for _, r := range rs {
		if r != first && metric(r.web, `tocsin_notifications_total{integration="pagerduty",outcome="accepted",receiver="oncall"}`) > 0 {
			pagedBy[r.name] = true
		}
	}
	var who []string
	for n := range pagedBy {
		who = append(who, n)
	}
	d.say("paged by: %s, one page per vendor and alert from the two survivors", strings.Join(who, ", "))
	if !sleep(ctx, 3*time.Second) {
		return nil
	}

	fmt.Fprintln(out)
	healAt := time.Now()
	cloud.HealRelay()
	d.say("HEAL: the broker relays again.")
	resolved := 0
	deadline = time.After(limit)
	for resolved < 2 {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return fmt.Errorf("gave up waiting for resolves after %s", limit)
		case p := <-d.pages:
			if p.Resolved {
				title := oneLine(p.Title)
				if t, ok := titles[p.Key]; ok && title == "" {
					title = "[RESOLVED] " + strings.TrimPrefix(t, "[FIRING:1] ")
				}
				if strings.Contains(title, "ProbeFailing") {
					resolved++
				}
				d.say("RESOLVED via %-9s %+5.1fs after healing: %s", p.Vendor, time.Since(healAt).Seconds(), title)
			} else {
				d.say("PAGE via %-9s: %s", p.Vendor, oneLine(p.Title))
			}
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Summary")
	fmt.Fprintf(out, "  the broker's page left %.1fs after the break, though the replica that would have sent it died then.\n", firstPage.Seconds())
	fmt.Fprintln(out, "  (ProbeFailing in the shipped rules waits 15s before paging; a replica that takes over waits at most")
	fmt.Fprintf(out, "  its position × %s more, and none once the cluster has noticed the death.)\n", peerTimeout)
	fmt.Fprintln(out, "  ReplicaDown told the on-call which replica is gone, so redundancy can be restored.")
	return nil
}

// startReplicas writes a config per replica and starts them as processes.
func startReplicas(dir, bin, mqtt, front, pdURL, slackURL string) ([]*replica, error) {
	pack, err := configs.Defaults.ReadFile("rules/liveness.yml")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "liveness.yml"), pack, 0o600); err != nil {
		return nil, err
	}
	rs := make([]*replica, replicas)
	for i := range rs {
		rs[i] = &replica{name: fmt.Sprintf("demo-%d", i+1), web: freeAddr(), gossip: freeAddr()}
	}
	for _, r := range rs {
		cfg := fmt.Sprintf(`global: {replica: %s, external_labels: {team: device-cloud}}
storage: {path: %s}
rule_files: [liveness.yml]
probes:
- name: broker-roundtrip
  interval: 1s
  timeout: 800ms
  labels: {service: device-broker}
  roundtrip:
    send:   {mqtt: {url: '%s', topic: canary/ping, qos: 1}}
    expect: {mqtt: {url: '%s', topic: canary/ping, qos: 1}}
- name: front-door
  interval: 1s
  timeout: 800ms
  labels: {service: api}
  http: {url: '%s/healthz'}
route:
  receiver: oncall
  group_by: [alertname, probe, peer]
  group_wait: 0s
  group_interval: 2s
  repeat_interval: 1h
  routes:
  # Watchdog, the shipped pack's feed of the dead-man's switch, always
  # fires; it must never page. The demo has no heartbeat vendor to ping.
  - matchers: ['alertname="Watchdog"']
    receiver: deadman
receivers:
- name: deadman
- name: oncall
  pagerduty_configs: [{routing_key: %s, url: '%s'}]
  slack_configs: [{api_url: '%s', channel: '#oncall', send_resolved: true}]
`, r.name, r.name, mqtt, mqtt, front, pdKey, pdURL, slackURL)
		file := filepath.Join(dir, r.name+".yml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			return rs, err
		}
		args := []string{"run", "--config.file", file, "--web.listen-address", r.web,
			"--cluster.listen-address", r.gossip, "--cluster.peer-timeout", peerTimeout.String(),
			"--cluster.settle-timeout", "5s", "--cluster.probe-interval", "200ms", "--cluster.probe-timeout", "100ms",
			"--cluster.pushpull-interval", "2s", "--log.level", "error"}
		for _, p := range rs {
			if p != r {
				args = append(args, "--cluster.peer", p.gossip)
			}
		}
		r.cmd = exec.Command(bin, args...)
		stderr, err := r.cmd.StderrPipe()
		if err != nil {
			return rs, err
		}
		if err := r.cmd.Start(); err != nil {
			return rs, err
		}
		go drain(stderr)
	}
	return rs, nil
}

func drain(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if os.Getenv("TOCSIN_DEMO_LOG") != "" {
			fmt.Fprintln(os.Stderr, sc.Text())
		}
	}
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric reads one series of a replica's /metrics, or -1.
func metric(addr, series string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
				return f
			}
		}
	}
	return -1
}

func waitFor(ctx context.Context, d time.Duration, ok func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if ok() {
			return true
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return false
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
