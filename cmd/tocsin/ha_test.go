package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// haReplica is one tocsin replica of a cluster run as a real process.
type haReplica struct {
	name, config, gossip, advertise, base string
	kill                                  func()
}

// haRules fires TargetDown after the probe has failed for hold.
func haRules(hold string) string {
	return `groups:
- name: ha
  rules:
  - alert: TargetDown
    expr: probe_success{kind="http"} == 0
    for: ` + hold + "\n"
}

// freePort returns a loopback address no one listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startHA starts n replicas that gossip on loopback, probe target and page
// hook; replica i is named r<i>.
func startHA(t *testing.T, n int, target, hook, hold string) []*haReplica {
	t.Helper()
	listen := make([]string, n)
	for i := range listen {
		listen[i] = freePort(t)
	}
	return startHAListening(t, target, hook, hold, "1s", listen, listen)
}

// startHAListening starts a replica for each gossip address in listen;
// replica i tells its peers advertise[i] (a proxy, say).
func startHAListening(t *testing.T, target, hook, hold, peerTimeout string, listen, advertise []string) []*haReplica {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(haRules(hold)), 0o600))
	replicas := make([]*haReplica, len(listen))
	n := len(listen)
	for i := range replicas {
		r := &haReplica{name: fmt.Sprintf("r%d", i), gossip: listen[i], advertise: advertise[i]}
		r.config = filepath.Join(dir, r.name+".yml")
		cfg := fmt.Sprintf(`global: {replica: %s}
evaluation_interval: 500ms
rule_files: [rules.yml]
probes:
- name: api
  interval: 200ms
  timeout: 150ms
  http: {url: '%s'}
- name: batch
  heartbeat: {grace: 2s, token: hb-token}
route:
  receiver: oncall
  group_by: [alertname, probe, peer]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: oncall
  webhook_configs: [{url: '%s', send_resolved: true}]
`, r.name, target, hook)
		require.NoError(t, os.WriteFile(r.config, []byte(cfg), 0o600))
		replicas[i] = r
	}
	for i, r := range replicas {
		args := []string{"run", "--config.file", r.config, "--web.listen-address", "127.0.0.1:0",
			"--storage.path", filepath.Join(dir, r.name), "--cluster.listen-address", r.gossip,
			"--cluster.peer-timeout", peerTimeout, "--cluster.settle-timeout", "3s", "--cluster.gossip-interval", "50ms",
			"--cluster.pushpull-interval", "1s", "--cluster.probe-interval", "200ms", "--cluster.probe-timeout", "100ms",
			"--cluster.reconnect-interval", "500ms", "--cluster.advertise-address", r.advertise}
		for j, peer := range replicas {
			if j != i {
				args = append(args, "--cluster.peer", peer.advertise)
			}
		}
		cmd, lines := tocsinProcess(t, args...)
		r.base = "http://" + waitForAddress(t, lines)
		go func() {
			for range lines {
			}
		}()
		r.kill = func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
	}
	for _, r := range replicas {
		waitMetricAtLeast(t, r.base, "tocsin_cluster_members", float64(n))
		waitMetricAtLeast(t, r.base, "tocsin_cluster_settled", 1)
	}
	return replicas
}

// metric returns the value of one series of a replica's /metrics, or -1.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	_, body := get(t, base+"/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// Three replicas page once per group, a heartbeat pushed to one of them
// counts on all, ReplicaDown pages for killed peers, and the last replica
// standing still pages a new failure.
func TestThreeReplicasSurviveKill9(t *testing.T) {
	failing, targetURL, v := haTargetAndVendor(t)

	replicas := startHA(t, 3, targetURL, v.fake.APIURL(), "500ms")

	// Heartbeats go to replica 0 only, for longer than the grace.
	stopBeats := make(chan struct{})
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			req, _ := http.NewRequest(http.MethodPost, replicas[0].base+"/api/v1/heartbeats/batch", nil)
			req.Header.Set("Authorization", "Bearer hb-token")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-stopBeats:
				return
			case <-tick.C:
			}
		}
	}()
	time.Sleep(3 * time.Second) // past the 2s grace: a missed beat would show by now
	for _, r := range replicas {
		require.Equal(t, 1.0, metric(t, r.base, fmt.Sprintf(`probe_success{kind="heartbeat",probe="batch",replica="%s"}`, r.name)),
			"%s: the heartbeat pushed to r0 counts here too", r.name)
	}
	close(stopBeats)
	<-beatsDone

	// One failure, three replicas that see it: one page (two at most).
	failing.Store(true)
	pages := func() int { return len(v.received("api")) }
	require.Eventually(t, func() bool { return pages() >= 1 }, 20*time.Second, 10*time.Millisecond)
	time.Sleep(3 * time.Second) // every position's wait (1s each) has passed
	firing := 0
	for _, p := range v.received("api") {
		if !p.resolved {
			firing++
		}
	}
	t.Logf("three replicas, one failing probe: %d firing notifications", firing)
	require.LessOrEqual(t, firing, 2)

	// kill -9 one replica, then a second, each in the middle of an outage:
	// ReplicaDown pages for each, the outage resolves, and the next
	// failure still pages, at last from the third replica alone.
	lastIs := func(resolved bool) func() bool {
		return func() bool {
			p := v.received("api")
			return len(p) > 0 && p[len(p)-1].resolved == resolved
		}
	}
	for _, dead := range replicas[:2] {
		require.True(t, failing.Load(), "the outage goes on")
		dead.kill()
		require.Eventually(t, func() bool { return hasReplicaDown(v, dead.name) }, 30*time.Second, 20*time.Millisecond, "ReplicaDown for %s", dead.name)
		failing.Store(false)
		require.Eventually(t, lastIs(true), 20*time.Second, 10*time.Millisecond, "resolved after %s died", dead.name)
		failing.Store(true)
		require.Eventually(t, lastIs(false), 20*time.Second, 10*time.Millisecond, "a new failure pages after %s died", dead.name)
	}
	require.Empty(t, v.fake.Violations())
}

// hasReplicaDown reports whether the vendor was paged about peer.
func hasReplicaDown(v *vendorLog, peer string) bool {
	for _, rq := range v.fake.Requests() {
		if strings.Contains(string(rq.Body), `"alertname":"ReplicaDown"`) && strings.Contains(string(rq.Body), `"peer":"`+peer+`"`) {
			return true
		}
	}
	return false
}

// haTargetAndVendor starts an HTTP target that fails while the returned
// flag is set, and a webhook vendor.
func haTargetAndVendor(t *testing.T) (*atomic.Bool, string, *vendorLog) {
	t.Helper()
	failing := &atomic.Bool{}
	target := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = target.Serve(ln) }()
	t.Cleanup(func() { _ = target.Close() })
	v := &vendorLog{name: "hook"}
	v.fake = notifiertest.NewWebhook(notifiertest.OnPage(v.onPage))
	t.Cleanup(v.fake.Close)
	return failing, "http://" + ln.Addr().String() + "/", v
}

// TestHATimeToPageWhenThePagerDies measures the time from a break to the
// first page when the replica in first position, the one that would have
// paged, is killed at the moment of the break. Run it with
//
//	TOCSIN_HA_TTP_TRIALS=10 go test -run TestHATimeToPageWhenThePagerDies -v ./cmd/tocsin/
//
// Probe interval 200ms, peer timeout 1s, the rule fires on the first failed
// run: the goal is at most probe interval + peer timeout + 1s = 2.2s.
func TestHATimeToPageWhenThePagerDies(t *testing.T) {
	trials := envInt(t, "TOCSIN_HA_TTP_TRIALS", 0)
	if trials == 0 {
		t.Skip("set TOCSIN_HA_TTP_TRIALS to run this measurement")
	}
	var times []time.Duration
	for i := range trials {
		failing, targetURL, v := haTargetAndVendor(t)
		replicas := startHA(t, 3, targetURL, v.fake.APIURL(), "0s")
		time.Sleep(time.Second) // the probes have run since the cluster settled
		start := time.Now()
		failing.Store(true)
		replicas[0].kill() // r0 sorts first: position 0
		require.Eventually(t, func() bool { return len(v.received("api")) > 0 }, 30*time.Second, 5*time.Millisecond)
		d := v.received("api")[0].at.Sub(start)
		times = append(times, d)
		t.Logf("trial %d: first page %s after the break", i+1, d.Round(time.Millisecond))
		for _, r := range replicas[1:] {
			r.kill()
		}
	}
	slices.Sort(times)
	t.Logf("time to page with the pager killed at the break, %d trials: median %s, max %s (goal: at most 2.2s)",
		trials, times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}
