package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// urlSecret is the token a webhook URL carries in these tests; it must
// never show anywhere but in the request itself.
const urlSecret = "s3cr3tT0k3n42"

// loadHooks loads a config whose receiver hooks holds the integration
// written in yml (the lines under the receiver's name).
func loadHooks(t *testing.T, dir, yml string) (*configs.Config, error) {
	t.Helper()
	return configs.Load(filepath.Join(dir, "tocsin.yml"), []byte("global: {replica: eu-1}\nroute: {receiver: hooks}\nreceivers:\n- name: hooks\n  webhook_configs:\n"+yml))
}

// teamNotification is a firing group of one alert, grouped by team.
func teamNotification(team string) *notifiers.Notification {
	labels := model.LabelSet{"alertname": "ProbeFailing", "team": model.LabelValue(team)}
	groupLabels := model.LabelSet{"team": model.LabelValue(team)}
	if team == "" {
		delete(labels, "team")
		groupLabels = model.LabelSet{}
	}
	return &notifiers.Notification{
		Receiver: "hooks", GroupKey: "{}:" + groupLabels.String(), DedupKey: "d", Status: model.AlertFiring,
		GroupLabels: groupLabels, CommonLabels: labels, ExternalURL: "http://tocsin.example",
		Alerts: []*model.Alert{{Labels: labels, StartsAt: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)}},
	}
}

// TestURLTemplateReachesThePathItNames: a url, or a url_file, written as
// a template is rendered for each group and the payload reaches the path
// it names, the one Alertmanager's own webhook notifier posts to.
func TestURLTemplateReachesThePathItNames(t *testing.T) {
	fake := notifiertest.NewWebhook()
	defer fake.Close()
	tmpl := fake.URL() + "/hook/{{ .GroupLabels.team }}/" + urlSecret
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook-url"), []byte(tmpl+"\n"), 0o600))

	for name, integration := range map[string]string{
		"url":      "  - url: '" + tmpl + "'\n",
		"url_file": "  - url_file: hook-url\n",
	} {
		t.Run(name, func(t *testing.T) {
			before := len(fake.Requests())
			cfg, err := loadHooks(t, dir, integration)
			require.NoError(t, err)
			require.Empty(t, notifiers.CheckTemplates(cfg))
			n, err := webhook.New(cfg.Receivers[0].WebhookConfigs[0], notifiers.VendorOptions{})
			require.NoError(t, err)
			for _, team := range []string{"team-a", "team-b"} {
				_, err := n.Notify(t.Context(), teamNotification(team))
				require.NoError(t, err)
			}
			reqs := fake.Requests()[before:]
			require.Len(t, reqs, 2)
			require.Equal(t, "/hook/team-a/"+urlSecret, reqs[0].Path)
			require.Equal(t, "/hook/team-b/"+urlSecret, reqs[1].Path)
			require.Empty(t, fake.Violations())
		})
	}

	// Alertmanager loads the same url and posts to the same path.
	alertmanagerNotifies(t, "\n    webhook_configs:\n    - url: '"+tmpl+"'\n", teamNotification("team-a"))
	reqs := fake.Requests()
	require.Equal(t, "/hook/team-a/"+urlSecret, reqs[len(reqs)-1].Path)
}

// TestURLTemplateProblemsArePlaced: a url template that does not parse is
// refused when the config loads; one that cannot render, or renders to no
// absolute http or https URL, is reported by check config at its line and
// column (at url_file when it came from there), without the URL.
func TestURLTemplateProblemsArePlaced(t *testing.T) {
	dir := t.TempDir()
	writeURL := func(text string) string {
		f, err := os.CreateTemp(dir, "url")
		require.NoError(t, err)
		_, err = f.WriteString(text)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		return f.Name()
	}
	const base = "http://hooks.example/" + urlSecret
	cases := map[string]struct {
		integration string
		loadErr     string
		checkErr    string
		newErr      string
	}{
		"bad syntax": {integration: "  - url: '" + base + "/{{ .GroupLabels.team '\n",
			loadErr: "tocsin.yml:6:10: url: bad template (URL not shown, it may hold a secret):"},
		"cannot render": {integration: "  - url: '" + base + "/{{ .CommonLabels.Nope.Deeper }}'\n",
			checkErr: "tocsin.yml:6:62: url: template cannot render: line 1:51: <.CommonLabels.Nope.Deeper>: can't evaluate field Deeper",
			newErr:   "webhook: render url (not shown, it may hold a secret): line 1:51:"},
		"renders to empty": {integration: "  - url: '{{ .CommonAnnotations.hook }}'\n",
			checkErr: "tocsin.yml:6:10: url: with the sample firing alerts, the template renders to an empty URL"},
		"renders to no http URL": {integration: "  - url: '{{ if eq .Status \"resolved\" }}ftp{{ else }}http{{ end }}://hooks.example/" + urlSecret + "'\n",
			checkErr: "tocsin.yml:6:10: url: with the sample resolved alerts, the template renders to no absolute http or https URL: URL must use http or https (URL not shown, it may hold a secret)"},
		"relative": {integration: "  - url: '/hook/{{ .GroupLabels.alertname }}/" + urlSecret + "'\n",
			checkErr: "tocsin.yml:6:10: url: with the sample firing alerts, the template renders to no absolute http or https URL: URL must use http or https"},
		"url_file cannot render": {integration: "  - url_file: " + writeURL(base+"/{{ .CommonLabels.Nope.Deeper }}\n") + "\n",
			checkErr: "tocsin.yml:6:15: url_file: template cannot render: line 1:51:",
			newErr:   "webhook: render url (not shown, it may hold a secret): line 1:51:"},
		"url_file bad syntax": {integration: "  - url_file: " + writeURL(base+"/{{ end }}") + "\n",
			loadErr: "tocsin.yml:6:15: url_file: bad template (URL not shown, it may hold a secret):"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadHooks(t, dir, c.integration)
			if c.loadErr != "" {
				require.ErrorContains(t, err, c.loadErr)
				requireNoURL(t, err.Error())
				return
			}
			require.NoError(t, err)
			errs := notifiers.CheckTemplates(cfg)
			require.Len(t, errs, 1, "%v", errs)
			require.Contains(t, errs[0].Error(), c.checkErr)
			requireNoURL(t, errs[0].Error())
			_, err = webhook.New(cfg.Receivers[0].WebhookConfigs[0], notifiers.VendorOptions{})
			if c.newErr == "" {
				require.NoError(t, err, "only check config judges the URL the sample alerts give")
				return
			}
			require.ErrorContains(t, err, c.newErr)
			requireNoURL(t, err.Error())
		})
	}
}

// requireNoURL fails when text shows the test URLs' secret part.
func requireNoURL(t *testing.T, text string) {
	t.Helper()
	require.NotContains(t, text, urlSecret)
	require.NotContains(t, text, "hooks.example")
	require.NotContains(t, text, "/hook/")
}

// TestURLRenderingToEmptyFails: a url that renders to nothing for a
// notification is refused for good before any request, with an error
// that says so and does not show the URL.
func TestURLRenderingToEmptyFails(t *testing.T) {
	fake := notifiertest.NewWebhook()
	defer fake.Close()
	cfg, err := loadHooks(t, t.TempDir(), "  - url: '{{ with .CommonLabels.severity }}"+fake.URL()+"/hook/{{ . }}/"+urlSecret+"{{ end }}'\n")
	require.NoError(t, err)
	require.Empty(t, notifiers.CheckTemplates(cfg))
	var logs bytes.Buffer
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)

	retry, err := r.Integrations[0].Notifier.Notify(t.Context(), teamNotification(""))
	require.EqualError(t, err, "webhook: url: the template renders to an empty URL")
	require.False(t, retry, "the same notification renders the same URL")
	require.Zero(t, fake.Attempts())

	results := notifiers.SendToAll(t.Context(), r, teamNotification(""), notifiers.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.Equal(t, notifiers.OutcomeRejected, results[0].Outcome)
	require.Equal(t, 1, results[0].Attempts)
	require.ErrorContains(t, results[0].Err, "renders to an empty URL")
	requireNoURL(t, logs.String())
	require.NotContains(t, logs.String(), fake.URL())
}

// TestRenderedURLNeverLeaks: whatever the vendor answers, or when it cannot
// be reached at all, neither the errors, the logs nor the metrics show the
// URL the template rendered to, even where a vendor echoes it.
func TestRenderedURLNeverLeaks(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no receiver at "+r.URL.String(), http.StatusNotFound)
	}))
	defer echo.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // connection refused: Go's error names the whole URL
	fake := notifiertest.NewWebhook(notifiertest.WithMode(notifiertest.Reject))
	defer fake.Close()

	for name, server := range map[string]string{"echoing": echo.URL, "unreachable": refused.URL, "refusing": fake.URL()} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := loadHooks(t, dir, "  - url: '"+server+"/hook/{{ .GroupLabels.team }}?token="+urlSecret+"'\n")
			require.NoError(t, err)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r, err := integrations.Build(cfg.Receivers[0], integrations.Options{Logger: log})
			require.NoError(t, err)
			reg := newRegistry()
			results := notifiers.SendToAll(t.Context(), r, teamNotification("team-a"),
				notifiers.Options{Logger: log, Registerer: reg, MaxDeliveryTime: time.Millisecond, BackoffMin: time.Hour})
			require.False(t, results[0].Accepted)
			for _, text := range []string{results[0].Err.Error(), logs.String(), reg.dump(t)} {
				requireNoURL(t, text)
				require.NotContains(t, text, "team-a")
			}
			if name == "echoing" {
				require.Contains(t, results[0].Err.Error(), "no receiver at <secret>", "the vendor's reason is kept, scrubbed")
			}
			var out bytes.Buffer
			require.NoError(t, yaml.NewEncoder(&out).Encode(cfg.Receivers[0].WebhookConfigs[0]))
			require.Contains(t, out.String(), "url: <secret>", "the status page and API show the config this way")
			requireNoURL(t, out.String())
		})
	}
}

// TestRetryPostsToTheSameURL: every attempt of a delivery renders the url
// from the same notification, so the retry after a 5xx reaches the path
// the first attempt did.
func TestRetryPostsToTheSameURL(t *testing.T) {
	fake := notifiertest.NewWebhook(notifiertest.WithMode(notifiertest.Fail))
	defer fake.Close()
	cfg, err := loadHooks(t, t.TempDir(), "  - url: '"+fake.URL()+"/hook/{{ .GroupLabels.team }}/{{ len .Alerts }}'\n    max_alerts: 1\n")
	require.NoError(t, err)
	transport := watch(func() { fake.SetMode(notifiertest.Accept) })
	defer transport.next.CloseIdleConnections()
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{HTTPClient: &http.Client{Transport: transport}})
	require.NoError(t, err)
	notif := teamNotification("team-a")
	notif.Alerts = append(notif.Alerts, &model.Alert{Labels: model.LabelSet{"alertname": "ProbeSlow", "team": "team-a"}, StartsAt: notif.Alerts[0].StartsAt})

	results := notifiers.SendToAll(t.Context(), r, notif, notifiers.Options{BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	require.True(t, results[0].Accepted, "%v", results[0].Err)
	require.Equal(t, 2, results[0].Attempts)
	require.Equal(t, 2, fake.Attempts())
	require.Empty(t, fake.Violations(), "the first attempt reached the path too")
	require.Equal(t, []string{"/hook/team-a/1", "/hook/team-a/1"}, transport.seen(), "the templates see the alerts max_alerts keeps")
}

// watched is a transport that records the path of every request and
// calls answered once the first has had its answer.
type watched struct {
	next     *http.Transport
	answered func()
	once     sync.Once
	mu       sync.Mutex
	paths    []string
}

func watch(answered func()) *watched {
	return &watched{next: http.DefaultTransport.(*http.Transport).Clone(), answered: answered}
}

func (w *watched) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.paths = append(w.paths, r.URL.Path)
	w.mu.Unlock()
	resp, err := w.next.RoundTrip(r)
	w.once.Do(w.answered)
	return resp, err
}

func (w *watched) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.paths...)
}

// registry holds the metrics of one test.
type registry struct{ *prometheus.Registry }

func newRegistry() registry { return registry{prometheus.NewRegistry()} }

// dump is every metric in the text format, labels and all.
func (r registry) dump(t *testing.T) string {
	t.Helper()
	mfs, err := r.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&b, mf)
		require.NoError(t, err)
	}
	return b.String()
}

// TestResumedDeliveryPostsToTheSameURL: a delivery whose first attempt
// failed, cut short as by a crash, resumes after the restart from the
// outbox and the group's alerts on disk, and reaches the URL the first
// attempt was rendered to.
func TestResumedDeliveryPostsToTheSameURL(t *testing.T) {
	pages := make(chan notifiertest.Page, 1)
	fake := notifiertest.NewWebhook(notifiertest.WithMode(notifiertest.Fail), notifiertest.OnPage(func(p notifiertest.Page) { pages <- p }))
	defer fake.Close()
	dir := t.TempDir()
	cfg, err := configs.Load(filepath.Join(dir, "tocsin.yml"), []byte("global: {replica: eu-1}\n"+
		"route: {receiver: hooks, group_by: [team], group_wait: 0s}\n"+
		"receivers:\n- name: hooks\n  webhook_configs:\n  - url: '"+fake.URL()+"/hook/{{ .GroupLabels.team }}/"+urlSecret+"'\n"))
	require.NoError(t, err)

	// start runs a dispatcher on the state in dir until stop, which
	// leaves the state as a crash would: nothing is written after it.
	start := func(transport *watched) (send func(...*model.Alert), stop func()) {
		state, err := notifiers.OpenState(dir, 0)
		require.NoError(t, err)
		r, err := integrations.Build(cfg.Receivers[0], integrations.Options{HTTPClient: &http.Client{Transport: transport}})
		require.NoError(t, err)
		route, err := notifiers.NewRoute(cfg.Route)
		require.NoError(t, err)
		d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{r}, notifiers.Options{State: state, BackoffMin: time.Hour, BackoffMax: time.Hour})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		return d.Send, func() {
			cancel()
			require.NoError(t, <-done)
			transport.next.CloseIdleConnections()
			require.NoError(t, state.Close())
		}
	}

	failed := make(chan struct{})
	before := watch(func() { close(failed) })
	send, stop := start(before)
	now := time.Now()
	send(&model.Alert{Labels: model.LabelSet{"alertname": "ProbeFailing", "team": "team-a"}, StartsAt: now, EndsAt: now.Add(time.Hour)})
	<-failed // the first attempt got a 500; the retry waits an hour
	stop()

	fake.SetMode(notifiertest.Accept)
	after := watch(func() {})
	_, stop = start(after)
	defer stop()
	page := <-pages // no alert was sent again: the outbox alone pages
	require.Equal(t, "firing", page.Action)
	require.Equal(t, []string{"/hook/team-a/" + urlSecret}, before.seen())
	require.Equal(t, before.seen(), after.seen())
	require.Empty(t, fake.Violations())
}
