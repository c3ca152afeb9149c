package amapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/amapi"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// amtool is the path of Alertmanager's amtool, built for the tests from
// the module version in go.mod; empty when it could not be built.
var amtool, amtoolErr = "", error(nil)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "amtool")
	if err != nil {
		panic(err)
	}
	amtool, amtoolErr = buildAmtool(dir)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// buildAmtool builds amtool in Alertmanager's own module, at the version
// tocsin's go.mod requires, with the dependencies Alertmanager pins.
func buildAmtool(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/alertmanager").Output()
	if err != nil {
		return "", fmt.Errorf("find alertmanager module: %w", err)
	}
	bin := filepath.Join(dir, "amtool")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/amtool")
	cmd.Dir = strings.TrimSpace(string(out))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build amtool: %w: %s", err, b)
	}
	return bin, nil
}

// env is a dispatcher paging a fake webhook vendor, with silences and
// the API in front of it.
type env struct {
	url      string
	vendor   *notifiertest.Server
	pages    chan notifiertest.Page
	silences *silences.Store
	disp     *notifiers.Dispatcher
}

// dispatcherAlerts gives the API a bare dispatcher.
type dispatcherAlerts struct{ d *notifiers.Dispatcher }

func (a dispatcherAlerts) Ingest(alerts ...*model.Alert) error {
	a.d.Send(alerts...)
	return nil
}

func (a dispatcherAlerts) AlertGroups() []notifiers.AlertGroup { return a.d.AlertGroups() }

func testConfig(vendorURL string) *configs.Config {
	wait, interval, repeat := model.Duration(50*time.Millisecond), model.Duration(200*time.Millisecond), model.Duration(4*time.Hour)
	return &configs.Config{
		Route: &configs.Route{
			Receiver: "oncall", GroupBy: []model.LabelName{"service"},
			GroupWait: &wait, GroupInterval: &interval, RepeatInterval: &repeat,
			Routes: []*configs.Route{{Receiver: "chat", Matchers: []string{`severity="info"`}}},
		},
		InhibitRules: []*configs.InhibitRule{{
			SourceMatchers: []string{`alertname="SiteDown"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"service"},
		}},
		Receivers: []*configs.ReceiverConfig{
			{Name: "oncall", Strategy: configs.StrategyAll, WebhookConfigs: []*configs.WebhookConfig{{
				URL: config.Secret(vendorURL),
			}}},
			{Name: "chat", Strategy: configs.StrategyAll, WebhookConfigs: []*configs.WebhookConfig{{
				URL: config.Secret(vendorURL + "?secret-token=s3cr3t"),
			}}},
		},
	}
}

func newEnv(t testing.TB, opts amapi.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, func(*configs.Config) {})
}

// newEnvWith is newEnv with a change to the test config.
func newEnvWith(t testing.TB, opts amapi.Options, change func(*configs.Config)) *env {
	t.Helper()
	e := &env{pages: make(chan notifiertest.Page, 100)}
	e.vendor = notifiertest.NewWebhook(notifiertest.OnPage(func(p notifiertest.Page) { e.pages <- p }))
	t.Cleanup(e.vendor.Close)
	cfg := testConfig(e.vendor.APIURL())
	change(cfg)
	route, err := notifiers.NewRouteFromConfig(cfg)
	require.NoError(t, err)
	var receivers []*notifiers.Receiver
	for _, rc := range cfg.Receivers {
		r, err := integrations.Build(rc, integrations.Options{})
		require.NoError(t, err)
		receivers = append(receivers, r)
	}
	dir := t.TempDir()
	state, err := notifiers.OpenState(dir, 0)
	require.NoError(t, err)
	e.silences = silences.New(silences.Options{Registerer: prometheus.NewRegistry()})
	require.NoError(t, e.silences.Open(dir))
	e.disp, err = notifiers.NewDispatcher(route, receivers, notifiers.Options{State: state, Silences: e.silences})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.disp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = state.Close() })

	opts.Alerts = dispatcherAlerts{e.disp}
	opts.Silences = e.silences
	opts.Config = func() *configs.Config { return cfg }
	srv := httptest.NewServer(amapi.New(opts))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// nextPage waits for the vendor's next page and returns the names of
// the firing alerts it carries.
func (e *env) nextPage(t *testing.T) []string {
	t.Helper()
	select {
	case <-e.pages:
	case <-time.After(10 * time.Second):
		t.Fatal("no page arrived")
	}
	reqs := e.vendor.Requests()
	msg, err := notifiertest.DecodeWebhook(reqs[len(reqs)-1].Body)
	require.NoError(t, err)
	var names []string
	for _, a := range msg.Alerts {
		if a.Status == "firing" {
			names = append(names, a.Labels["alertname"])
		}
	}
	slices.Sort(names)
	return names
}

// pagedTogether waits for n pages, which may arrive at once from
// different groups, and returns the names of the firing alerts of all.
func (e *env) pagedTogether(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-e.pages:
		case <-time.After(10 * time.Second):
			t.Fatal("no page arrived")
		}
	}
	var names []string
	for _, r := range e.vendor.Requests() {
		msg, err := notifiertest.DecodeWebhook(r.Body)
		require.NoError(t, err)
		for _, a := range msg.Alerts {
			if a.Status == "firing" {
				names = append(names, a.Labels["alertname"])
			}
		}
	}
	slices.Sort(names)
	return names
}

// post sends body to the API and returns the status and the answer.
func (e *env) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// get fetches path and returns the status and the answer.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// amtool runs amtool against the API and returns its standard output.
func (e *env) amtool(t *testing.T, args ...string) string {
	t.Helper()
	if amtool == "" {
		// CI proves the compatibility: there, a missing amtool fails.
		msg := fmt.Sprintf("amtool could not be built from the module cache, so its compatibility is not tested: %v", amtoolErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(amtool, append([]string{"--alertmanager.url=" + e.url}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no amtool config of the user
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "amtool %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}
