// Package probes checks from the outside that messages still flow: it sends
// synthetic messages through brokers and relays, calls HTTP and TCP
// endpoints, and watches pushed heartbeats. Each run yields a Result, whose
// series the recorder stores and /metrics exposes.
package probes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Prober runs one probe. Probe never blocks longer than the probe's timeout
// (or ctx, whichever ends first) and never returns without a Result.
type Prober interface {
	Probe(ctx context.Context) Result
	// Close releases the probe's connections and endpoints.
	Close()
}

// Reason says why a run failed; it is the `reason` label of
// probe_failures_total. The set is small and fixed so that rules can match it.
type Reason string

// The failure reasons.
const (
	ReasonConnect          Reason = "connect"           // no connection (refused, DNS, hanging handshake)
	ReasonPublish          Reason = "publish"           // the nonce could not be sent or was not acknowledged
	ReasonSubscribe        Reason = "subscribe"         // the expect side could not subscribe or open its stream
	ReasonTimeout          Reason = "timeout"           // the deadline passed mid-exchange
	ReasonLost             Reason = "lost"              // sent, but the nonce did not come back in time
	ReasonLate             Reason = "late"              // counted when a lost nonce arrives after its deadline
	ReasonHTTPStatus       Reason = "http_status"       // a status code outside the valid ones
	ReasonBody             Reason = "body"              // the body or line did not match what was expected
	ReasonTLS              Reason = "tls"               // handshake failed, or TLS where none was wanted
	ReasonHeartbeatMissing Reason = "heartbeat_missing" // no heartbeat within grace
)

// kindReasons are the reasons each kind can report; probe_failures_total
// starts at 0 for each, so that increase() sees the first failure.
var kindReasons = map[string][]Reason{
	"roundtrip": {ReasonConnect, ReasonPublish, ReasonSubscribe, ReasonTimeout, ReasonLost, ReasonLate, ReasonHTTPStatus, ReasonTLS},
	"http":      {ReasonConnect, ReasonTimeout, ReasonTLS, ReasonHTTPStatus, ReasonBody},
	"tcp":       {ReasonConnect, ReasonTimeout, ReasonTLS, ReasonBody},
	"heartbeat": {ReasonHeartbeatMissing},
}

// Result is the outcome of one run of one probe.
type Result struct {
	Probe   string
	Kind    string
	Replica string
	// Labels are the probe's own labels from its config.
	Labels labels.Labels
	// Time is when the run started.
	Time    time.Time
	Success bool
	// Duration is the whole run.
	Duration time.Duration
	// RoundTrip is send → receipt of the nonce; zero when not measured.
	RoundTrip time.Duration
	// Reason is empty on success.
	Reason Reason
	// Detail explains a failure for people (logs, `tocsin probe`); it never
	// holds secrets.
	Detail string
	// Failures are the running counts per reason since the probe started,
	// including this run.
	Failures map[Reason]uint64

	// HTTPStatusCode of the last response; 0 when none.
	HTTPStatusCode int
	// HTTPPhases are blackbox_exporter's phases of an HTTP probe.
	HTTPPhases *HTTPPhases
	// CertExpiry is the earliest NotAfter of the peer's chain; zero when no TLS.
	CertExpiry time.Time
	// LastHeartbeat is when the last heartbeat arrived; zero when none yet.
	LastHeartbeat time.Time

	// series is the prober's cache of its series; nil builds them afresh.
	series *seriesCache
}

// HTTPPhases splits an HTTP probe's duration the way blackbox_exporter does.
type HTTPPhases struct {
	Resolve, Connect, TLS, Processing, Transfer time.Duration
}

// Options are what every prober needs besides its config.
type Options struct {
	// Replica is this tocsin's id; it goes into every nonce and series.
	Replica string
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Endpoints receives webhook calls and heartbeats; nil gives the prober
	// a private one (see Endpoints.Handler to serve it).
	Endpoints *Endpoints

	// conns shares broker connections between probers; nil gives the
	// prober private ones, closed with it.
	conns *connPools
}

// New builds the prober for one probe config. It does not connect yet:
// connections are made in the background and awaited by each run.
func New(cfg *configs.ProbeConfig, opts Options) (Prober, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Endpoints == nil {
		opts.Endpoints = NewEndpoints(opts.Now)
	}
	b := newBase(cfg, opts)
	var (
		p   Prober
		err error
	)
	switch cfg.Kind() {
	case "roundtrip":
		p, err = newRoundTrip(b, cfg.RoundTrip, opts)
	case "http":
		p, err = newHTTPProber(b, cfg.HTTP, opts.conns)
	case "tcp":
		p, err = newTCPProber(b, cfg.TCP)
	case "heartbeat":
		p, err = newHeartbeat(b, cfg.Heartbeat, opts.Endpoints)
	default:
		err = fmt.Errorf("no probe kind set")
	}
	if err != nil {
		return nil, fmt.Errorf("probe %q: %w", cfg.Name, err)
	}
	return p, nil
}

// base is what every prober shares: identity, clock and running counters.
type base struct {
	name, kind, replica string
	labels              labels.Labels
	timeout             time.Duration
	now                 func() time.Time
	logger              *slog.Logger
	reasons             []Reason
	counts              []atomic.Uint64 // parallel to reasons
	series              *seriesCache
}

func newBase(cfg *configs.ProbeConfig, opts Options) *base {
	kind := cfg.Kind()
	lb := labels.NewScratchBuilder(len(cfg.Labels))
	for k, v := range cfg.Labels {
		lb.Add(string(k), string(v))
	}
	lb.Sort()
	reasons := kindReasons[kind]
	return &base{
		name: cfg.Name, kind: kind, replica: opts.Replica,
		labels:  lb.Labels(),
		timeout: time.Duration(cfg.Timeout),
		now:     opts.Now,
		logger:  opts.Logger.With("probe", cfg.Name),
		reasons: reasons,
		counts:  make([]atomic.Uint64, len(reasons)),
		series:  &seriesCache{},
	}
}

// start opens a run: the Result skeleton and the run's context, bounded by
// the probe's timeout.
func (b *base) start(ctx context.Context) (Result, context.Context, context.CancelFunc) {
	r := Result{Probe: b.name, Kind: b.kind, Replica: b.replica, Labels: b.labels, Time: b.now()}
	if b.timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, b.timeout)
		return r, ctx, cancel
	}
	ctx, cancel := context.WithCancel(ctx)
	return r, ctx, cancel
}

// finish closes a run: success when no reason was set, counters updated.
func (b *base) finish(r *Result) Result {
	r.Duration = b.now().Sub(r.Time)
	r.Success = r.Reason == ""
	r.series = b.series
	if !r.Success {
		b.count(r.Reason)
	}
	r.Failures = make(map[Reason]uint64, len(b.reasons))
	for i, reason := range b.reasons {
		r.Failures[reason] = b.counts[i].Load()
	}
	return *r
}

// count adds one failure; late arrivals are counted this way between runs.
func (b *base) count(reason Reason) {
	for i, r := range b.reasons {
		if r == reason {
			b.counts[i].Add(1)
			return
		}
	}
}

// fail sets a failure on r.
func fail(r *Result, reason Reason, format string, args ...any) {
	r.Reason = reason
	r.Detail = fmt.Sprintf(format, args...)
}

// newNonce returns a fresh nonce carrying the replica id, so that another
// replica's messages can never be mistaken for ours.
func newNonce(replica string) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return "tocsin." + sanitize(replica) + "." + hex.EncodeToString(b[:])
}

// sanitize keeps a name safe inside payloads that relays may re-encode
// (JSON, form values, topics): letters, digits, '-' and '_' only.
func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			out[i] = '_'
		}
	}
	return string(out)
}
