package probes

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Series names a Result yields; blackbox_exporter's names where they exist.
const (
	MetricSuccess        = "probe_success"
	MetricDuration       = "probe_duration_seconds"
	MetricRoundTrip      = "probe_roundtrip_seconds"
	MetricHTTPStatusCode = "probe_http_status_code"
	MetricHTTPDuration   = "probe_http_duration_seconds"
	MetricCertExpiry     = "probe_ssl_earliest_cert_expiry"
	MetricFailures       = "probe_failures_total"
	MetricLastHeartbeat  = "heartbeat_last_received_timestamp_seconds"
	labelProbe           = "probe"
	labelKind            = "kind"
	labelReplica         = "replica"
	labelReason          = "reason"
	labelPhase           = "phase"
	seriesHint           = 8
)

// Sample is one value of one series of a Result. The recorder appends it
// at the Result's Time.
type Sample struct {
	Labels labels.Labels // with __name__
	Value  float64
	// Counter is true for probe_failures_total, a running total.
	Counter bool
	// Ref, when set, is where the recorder keeps its reference to this
	// series between runs of the probe, so that it need not look the
	// labels up again; it belongs to this series of this prober alone.
	Ref *atomic.Uint64
}

// seriesSpec names one series of a Result besides the probe's labels.
type seriesSpec struct{ name, extraName, extraValue string }

// The series every Result may yield, by slot of a seriesCache; the failure
// counters follow, one slot per reason of allReasons.
var fixedSeries = [...]seriesSpec{
	{MetricSuccess, "", ""},
	{MetricDuration, "", ""},
	{MetricRoundTrip, "", ""},
	{MetricHTTPStatusCode, "", ""},
	{MetricHTTPDuration, labelPhase, "resolve"},
	{MetricHTTPDuration, labelPhase, "connect"},
	{MetricHTTPDuration, labelPhase, "tls"},
	{MetricHTTPDuration, labelPhase, "processing"},
	{MetricHTTPDuration, labelPhase, "transfer"},
	{MetricCertExpiry, "", ""},
	{MetricLastHeartbeat, "", ""},
}

const (
	slotSuccess = iota
	slotDuration
	slotRoundTrip
	slotHTTPStatusCode
	slotPhaseResolve  // then connect, tls, processing and transfer
	slotCertExpiry    = slotPhaseResolve + 5
	slotLastHeartbeat = slotCertExpiry + 1
	slotFailures      = slotLastHeartbeat + 1 // + the reason's index in allReasons
)

// allReasons are the reasons a failure counter may carry, each with a slot.
var allReasons = [...]Reason{ReasonConnect, ReasonPublish, ReasonSubscribe, ReasonTimeout, ReasonLost,
	ReasonLate, ReasonHTTPStatus, ReasonBody, ReasonTLS, ReasonHeartbeatMissing}

// seriesCache is a prober's series: each label set is built once, on the
// first run that yields it, and keeps the recorder's reference to it. A
// thousand probes at 1s otherwise build and look up ten thousand label
// sets a second.
type seriesCache struct {
	slots [slotFailures + len(allReasons)]atomic.Pointer[cachedSeries]
}

type cachedSeries struct {
	labels labels.Labels
	ref    atomic.Uint64
}

// Series lists the Result's series, each labelled with probe, kind, replica
// and the probe's own labels: probe_success, probe_duration_seconds,
// probe_failures_total{reason} always; probe_roundtrip_seconds,
// probe_http_status_code, probe_http_duration_seconds{phase},
// probe_ssl_earliest_cert_expiry and heartbeat_last_received_timestamp_seconds
// when the run measured them.
func (r *Result) Series() []Sample {
	out := make([]Sample, 0, seriesHint+len(r.Failures))
	add := func(slot int, v float64) { out = append(out, r.sample(slot, fixedSeries[slot], v)) }
	add(slotSuccess, boolValue(r.Success))
	add(slotDuration, r.Duration.Seconds())
	if r.RoundTrip > 0 {
		add(slotRoundTrip, r.RoundTrip.Seconds())
	}
	if r.HTTPStatusCode != 0 {
		add(slotHTTPStatusCode, float64(r.HTTPStatusCode))
	}
	if p := r.HTTPPhases; p != nil {
		for i, d := range [...]time.Duration{p.Resolve, p.Connect, p.TLS, p.Processing, p.Transfer} {
			add(slotPhaseResolve+i, d.Seconds())
		}
	}
	if !r.CertExpiry.IsZero() {
		add(slotCertExpiry, float64(r.CertExpiry.Unix()))
	}
	if !r.LastHeartbeat.IsZero() {
		add(slotLastHeartbeat, float64(r.LastHeartbeat.UnixNano())/1e9)
	}
	reasons := make([]Reason, 0, len(r.Failures))
	for reason := range r.Failures {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		slot := -1
		if i := slices.Index(allReasons[:], reason); i >= 0 {
			slot = slotFailures + i
		}
		smp := r.sample(slot, seriesSpec{MetricFailures, labelReason, string(reason)}, float64(r.Failures[reason]))
		smp.Counter = true
		out = append(out, smp)
	}
	return out
}

// sample is one series of r at slot of its prober's cache; a Result made
// without a prober, or a slot of -1, gets labels built afresh.
func (r *Result) sample(slot int, spec seriesSpec, v float64) Sample {
	if r.series == nil || slot < 0 {
		return Sample{Labels: r.seriesLabels(spec), Value: v}
	}
	p := &r.series.slots[slot]
	c := p.Load()
	if c == nil {
		c = &cachedSeries{labels: r.seriesLabels(spec)}
		if !p.CompareAndSwap(nil, c) {
			c = p.Load()
		}
	}
	return Sample{Labels: c.labels, Value: v, Ref: &c.ref}
}

func (r *Result) seriesLabels(spec seriesSpec) labels.Labels {
	b := labels.NewScratchBuilder(r.Labels.Len() + 5)
	b.Add(model.MetricNameLabel, spec.name)
	b.Add(labelProbe, r.Probe)
	b.Add(labelKind, r.Kind)
	b.Add(labelReplica, r.Replica)
	if spec.extraName != "" {
		b.Add(spec.extraName, spec.extraValue)
	}
	r.Labels.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
	b.Sort()
	return b.Labels()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
