package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/internal/remotewrite"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/probes"
	"github.com/tocsin-alerting/tocsin/rules"
)

// Settings are the process settings that are not part of the service config.
type Settings struct {
	// StoragePath, when set, overrides storage.path from the config.
	StoragePath string
	// ExternalURL is how people reach this tocsin; pages link to it.
	ExternalURL string
	// Registerer receives every component's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Dispatcher tunes notification delivery (clock, retries); the zero
	// value is the production default.
	Dispatcher notifiers.Options
	// HTTPClient, when set, is used for every vendor call instead of the
	// clients built from each integration's http_config.
	HTTPClient *http.Client
	// Cluster, when set, makes this replica a member of a cluster, named
	// after global.replica: the notification log and heartbeats are
	// gossiped, notifications wait for this replica's position, alerts lose
	// the replica label (see sendAlerts) and ReplicaDown watches the peers.
	Cluster *cluster.Settings
	// OnResult, when set, sees every probe result after it is recorded
	// (the demo prints them); it runs on the probe's goroutine.
	OnResult func(probes.Result)
}

// Pipeline runs tocsin's whole flow for the configuration in force:
// probe results → recorder → rules (right after failures and recoveries,
// and on the tick) → dispatcher → vendors. The first Apply builds the parts; later
// ones update each part in place, so that unchanged probes, rule state and
// alert groups carry on across a reload.
type Pipeline struct {
	settings Settings
	logger   *slog.Logger

	// mu serialises Apply, Run and shutdown.
	mu         sync.Mutex
	cfg        *configs.Config
	recorder   *rules.Recorder
	scheduler  *probes.Scheduler
	evaluator  *rules.Evaluator
	dispatcher *notifiers.Dispatcher
	state      *notifiers.State
	peer       *cluster.Peer
	shard      *shard
	remote     *remotewrite.Writer
	running    bool
	started    time.Time

	outcomes      outcomes
	recent        recentFailures
	replicaAlerts activeAlerts
}

// New returns a Pipeline that runs nothing until the first Apply.
func New(settings Settings, logger *slog.Logger) *Pipeline {
	return &Pipeline{settings: settings, logger: logger}
}

// Ready reports whether a configuration is in force.
func (p *Pipeline) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg != nil
}

// Config returns the configuration in force, or nil.
func (p *Pipeline) Config() *configs.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// Apply switches the pipeline to cfg. Before Run it builds every part;
// afterwards it updates them. Everything that can be checked is checked
// before anything changes, so a bad rule file or receiver leaves the running
// pipeline exactly as it was.
func (p *Pipeline) Apply(_ context.Context, cfg *configs.Config) error {
	if p.settings.StoragePath != "" {
		cfg.Storage.Path = p.settings.StoragePath
	} else {
		cfg.Storage.Path = cfg.ResolvePath(cfg.Storage.Path)
	}
	route, receivers, err := p.buildNotify(cfg)
	if err != nil {
		return err
	}
	ruleFiles, err := cfg.RuleFilePaths()
	if err != nil {
		return err
	}
	if err := remotewrite.Check(cfg); err != nil {
		return err
	}

	p.mu.Lock()
	first := p.cfg == nil
	if first {
		err = p.build(cfg, ruleFiles, route, receivers)
	} else {
		err = p.update(cfg, ruleFiles, route, receivers)
	}
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.cfg = cfg
	p.logSummary(cfg, receivers)
	remote := p.remote
	p.mu.Unlock()
	for _, w := range cfg.RuleFileWarnings() {
		// A typo in a path would leave tocsin without the rules it names.
		p.logger.Warn(w.Error())
	}
	if !first {
		// Outside the lock: the queue of a changed entry drains for up to
		// its flush deadline, and the probes' push endpoints must not wait.
		// Check has built every client, so this does not fail on the
		// entries themselves.
		if err := remote.Apply(cfg, labelsFromSet(externalLabels(cfg))); err != nil {
			p.logger.Error("applying remote_write failed", "err", err)
		}
	}
	return nil
}

// buildNotify turns the route and receivers of cfg into the dispatcher's
// types; it changes nothing.
func (p *Pipeline) buildNotify(cfg *configs.Config) (*notifiers.Route, []*notifiers.Receiver, error) {
	if cfg.Route == nil {
		return nil, nil, nil
	}
	route, err := notifiers.NewRouteFromConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	templates, err := notifiers.TemplatesFromConfig(cfg, p.logger.With("component", "notifier"))
	if err != nil {
		return nil, nil, err
	}
	opts := integrations.Options{
		Logger:      p.logger.With("component", "notifier"),
		ExternalURL: p.settings.ExternalURL,
		HTTPClient:  p.settings.HTTPClient,
		Now:         p.now(),
		Templates:   templates,
	}
	receivers := make([]*notifiers.Receiver, 0, len(cfg.Receivers))
	for _, rc := range cfg.Receivers {
		r, err := integrations.Build(rc, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("receiver %q: %w", rc.Name, err)
		}
		receivers = append(receivers, r)
	}
	return route, receivers, nil
}

func (p *Pipeline) now() func() time.Time {
	if c := p.settings.Dispatcher.Clock; c != nil {
		return c.Now
	}
	return time.Now
}

// externalLabels are the config's external labels plus replica.
func externalLabels(cfg *configs.Config) model.LabelSet {
	ls := cfg.Global.ExternalLabels.Clone()
	if ls == nil {
		ls = model.LabelSet{}
	}
	ls["replica"] = model.LabelValue(cfg.Global.Replica)
	return ls
}

func (p *Pipeline) build(cfg *configs.Config, ruleFiles []string, route *notifiers.Route, receivers []*notifiers.Receiver) error {
	reg := p.settings.Registerer
	remote := remotewrite.New(remotewrite.Options{
		Dir:        cfg.Storage.Path,
		Logger:     p.logger.With("component", "remote_write"),
		Registerer: reg,
	})
	rec, err := rules.OpenRecorder(rules.RecorderOptions{
		Dir:           cfg.Storage.Path,
		Retention:     time.Duration(cfg.Storage.Retention),
		Logger:        p.logger.With("component", "tsdb"),
		Registerer:    reg,
		WriteNotified: remote,
	})
	if err != nil {
		return fmt.Errorf("open storage %s: %w", cfg.Storage.Path, err)
	}
	cleanup := []func(){func() { _ = rec.Close() }}
	fail := func(err error) error {
		for _, f := range slices.Backward(cleanup) {
			f()
		}
		return err
	}
	extLabels := externalLabels(cfg)
	if err := remote.Apply(cfg, labelsFromSet(extLabels)); err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, func() { _ = remote.Close() })
	ev, err := rules.NewEvaluator(rules.EvaluatorOptions{
		Files:          ruleFiles,
		Interval:       time.Duration(cfg.EvaluationInterval),
		ExternalLabels: labelsFromSet(extLabels),
		ExternalURL:    p.settings.ExternalURL,
		Storage:        rec,
		Alerts:         p.sendAlerts,
		Logger:         p.logger.With("component", "rules"),
		Registerer:     reg,
	})
	if err != nil {
		return fail(err)
	}
	if route != nil {
		opts := p.settings.Dispatcher
		opts.Logger = p.logger.With("component", "dispatcher")
		opts.Registerer = reg
		opts.ExternalURL = p.settings.ExternalURL
		opts.ExternalLabels = extLabels
		if opts.RestoreGrace == nil {
			opts.RestoreGrace = restoreGrace(cfg, ev)
		}
		if opts.State == nil {
			// The notification log, pending deliveries and the groups'
			// alerts live beside the TSDB, so a restart on the same
			// storage.path pages nobody twice and loses no page.
			if p.state, err = notifiers.OpenState(cfg.Storage.Path, 0); err != nil {
				return fail(err)
			}
			cleanup = append(cleanup, func() { _ = p.state.Close() })
			opts.State = p.state
		}
		if p.settings.Cluster != nil {
			cs := *p.settings.Cluster
			cs.Name = cfg.Global.Replica
			if p.peer, err = cluster.Join(cs, p.logger.With("component", "cluster"), reg); err != nil {
				return fail(err)
			}
			cleanup = append(cleanup, func() { _ = p.peer.Close() })
			peer := p.peer
			opts.State.SetBroadcast(peer.Replicate("nfl", opts.State))
			opts.Position, opts.PeerTimeout, opts.Ready = peer.Position, peer.PeerTimeout(), peer.WaitReady
			opts.ExternalLabels = extLabels.Clone()
			delete(opts.ExternalLabels, "replica")
		}
		if p.dispatcher, err = notifiers.NewDispatcher(route, receivers, opts); err != nil {
			return fail(err)
		}
	}
	run := p.startShard(cfg, rec, ev)
	sched, err := probes.NewScheduler(run, probes.SchedulerOptions{
		Replica: cfg.Global.Replica,
		Logger:  p.logger.With("component", "probes"),
		Sink:    p.record,
	})
	if err != nil {
		return fail(err)
	}
	if reg != nil {
		if err := reg.Register(sched); err != nil {
			return fail(fmt.Errorf("register probe metrics: %w", err))
		}
	}
	if p.shard != nil {
		p.shard.update = sched.Update
	}
	p.replicateHeartbeats(sched)
	p.registerShardMetrics(reg)
	p.recorder, p.evaluator, p.scheduler, p.remote = rec, ev, sched, remote
	p.started = time.Now()
	return nil
}

// update applies cfg to running parts. Rules are checked first, because a
// bad rule file is the likeliest bad edit; when a later part refuses the
// change, the rules that were in force come back from memory, with the
// state of their alerts: their files may already hold the new content.
func (p *Pipeline) update(cfg *configs.Config, ruleFiles []string, route *notifiers.Route, receivers []*notifiers.Receiver) error {
	old := p.cfg
	if cfg.Storage.Path != old.Storage.Path || cfg.Storage.Retention != old.Storage.Retention {
		return errors.New("storage.path and storage.retention cannot change while tocsin runs; restart tocsin to change them")
	}
	if !externalLabels(cfg).Equal(externalLabels(old)) || cfg.EvaluationInterval != old.EvaluationInterval {
		return errors.New("global.replica, global.external_labels and evaluation_interval cannot change while tocsin runs; restart tocsin to change them")
	}
	if (route == nil) != (p.dispatcher == nil) {
		return errors.New("adding or removing the route needs a restart of tocsin")
	}
	ruleSet, err := p.evaluator.Load(ruleFiles...)
	if err != nil {
		return err
	}
	prevRules := p.evaluator.Swap(ruleSet)
	if err := p.runProbes(cfg); err != nil {
		p.evaluator.Restore(prevRules)
		return err
	}
	if p.dispatcher != nil {
		if err := p.dispatcher.Update(route, receivers); err != nil {
			p.evaluator.Restore(prevRules)
			_ = p.runProbes(old)
			return err
		}
	}
	return nil
}

// restoreGrace tells how long an alert restored after a restart stays
// firing before it resolves, unless the rules say it again: time for tocsin
// to start, then twice the time for a probe to run and for the alert's own
// `for` to pass on fresh results (the longest `for` for alerts no rule
// names). A resolve that came due while tocsin was down waits this long; a
// false resolve and a new page for an outage that goes on would be worse.
func restoreGrace(cfg *configs.Config, ev *rules.Evaluator) func(*model.Alert) time.Duration {
	var probeInterval time.Duration
	for _, pc := range cfg.Probes {
		probeInterval = max(probeInterval, time.Duration(pc.Interval))
	}
	holds := map[model.LabelValue]time.Duration{}
	var longest time.Duration
	for _, g := range ev.Groups() {
		for _, r := range g.Rules() {
			if ar, ok := r.(*promrules.AlertingRule); ok {
				name := model.LabelValue(ar.Name())
				holds[name] = max(holds[name], ar.HoldDuration())
				longest = max(longest, ar.HoldDuration())
			}
		}
	}
	const startUp = 10 * time.Second
	return func(a *model.Alert) time.Duration {
		hold, ok := holds[a.Labels[model.AlertNameLabel]]
		if !ok {
			hold = longest
		}
		return startUp + 2*(hold+probeInterval+time.Duration(cfg.EvaluationInterval))
	}
}

func labelsFromSet(ls model.LabelSet) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for k, v := range ls {
		b.Add(string(k), string(v))
	}
	b.Sort()
	return b.Labels()
}

// record is the probes' sink: it stores a result's series and, when the
// result can change an alert (see wake), asks for the rule groups that read
// them to be evaluated now. It runs on the probe's goroutine and only
// appends to the TSDB head, which takes microseconds.
func (p *Pipeline) record(r probes.Result) {
	series := r.Series()
	samples := make([]rules.Sample, len(series))
	ls := make([]labels.Labels, len(series))
	for i, s := range series {
		samples[i] = rules.Sample{Labels: s.Labels, Value: s.Value, Ref: s.Ref}
		ls[i] = s.Labels
	}
	if err := p.recorder.Record(r.Time, samples); err != nil {
		// Refused samples are named in err; the others were stored and
		// their rules must still run.
		p.logger.Error("recording probe result failed", "probe", r.Probe, "err", err)
	}
	p.remote.Appended(r.Time, len(samples))
	p.recent.add(r)
	if p.shard != nil {
		p.shard.seen(r)
	}
	if p.outcomes.wake(r.Probe, r.Success) {
		p.evaluator.Trigger(ls)
	}
	if p.settings.OnResult != nil {
		p.settings.OnResult(r)
	}
}

// outcomes remembers each probe's last success, to decide which results
// wake the rules at once. A failure always does, and so does a success
// after a failure (so that a resolve leaves at once); a success after a
// success changes no alert of the shipped rules and waits for the regular
// evaluation. Waking the rules on every result would evaluate every group
// about as often as all probes together report: with a thousand probes,
// nearly two cores' worth of work for nothing.
type outcomes struct {
	mu   sync.Mutex
	last map[string]bool
}

// wake records a result and reports whether it should trigger the rules.
func (o *outcomes) wake(probe string, success bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]bool{}
	}
	prev, seen := o.last[probe]
	o.last[probe] = success
	return !success || !seen || !prev
}

// sendAlerts hands the evaluator's alerts to the dispatcher. In a cluster
// the same alert comes from every replica that sees the probe fail; with
// the replica label it would be one alert per replica, each paging on its
// own. So, as Prometheus HA pairs do with alert_relabel_configs, the label
// leaves the alert's identity and becomes the annotation `replica`, which
// notifications still show.
func (p *Pipeline) sendAlerts(_ context.Context, alerts []*model.Alert) {
	if p.dispatcher == nil || len(alerts) == 0 {
		return
	}
	if p.shard != nil {
		if alerts = p.shard.filter(alerts); len(alerts) == 0 {
			return
		}
	}
	if p.peer != nil {
		for _, a := range alerts {
			if r, ok := a.Labels["replica"]; ok {
				delete(a.Labels, "replica")
				if a.Annotations == nil {
					a.Annotations = model.LabelSet{}
				}
				a.Annotations["replica"] = r
			}
		}
	}
	p.dispatcher.Send(alerts...)
}

// Handler serves the probes' push endpoints (webhooks and heartbeats);
// mount it on probes.WebhookPath and probes.HeartbeatPath.
func (p *Pipeline) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		s := p.scheduler
		p.mu.Unlock()
		if s == nil {
			http.Error(w, "tocsin is not ready", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, r)
	})
}

// Run runs every part until ctx ends, then stops them in the order data
// flows (probes first, the dispatcher last) and closes the storage.
func (p *Pipeline) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.cfg == nil {
		p.mu.Unlock()
		return errors.New("pipeline: no configuration applied")
	}
	if p.running {
		p.mu.Unlock()
		return errors.New("pipeline: already running")
	}
	p.running = true
	sched, ev, disp, rec, remote := p.scheduler, p.evaluator, p.dispatcher, p.recorder, p.remote
	p.mu.Unlock()

	// Each stage gets its own context so that shutdown can stop them in order.
	dispCtx, stopDisp := context.WithCancel(context.WithoutCancel(ctx))
	evCtx, stopEv := context.WithCancel(context.WithoutCancel(ctx))
	var dispDone, evDone sync.WaitGroup
	if disp != nil {
		dispDone.Go(func() { _ = disp.Run(dispCtx) })
	}
	evDone.Go(func() { _ = ev.Run(evCtx) })
	evDone.Go(func() { p.watchPeers(evCtx) })
	if p.shard != nil {
		evDone.Go(func() { p.shard.run(ctx) })
	}

	// The scheduler returns once ctx ends and every probe has stopped, so
	// no result arrives after this.
	_ = sched.Run(ctx)
	stopEv()
	evDone.Wait()
	stopDisp()
	dispDone.Wait()
	if p.peer != nil {
		_ = p.peer.Close()
	}
	// The queues send what they hold, for up to their flush deadline.
	if err := remote.Close(); err != nil {
		p.logger.Warn("closing remote_write", "err", err)
	}
	if err := p.state.Close(); err != nil {
		return fmt.Errorf("close notification state: %w", err)
	}
	if err := rec.Close(); err != nil {
		return fmt.Errorf("close storage: %w", err)
	}
	return nil
}

// logSummary says at start-up and after each reload what tocsin now runs.
func (p *Pipeline) logSummary(cfg *configs.Config, receivers []*notifiers.Receiver) {
	probeNames := make([]string, len(cfg.Probes))
	for i, pc := range cfg.Probes {
		probeNames[i] = fmt.Sprintf("%s(%s every %s)", pc.Name, pc.Kind(), pc.Interval)
	}
	groups := p.evaluator.Groups()
	groupNames := make([]string, len(groups))
	for i, g := range groups {
		groupNames[i] = fmt.Sprintf("%s(%d rules)", filepath.Base(g.File())+":"+g.Name(), len(g.Rules()))
	}
	recv := make([]string, len(receivers))
	for i, r := range receivers {
		names := make([]string, len(r.Integrations))
		for j, in := range r.Integrations {
			names[j] = in.Name
		}
		recv[i] = fmt.Sprintf("%s(%s: %s)", r.Name, r.Strategy, strings.Join(names, ", "))
	}
	var timeToPage string
	if route, err := notifiers.NewRouteFromConfig(cfg); err == nil {
		timeToPage = notifiers.TimeToPage(route, receivers)
	}
	p.logger.Info("pipeline ready",
		"replica", cfg.Global.Replica,
		"probes", strings.Join(probeNames, " "),
		"rule_groups", strings.Join(groupNames, " "),
		"receivers", strings.Join(recv, " "),
		"worst_case_time_to_page", timeToPage)
}
