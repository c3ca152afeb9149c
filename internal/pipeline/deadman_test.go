package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/rules"
)

// inMemory is an HTTP transport that hands each request to the fake
// vendor listening at its host, without the network, so that a
// testing/synctest bubble can run its fake clock.
type inMemory struct {
	mu    sync.Mutex
	fakes map[string]http.Handler
	// at records the (bubble) time of each request, per host.
	at map[string][]time.Time
}

func (m *inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	m.mu.Lock()
	h := m.fakes[req.URL.Host]
	m.at[req.URL.Host] = append(m.at[req.URL.Host], time.Now())
	m.mu.Unlock()
	// A server-side request always has a body.
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, in)
	return rec.Result(), nil
}

func (m *inMemory) times(s *notifiertest.Server) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.at[strings.TrimPrefix(s.URL(), "http://")]...)
}

// TestDeadmanPingsOnlyWhileRulesRun runs the shipped tocsin.yml and
// liveness rules (pointed at fake vendors) through the real rule engine,
// TSDB and dispatcher on testing/synctest's clock: the Watchdog alert
// pings the heartbeat every repeat_interval and never reaches the paging
// receiver; once the rule engine stops, the pings stop too.
func TestDeadmanPingsOnlyWhileRulesRun(t *testing.T) {
	ping := notifiertest.NewPingURL()
	defer ping.Close()
	paging := notifiertest.NewWebhook()
	defer paging.Close()
	transport := &inMemory{at: map[string][]time.Time{}, fakes: map[string]http.Handler{}}
	for _, f := range []*notifiertest.Server{ping, paging} {
		transport.fakes[strings.TrimPrefix(f.URL(), "http://")] = f.Handler()
	}

	synctest.Test(t, func(t *testing.T) {
		cfg := shippedConfig(t, strings.NewReplacer(
			"url: http://127.0.0.1:5001/deadman}", "url: '"+ping.APIURL()+"'}",
			"url: http://127.0.0.1:5001/\n", "url: '"+paging.APIURL()+"'\n",
		))
		watchdog := cfg.Route.Routes[0]
		repeat, groupInterval := time.Duration(*watchdog.RepeatInterval), time.Duration(*watchdog.GroupInterval)

		route, err := notifiers.NewRoute(cfg.Route)
		require.NoError(t, err)
		var receivers []*notifiers.Receiver
		for _, rc := range cfg.Receivers {
			r, err := integrations.Build(rc, integrations.Options{HTTPClient: &http.Client{Transport: transport}})
			require.NoError(t, err)
			receivers = append(receivers, r)
		}
		disp, err := notifiers.NewDispatcher(route, receivers, notifiers.Options{})
		require.NoError(t, err)
		rec, err := rules.OpenRecorder(rules.RecorderOptions{Dir: filepath.Join(t.TempDir(), "data"), Retention: time.Hour})
		require.NoError(t, err)
		files, err := cfg.RuleFilePaths()
		require.NoError(t, err)
		ev, err := rules.NewEvaluator(rules.EvaluatorOptions{
			Files: files, Interval: time.Duration(cfg.EvaluationInterval), Storage: rec,
			ExternalLabels: labels.FromStrings("replica", cfg.Global.Replica),
			Alerts:         func(_ context.Context, alerts []*model.Alert) { disp.Send(alerts...) },
		})
		require.NoError(t, err)

		dispCtx, stopDisp := context.WithCancel(t.Context())
		evCtx, stopRules := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { _ = disp.Run(dispCtx) })
		wg.Go(func() { _ = ev.Run(evCtx) })

		start := time.Now()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		pings := transport.times(ping)
		require.GreaterOrEqual(t, len(pings), 9, "about one ping per repeat_interval over 10 minutes")
		require.Less(t, pings[0].Sub(start), groupInterval+time.Duration(cfg.EvaluationInterval), "the first ping goes out at once")
		for i := 1; i < len(pings); i++ {
			gap := pings[i].Sub(pings[i-1])
			require.GreaterOrEqual(t, gap, repeat, "ping %d", i)
			require.LessOrEqual(t, gap, repeat+groupInterval, "ping %d", i)
		}

		// The rule engine stalls. The Watchdog alert it last sent is valid
		// for 4 × the resend delay; the dispatcher then resolves it, and
		// a resolved Watchdog never pings.
		stopRules()
		stalled := time.Now()
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		after := transport.times(ping)[len(pings):]
		for _, at := range after {
			require.LessOrEqual(t, at.Sub(stalled), 4*rules.DefaultResendDelay, "a ping long after the rules stopped")
		}
		require.Empty(t, transport.times(paging), "Watchdog reached a paging receiver")
		require.Empty(t, ping.Violations())

		stopDisp()
		wg.Wait()
		require.NoError(t, rec.Close())
	})
}

// shippedConfig loads configs/tocsin.yml, edited by urls, with the shipped
// rules beside it.
func shippedConfig(t *testing.T, urls *strings.Replacer) *configs.Config {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "rules"), 0o755))
	pack, err := configs.Defaults.ReadFile("rules/liveness.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules", "liveness.yml"), pack, 0o600))
	text, err := configs.Defaults.ReadFile("tocsin.yml")
	require.NoError(t, err)
	yml := urls.Replace(string(text))
	require.NotContains(t, yml, "5001", "every vendor URL points at a fake")
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(yml), 0o600))
	cfg, err := configs.LoadFile(file)
	require.NoError(t, err)
	return cfg
}
