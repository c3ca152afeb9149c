// Package scenario assembles the particle incident in one process: a device
// cloud whose relay can be broken, fake paging vendors, and a real tocsin
// pipeline that probes the cloud and pages through the vendors. The demo
// (`make demo`), the end-to-end tests and the time-to-page benchmark all
// run this same scenario.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/internal/server"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/internal/ui"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/probes"
)

// Probe names of the scenario, as they appear in alerts.
const (
	ProbeBrokerRoundTrip = "broker-roundtrip"
	ProbeDeviceToWebhook = "device-to-webhook"
	ProbeDeviceToEvents  = "device-to-events-api"
	ProbeFrontDoor       = "front-door"
	ProbeWatchdog        = "legacy-alerting-watchdog"
)

// Credentials the fake vendors insist on; they are test values.
const (
	pagerDutyKey   = "R0UT1NGKEY00000000000000000000AB"
	opsgenieKey    = "00000000-0000-4000-8000-0000000000aa"
	watchdogToken  = "watchdog-token"
	ruleFileName   = "liveness.yml"
	configFileName = "tocsin.yml"
)

// Options shape the scenario. Zero values give the demo's settings.
type Options struct {
	// Dir holds the generated config, rule file and TSDB; required.
	Dir string
	// Interval and Timeout of every probe; defaults 1s and 800ms.
	Interval, Timeout time.Duration
	// Rules is the rule file; empty means the shipped liveness pack.
	Rules string
	// Strategy of the on-call receiver: "all" (default) or "failover",
	// in the order PagerDuty, Opsgenie, Slack.
	Strategy      string
	FailoverAfter time.Duration
	// GroupInterval of the route; default 2s so that resolves show quickly.
	GroupInterval time.Duration
	// Watchdog adds a heartbeat probe that WatchdogBeat feeds, with this grace.
	Watchdog time.Duration
	// Probes, when set, keeps only the named probes (Probe* constants).
	Probes []string
	// Logger receives tocsin's and the cloud's logs; nil discards them.
	Logger *slog.Logger
	// OnPage is called with every page a fake vendor accepts.
	OnPage func(notifiertest.Page)
	// OnResult is called with every probe result, after it is recorded.
	OnResult func(probes.Result)
	// Dispatcher tunes delivery (retries, attempt timeout). Its Silences
	// default to the scenario's store.
	Dispatcher notifiers.Options
	// Silences is the store the status pages show and change; nil makes
	// one, kept under storage.path.
	Silences *silences.Store
}

// Scenario is the running incident set-up.
type Scenario struct {
	Cloud     *devicecloud.DeviceCloud
	PagerDuty *notifiertest.Server
	Opsgenie  *notifiertest.Server
	Slack     *notifiertest.Server
	// TocsinURL is where tocsin listens (http://127.0.0.1:PORT).
	TocsinURL string
	// ConfigFile is tocsin's generated configuration.
	ConfigFile string
	Pipeline   *pipeline.Pipeline
	Registry   *prometheus.Registry
	Silences   *silences.Store

	reloader *pipeline.Reloader
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		return errors.New("scenario: Dir is required")
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 800 * time.Millisecond
	}
	if o.Strategy == "" {
		o.Strategy = configs.StrategyAll
	}
	if o.FailoverAfter == 0 {
		o.FailoverAfter = 2 * time.Second
	}
	if o.GroupInterval == 0 {
		o.GroupInterval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rules == "" {
		pack, err := configs.Defaults.ReadFile("rules/liveness.yml")
		if err != nil {
			return fmt.Errorf("scenario: shipped rule pack: %w", err)
		}
		o.Rules = string(pack)
	}
	return nil
}

// Start brings up the device cloud, the vendors and tocsin, and returns once
// tocsin serves and probes.
func Start(opts Options) (s *Scenario, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s = &Scenario{Registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	onPage := func(p notifiertest.Page) {
		if opts.OnPage != nil {
			opts.OnPage(p)
		}
	}
	s.PagerDuty = notifiertest.NewPagerDuty(pagerDutyKey, notifiertest.OnPage(onPage))
	s.Opsgenie = notifiertest.NewOpsgenie(opsgenieKey, notifiertest.OnPage(onPage))
	s.Slack = notifiertest.NewSlackWebhook(notifiertest.OnPage(onPage))
	if s.Cloud, err = devicecloud.Start(devicecloud.Config{Logger: opts.Logger.With("component", "devicecloud")}); err != nil {
		return s, err
	}

	srv := server.New(server.Options{ListenAddress: "127.0.0.1:0", Logger: opts.Logger, Gatherer: s.Registry})
	if err := srv.Listen(); err != nil {
		return s, err
	}
	s.TocsinURL = "http://" + srv.Addr().String()
	s.Cloud.AddWebhook(s.TocsinURL + probes.WebhookPath + ProbeDeviceToWebhook)

	s.ConfigFile = filepath.Join(opts.Dir, configFileName)
	if err := s.writeConfig(opts); err != nil {
		return s, err
	}
	s.Silences = opts.Silences
	if s.Silences == nil {
		s.Silences = silences.New(silences.Options{Logger: opts.Logger})
	}
	if opts.Dispatcher.Silences == nil {
		opts.Dispatcher.Silences = s.Silences
	}
	s.Pipeline = pipeline.New(pipeline.Settings{
		ExternalURL: s.TocsinURL,
		Registerer:  s.Registry,
		Dispatcher:  opts.Dispatcher,
		OnResult:    opts.OnResult,
	}, opts.Logger)
	s.reloader = pipeline.NewReloader(s.ConfigFile, s.Pipeline.Apply, opts.Logger, s.Registry)
	if err := s.reloader.Reload(context.Background()); err != nil {
		return s, err
	}
	srv.Handle(probes.WebhookPath, s.Pipeline.Handler())
	srv.Handle(probes.HeartbeatPath, s.Pipeline.Handler())
	if err := s.Silences.Open(s.Pipeline.Config().Storage.Path); err != nil {
		return s, err
	}
	pages, err := ui.New(ui.Options{Source: s.Pipeline, Silences: s.Silences, ExternalURL: s.TocsinURL, Logger: opts.Logger})
	if err != nil {
		return s, err
	}
	pages.Mount(srv, "")

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { _ = srv.Serve(ctx) })
	s.wg.Go(func() { _ = s.Pipeline.Run(ctx) })
	return s, nil
}

// Reload re-reads the config file, as SIGHUP does.
func (s *Scenario) Reload(ctx context.Context) error { return s.reloader.Reload(ctx) }

// RuleFile is the path of the rule file tocsin reads.
func (s *Scenario) RuleFile() string { return filepath.Join(filepath.Dir(s.ConfigFile), ruleFileName) }

// WatchdogBeat sends one heartbeat for the watchdog probe, as the other
// alerting system would.
func (s *Scenario) WatchdogBeat(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TocsinURL+probes.HeartbeatPath+ProbeWatchdog, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+watchdogToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("heartbeat: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Close stops tocsin, the vendors and the cloud, and waits for them.
func (s *Scenario) Close() {
	s.closed.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		for _, v := range []*notifiertest.Server{s.PagerDuty, s.Opsgenie, s.Slack} {
			if v != nil {
				v.Close()
			}
		}
		if s.Cloud != nil {
			_ = s.Cloud.Close()
		}
	})
}

var configTemplate = template.Must(template.New("tocsin.yml").Parse(`# Generated by the particle scenario.
global:
  replica: demo-1
  external_labels: {team: device-cloud}
storage: {path: data/}
rule_files: [{{.RuleFile}}]
evaluation_interval: 5s
probes:
{{- if call .Keep .P.BrokerRoundTrip}}
# The incident's blind spot: a message through the broker and back.
- name: {{.P.BrokerRoundTrip}}
  interval: {{.Interval}}
  timeout: {{.Timeout}}
  labels: {service: device-broker}
  roundtrip:
    send:   {mqtt: {url: '{{.MQTT}}', topic: canary/ping, qos: 1}}
    expect: {mqtt: {url: '{{.MQTT}}', topic: canary/ping, qos: 1}}
{{- end}}
{{- if call .Keep .P.DeviceToWebhook}}
# Device → broker → webhook integration → tocsin's own endpoint.
- name: {{.P.DeviceToWebhook}}
  interval: {{.Interval}}
  timeout: {{.Timeout}}
  labels: {service: webhooks}
  roundtrip:
    send:   {mqtt: {url: '{{.MQTT}}', topic: devices/canary/events/webhook-ping, qos: 1}}
    expect: {webhook: {}}
{{- end}}
{{- if call .Keep .P.DeviceToEvents}}
# Device → broker → the cloud's event stream (SSE).
- name: {{.P.DeviceToEvents}}
  interval: {{.Interval}}
  timeout: {{.Timeout}}
  labels: {service: events-api}
  roundtrip:
    send:   {mqtt: {url: '{{.MQTT}}', topic: devices/canary/events/sse-ping, qos: 1}}
    expect: {sse: {url: '{{.Events}}'}}
{{- end}}
{{- if call .Keep .P.FrontDoor}}
# The check that stayed green during the incident.
- name: {{.P.FrontDoor}}
  interval: {{.Interval}}
  timeout: {{.Timeout}}
  labels: {service: api}
  http: {url: '{{.HTTP}}/healthz', valid_status_codes: [200]}
{{- end}}
{{- if .Watchdog}}
# Another alerting system must call tocsin; silence means it is dead.
- name: {{.P.Watchdog}}
  interval: {{.Interval}}
  timeout: {{.Timeout}}
  labels: {service: legacy-alerting}
  heartbeat: {grace: {{.Watchdog}}, token: {{.Token}}}
{{- end}}
route:
  receiver: oncall
  group_by: [alertname, probe]
  group_wait: 0s
  group_interval: {{.GroupInterval}}
  repeat_interval: 1h
  routes:
  # Watchdog, the shipped pack's feed of the dead-man's switch, always
  # fires; it must never page. The demo has no heartbeat vendor to ping.
  - matchers: ['alertname="Watchdog"']
    receiver: deadman
receivers:
- name: deadman
- name: oncall
  strategy: {{.Strategy}}
  failover_after: {{.FailoverAfter}}
  pagerduty_configs: [{routing_key: {{.PDKey}}, url: '{{.PDURL}}'}]
  opsgenie_configs:  [{api_key: {{.OGKey}}, api_url: '{{.OGURL}}'}]
  slack_configs:     [{api_url: '{{.SlackURL}}', channel: '#oncall', send_resolved: true}]
`))

func (s *Scenario) writeConfig(o Options) error {
	dir := filepath.Dir(s.ConfigFile)
	if err := os.WriteFile(filepath.Join(dir, ruleFileName), []byte(o.Rules), 0o600); err != nil {
		return err
	}
	var b strings.Builder
	keep := func(name string) bool { return len(o.Probes) == 0 || slices.Contains(o.Probes, name) }
	err := configTemplate.Execute(&b, map[string]any{
		"Keep": keep,
		"P": map[string]string{
			"BrokerRoundTrip": ProbeBrokerRoundTrip, "DeviceToWebhook": ProbeDeviceToWebhook,
			"DeviceToEvents": ProbeDeviceToEvents, "FrontDoor": ProbeFrontDoor, "Watchdog": ProbeWatchdog,
		},
		"RuleFile": ruleFileName, "Interval": o.Interval, "Timeout": o.Timeout,
		"MQTT": s.Cloud.MQTTURL(), "HTTP": s.Cloud.HTTPURL(), "Events": s.Cloud.EventsURL(),
		"Watchdog": durationOrEmpty(o.Watchdog), "Token": watchdogToken,
		"GroupInterval": o.GroupInterval, "Strategy": o.Strategy, "FailoverAfter": o.FailoverAfter,
		"PDKey": pagerDutyKey, "PDURL": s.PagerDuty.APIURL(),
		"OGKey": opsgenieKey, "OGURL": s.Opsgenie.APIURL(),
		"SlackURL": s.Slack.APIURL(),
	})
	if err != nil {
		return err
	}
	return os.WriteFile(s.ConfigFile, []byte(b.String()), 0o600)
}

func durationOrEmpty(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
