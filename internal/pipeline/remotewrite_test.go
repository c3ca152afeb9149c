package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/probes"
)

// receiver is a remote-write endpoint built from Prometheus' own write
// handler over a TSDB of its own, as a Prometheus started with
// --web.enable-remote-write-receiver is. While down, it answers 503, as a
// Mimir or Thanos that is restarting does.
type receiver struct {
	*httptest.Server
	db   *tsdb.DB
	down atomic.Bool
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	require.NoError(t, err)
	r := &receiver{db: db}
	h := remote.NewWriteHandler(promslog.NewNopLogger(), prometheus.NewRegistry(), db,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType}, false, false)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		r.Close()
		require.NoError(t, db.Close())
	})
	return r
}

// samples returns the timestamps and values of every series that arrived
// and matches ms, by series.
func samples(t *testing.T, q storage.Queryable, ms ...*labels.Matcher) map[string][][2]float64 {
	t.Helper()
	querier, err := q.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer querier.Close()
	out := map[string][][2]float64{}
	set := querier.Select(context.Background(), false, nil, ms...)
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], [2]float64{float64(ts), v})
		}
	}
	require.NoError(t, set.Err())
	return out
}

func eq(name, value string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, name, value)
}

const remoteWriteRules = `groups:
- name: probes
  rules:
  - alert: ProbeFailing
    expr: probe_success == 0
    labels: {severity: page}
`

// remoteWriteConfig is a tocsin.yml with one HTTP probe and remote_write
// to url, tuned so that batches leave at once and retries come quickly.
func remoteWriteConfig(t *testing.T, dir, target string, urls ...string) *configs.Config {
	t.Helper()
	y := fmt.Sprintf(`global:
  replica: r1
  external_labels: {team: iot}
rule_files: [rules.yml]
evaluation_interval: 100ms
probes:
- name: api
  interval: 100ms
  timeout: 90ms
  labels: {service: web}
  http: {url: '%s'}
remote_write:
`, target)
	for _, u := range urls {
		y += fmt.Sprintf("- url: %s\n  queue_config: {batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 100ms}\n", u)
	}
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(y), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(remoteWriteRules), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	return cfg
}

// runPipeline applies cfg and runs the pipeline until the test ends.
func runPipeline(t *testing.T, cfg *configs.Config, settings pipeline.Settings) *pipeline.Pipeline {
	t.Helper()
	p := pipeline.New(settings, promslog.NewNopLogger())
	require.NoError(t, p.Apply(t.Context(), cfg))
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	done.Go(func() { require.NoError(t, p.Run(ctx)) })
	t.Cleanup(func() { cancel(); done.Wait() })
	return p
}

// target is the service the probe checks; it fails while broken.
func target(t *testing.T) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if broken.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &broken
}

// TestRemoteWriteSendsProbeSeriesAndAlerts: a real pipeline probes an HTTP
// server and sends to a receiver made of Prometheus' own packages. The
// probe's series arrive with the probe's labels and the external labels;
// when the server breaks, ALERTS arrive too; while the receiver is down,
// results pile up in the WAL, and once it is back every sample of the gap
// arrives.
func TestRemoteWriteSendsProbeSeriesAndAlerts(t *testing.T) {
	recv := newReceiver(t)
	srv, broken := target(t)
	var results atomic.Int64
	reg := prometheus.NewRegistry()
	p := runPipeline(t, remoteWriteConfig(t, t.TempDir(), srv.URL, recv.URL+"/api/v1/write"), pipeline.Settings{
		Registerer: reg,
		OnResult:   func(probes.Result) { results.Add(1) },
	})

	success := []*labels.Matcher{eq("__name__", "probe_success"), eq("probe", "api")}
	stored := labels.FromStrings("__name__", "probe_success", "kind", "http", "probe", "api", "replica", "r1", "service", "web")
	want := labels.NewBuilder(stored).Set("team", "iot").Labels().String()
	require.Eventually(t, func() bool {
		got := samples(t, recv.db, success...)[want]
		return len(got) > 0 && got[len(got)-1][1] == 1
	}, waitLimit, 20*time.Millisecond, "probe_success of the healthy probe, with its labels and the external labels, reaches the receiver")

	broken.Store(true)
	alert := labels.FromStrings("__name__", "ALERTS", "alertname", "ProbeFailing", "alertstate", "firing", "severity", "page",
		"kind", "http", "probe", "api", "replica", "r1", "service", "web", "team", "iot").String()
	require.Eventually(t, func() bool {
		return len(samples(t, recv.db, eq("__name__", "ALERTS"))[alert]) > 0
	}, waitLimit, 20*time.Millisecond, "the firing alert reaches the receiver")
	require.Eventually(t, func() bool {
		return len(samples(t, recv.db, eq("__name__", "ALERTS_FOR_STATE"))) > 0
	}, waitLimit, 20*time.Millisecond, "ALERTS_FOR_STATE reaches the receiver")

	// The receiver goes down for ten probe runs, then comes back.
	recv.down.Store(true)
	from := time.Now().UnixMilli()
	runs := results.Load()
	require.Eventually(t, func() bool { return results.Load() >= runs+10 }, waitLimit, 10*time.Millisecond)
	to := time.Now().UnixMilli()
	recv.down.Store(false)

	local := samples(t, p.Queryable(), success...)[stored.String()]
	var gap [][2]float64
	for _, s := range local {
		if int64(s[0]) >= from && int64(s[0]) <= to {
			gap = append(gap, s)
		}
	}
	require.GreaterOrEqual(t, len(gap), 9, "the probe ran while the receiver was down")
	require.Eventually(t, func() bool {
		arrived := map[[2]float64]bool{}
		for _, s := range samples(t, recv.db, success...)[want] {
			arrived[s] = true
		}
		for _, s := range gap {
			if !arrived[s] {
				return false
			}
		}
		return true
	}, waitLimit, 20*time.Millisecond, "every sample written while the receiver was down arrives once it is back")

	// Prometheus' own remote storage metrics are on tocsin's registry.
	require.Positive(t, metricSum(t, reg, "prometheus_remote_storage_samples_total"))
	require.Positive(t, metricSum(t, reg, "prometheus_remote_storage_samples_retried_total"), "the gap was sent again")
	require.Positive(t, metricSum(t, reg, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"))
	require.Positive(t, metricSum(t, reg, "prometheus_remote_storage_highest_timestamp_in_seconds"), "the queues learn what is stored, to size their shards")
}

// metricSum adds up every series of the metric name in g.
func metricSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestRemoteWriteReload: a reload moves the samples to another endpoint; a
// reload whose entry cannot be used (its CA file is gone) is refused and
// the endpoint in force keeps receiving.
func TestRemoteWriteReload(t *testing.T) {
	first, second := newReceiver(t), newReceiver(t)
	srv, _ := target(t)
	dir := t.TempDir()
	p := runPipeline(t, remoteWriteConfig(t, dir, srv.URL, first.URL), pipeline.Settings{Registerer: prometheus.NewRegistry()})

	success := []*labels.Matcher{eq("__name__", "probe_success"), eq("probe", "api")}
	arrived := func(r *receiver) func() bool {
		return func() bool { return len(samples(t, r.db, success...)) > 0 }
	}
	require.Eventually(t, arrived(first), waitLimit, 20*time.Millisecond)

	require.NoError(t, p.Apply(t.Context(), remoteWriteConfig(t, dir, srv.URL, second.URL)))
	require.Eventually(t, arrived(second), waitLimit, 20*time.Millisecond, "the new endpoint receives after the reload")

	bad := remoteWriteConfig(t, dir, srv.URL, first.URL)
	bad.RemoteWrite[0].HTTPClientConfig.TLSConfig.CAFile = filepath.Join(dir, "missing-ca.pem")
	require.ErrorContains(t, p.Apply(t.Context(), bad), "remote_write entry 1")
	require.Equal(t, second.URL, p.Config().RemoteWrite[0].URL.String(), "the configuration in force stays")

	// What arrives at the endpoint in force from now on proves it still runs.
	last := newest(samples(t, second.db, success...))
	require.Eventually(t, func() bool { return newest(samples(t, second.db, success...)) > last }, waitLimit, 20*time.Millisecond)
}

// newest is the latest timestamp among series.
func newest(series map[string][][2]float64) float64 {
	var ts float64
	for _, s := range series {
		for _, v := range s {
			ts = max(ts, v[0])
		}
	}
	return ts
}

// TestRemoteWriteToPrometheus sends to a real Prometheus (Debian's
// package), started with its remote-write receiver, and asks it with
// PromQL for the probe's series and the alert.
func TestRemoteWriteToPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		msg := "prometheus is not installed (apt-get install prometheus; .ci/run installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	url := startPrometheus(t, bin)
	srv, broken := target(t)
	runPipeline(t, remoteWriteConfig(t, t.TempDir(), srv.URL, url+"/api/v1/write"), pipeline.Settings{})

	broken.Store(true)
	for _, query := range []string{
		`probe_success{probe="api", kind="http", service="web", replica="r1", team="iot"} == 0`,
		`ALERTS{alertname="ProbeFailing", alertstate="firing", probe="api", team="iot"}`,
	} {
		require.Eventually(t, func() bool { return promQuery(t, url, query) > 0 }, waitLimit, 50*time.Millisecond,
			"Prometheus answers %s", query)
	}
}

// startPrometheus runs Prometheus with its remote-write receiver on a free
// loopback port until the test ends, and returns its URL once it is ready.
// A port found free can be taken by an outgoing connection before
// Prometheus binds it; then it tries another.
func startPrometheus(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("global: {scrape_interval: 1h}\n"), 0o600))
	for attempt := 1; ; attempt++ {
		url, out, err := tryPrometheus(t, bin, cfg, filepath.Join(dir, "data"))
		if err == nil {
			return url
		}
		if attempt == 3 || !strings.Contains(out, "address already in use") {
			t.Fatalf("prometheus did not start: %v\n%s", err, out)
		}
	}
}

// tryPrometheus starts Prometheus on a port that is free now and waits
// until it is ready or has exited; it returns its URL or its output.
func tryPrometheus(t *testing.T, bin, cfg, data string) (url, output string, err error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url = "http://" + addr
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return "", out.String(), fmt.Errorf("exited: %v", err)
		case <-limit.C:
			_ = cmd.Process.Kill()
			<-exited
			return "", out.String(), errors.New("not ready in time")
		case <-tick.C:
		}
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return url, "", nil
		}
	}
}

// promQuery returns how many series an instant query gives.
func promQuery(t *testing.T, url, query string) int {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/query?query=" + neturl.QueryEscape(query))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return len(body.Data.Result)
}
