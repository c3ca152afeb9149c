// Command storm measures how fast an alert storm gets through tocsin and
// through Alertmanager, side by side: it POSTs alerts in groups to each
// one's /api/v2/alerts, with one webhook receiver and group_wait 1s, and
// reports the time from the first POST to the last notification less
// group_wait, and each process's peak resident memory. See README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tocsin-alerting/tocsin/examples/internal/benchproc"
)

const groupWait = time.Second

type settings struct {
	alerts, groups, batch, senders int
}

func main() {
	tocsin := flag.String("tocsin", "", "path of the tocsin binary")
	am := flag.String("alertmanager", "", "path of an alertmanager binary (optional)")
	var s settings
	flag.IntVar(&s.alerts, "alerts", 10000, "alerts in the storm")
	flag.IntVar(&s.groups, "groups", 100, "groups they fall into")
	flag.IntVar(&s.batch, "batch", 256, "alerts per POST (Prometheus sends at most 256)")
	flag.IntVar(&s.senders, "senders", 4, "concurrent POSTs")
	floor := flag.Bool("floor", false, "also run the floor: a server that does nothing but read the POSTs and send payloads encoded in advance")
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		if err := runFloor(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "storm floor:", err)
			os.Exit(1)
		}
		return
	}
	flag.Parse()
	if *tocsin == "" {
		fmt.Fprintln(os.Stderr, "storm: --tocsin is required")
		os.Exit(2)
	}
	targets := []target{tocsinTarget(*tocsin)}
	if *am != "" {
		targets = append(targets, alertmanagerTarget(*am))
	}
	if *floor {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "storm:", err)
			os.Exit(1)
		}
		targets = append(targets, floorTarget(self, s))
	}
	fmt.Printf("%d alerts in %d groups, %d per POST, %d senders, group_wait %s\n\n", s.alerts, s.groups, s.batch, s.senders, groupWait)
	fmt.Println("| server | POST → last notification − group_wait | POSTs took | first → last notification | webhook requests | peak RSS | at the most sampled: anon + file |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, t := range targets {
		r, err := run(t, s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "storm: %s: %v\n", t.name, err)
			os.Exit(1)
		}
		fmt.Printf("| %s | %s | %s | %s | %d | %.1f MB | %.1f + %.1f MB |\n", t.name, r.latency.Round(time.Millisecond),
			r.posting.Round(time.Millisecond), r.spread.Round(time.Millisecond), r.requests, mb(r.peakRSS),
			mb(r.sampled.anon), mb(r.sampled.file))
	}
}

// target is a server under test: how to configure and start it.
type target struct {
	name   string
	config func(hookURL, dataDir string) string
	args   func(configFile, dataDir, listen string) []string
	bin    string
}

const routeYAML = `route:
  receiver: hook
  group_by: [group]
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
receivers:
- name: hook
  webhook_configs:
  - url: %s
    send_resolved: false
`

func tocsinTarget(bin string) target {
	return target{
		name: "tocsin",
		bin:  bin,
		config: func(hook, data string) string {
			return "global: {replica: storm}\nrule_files: []\nprobes: []\n" + fmt.Sprintf(routeYAML, hook)
		},
		args: func(cfg, data, listen string) []string {
			return []string{"run", "--config.file", cfg, "--storage.path", data, "--web.listen-address", listen, "--log.level", "warn"}
		},
	}
}

func alertmanagerTarget(bin string) target {
	return target{
		name: "alertmanager",
		bin:  bin,
		config: func(hook, _ string) string {
			return fmt.Sprintf(routeYAML, hook)
		},
		args: func(cfg, data, listen string) []string {
			return []string{"--config.file", cfg, "--storage.path", data, "--web.listen-address", listen,
				"--cluster.listen-address=", "--log.level", "warn"}
		},
	}
}

type result struct {
	latency, posting time.Duration
	// spread is the time from the first notification to the last.
	spread   time.Duration
	requests int
	peakRSS  int64
	// sampled is the largest resident set seen while the storm ran.
	sampled rss
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func run(t target, s settings) (result, error) {
	dir, err := os.MkdirTemp("", "storm-"+t.name)
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	hook, err := startHook(s.alerts)
	if err != nil {
		return result{}, err
	}
	defer hook.close()

	cfg := filepath.Join(dir, "config.yml")
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(cfg, []byte(t.config(hook.url, data)), 0o600); err != nil {
		return result{}, err
	}
	listen, err := benchproc.FreeAddress()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(t.bin, t.args(cfg, data, listen)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := "http://" + listen
	if err := benchproc.WaitReady(base); err != nil {
		return result{}, err
	}

	sampler := sampleRSS(cmd.Process.Pid)
	defer sampler.stop()
	start := time.Now()
	if err := storm(base, s); err != nil {
		return result{}, err
	}
	posted := time.Since(start)
	select {
	case <-hook.done:
	case <-time.After(2 * time.Minute):
		err := fmt.Errorf("only %d of %d alerts were notified within 2m", hook.count(), s.alerts)
		if posted > groupWait {
			err = fmt.Errorf("%w: the POSTs took %s, longer than group_wait, and alerts that arrive after "+
				"their group's first notification wait for group_interval (5m); run on a quieter machine", err, posted.Round(time.Millisecond))
		}
		return result{}, err
	}
	rss, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	return result{
		latency: hook.last.Sub(start) - groupWait, posting: posted, spread: hook.last.Sub(hook.first),
		requests: hook.requests, peakRSS: rss, sampled: sampler.stop(),
	}, nil
}

// storm POSTs the alerts in batches from several senders at once.
func storm(base string, s settings) error {
	batches := make(chan []map[string]any)
	errs := make(chan error, s.senders)
	var wg sync.WaitGroup
	for range s.senders {
		wg.Go(func() {
			for b := range batches {
				if err := post(base+"/api/v2/alerts", b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var batch []map[string]any
	for i := range s.alerts {
		batch = append(batch, map[string]any{
			"labels": map[string]string{
				"alertname": "StormAlert",
				"group":     groupName(i % s.groups),
				"instance":  instanceName(i),
			},
			"annotations":  map[string]string{"summary": "a storm of alerts"},
			"generatorURL": "http://prometheus.example/graph",
		})
		if len(batch) == s.batch || i == s.alerts-1 {
			select {
			case batches <- batch:
			case err := <-errs:
				close(batches)
				wg.Wait()
				return err
			}
			batch = nil
		}
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func groupName(g int) string    { return fmt.Sprintf("g%03d", g) }
func instanceName(i int) string { return fmt.Sprintf("host-%05d", i) }

func post(url string, alerts []map[string]any) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var reason bytes.Buffer
		_, _ = reason.ReadFrom(resp.Body)
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, reason.String())
	}
	return nil
}

// peakRSS reads the peak resident set size (VmHWM) of a process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// rss is a process's resident memory, split as /proc/PID/status splits
// it: anonymous pages (the heap, stacks) and file-backed pages (mostly the
// binary's own code and data that were read in).
type rss struct{ anon, file int64 }

// rssSampler polls a process's resident memory while the storm runs and
// keeps the largest sample, to tell what the peak (VmHWM, which the
// kernel does not split) is made of.
type rssSampler struct {
	quit chan struct{}
	done chan rss
	max  *rss
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan rss, 1)}
	go func() {
		var most rss
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if r, err := readRSS(pid); err == nil && r.anon+r.file > most.anon+most.file {
				most = r
			}
			select {
			case <-s.quit:
				s.done <- most
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest sample; later calls
// return the same.
func (s *rssSampler) stop() rss {
	if s.max == nil {
		close(s.quit)
		r := <-s.done
		s.max = &r
	}
	return *s.max
}

func readRSS(pid int) (rss, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rss{}, err
	}
	var r rss
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range []struct {
			key string
			to  *int64
		}{{"RssAnon:", &r.anon}, {"RssFile:", &r.file}} {
			if v, ok := strings.CutPrefix(line, f.key); ok {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
					return rss{}, err
				}
				*f.to = kb << 10
			}
		}
	}
	return r, nil
}

// hook is the webhook receiver: it counts the distinct firing alerts
// notified and notes when the last one arrived.
type hook struct {
	url  string
	srv  *http.Server
	done chan struct{}
	want int

	mu       sync.Mutex
	seen     map[string]bool
	first    time.Time
	last     time.Time
	requests int
}

func startHook(want int) (*hook, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hook{url: "http://" + ln.Addr().String() + "/", done: make(chan struct{}), want: want, seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The receiver runs on the same cores as the server under test, and
	// its work is part of every figure, so it reads only what the count
	// needs: each alert's instance label, in the raw bytes, without
	// decoding the JSON.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	firing, err := firingInstances(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if h.first.IsZero() {
		h.first = now
	}
	before := len(h.seen)
	for _, in := range firing {
		h.seen[in] = true
	}
	if len(h.seen) > before {
		h.last = now
	}
	if before < h.want && len(h.seen) >= h.want {
		close(h.done)
	}
}

// firingInstances returns the instance label of each firing alert of a
// webhook payload: the value of every "instance" key whose nearest
// "status" before it (the alert's own, which Alertmanager and tocsin
// both write before its labels) is "firing".
func firingInstances(body []byte) ([]string, error) {
	const key, status = `"instance":"`, `"status":"`
	var out []string
	for at := 0; ; {
		i := bytes.Index(body[at:], []byte(key))
		if i < 0 {
			return out, nil
		}
		at += i + len(key)
		end := bytes.IndexByte(body[at:], '"')
		s := bytes.LastIndex(body[:at], []byte(status))
		if end < 0 || s < 0 {
			return nil, errors.New("a payload without the status or instance of an alert")
		}
		if bytes.HasPrefix(body[s+len(status):], []byte(`firing"`)) {
			out = append(out, string(body[at:at+end]))
		}
		at += end
	}
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

func (h *hook) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}
