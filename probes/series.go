package probes

import (
	"slices"

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
}

// Series lists the Result's series, each labelled with probe, kind, replica
// and the probe's own labels: probe_success, probe_duration_seconds,
// probe_failures_total{reason} always; probe_roundtrip_seconds,
// probe_http_status_code, probe_http_duration_seconds{phase},
// probe_ssl_earliest_cert_expiry and heartbeat_last_received_timestamp_seconds
// when the run measured them.
func (r *Result) Series() []Sample {
	out := make([]Sample, 0, seriesHint+len(r.Failures))
	b := labels.NewScratchBuilder(r.Labels.Len() + 5)
	add := func(name string, v float64, extraName, extraValue string) {
		b.Reset()
		b.Add(model.MetricNameLabel, name)
		b.Add(labelProbe, r.Probe)
		b.Add(labelKind, r.Kind)
		b.Add(labelReplica, r.Replica)
		if extraName != "" {
			b.Add(extraName, extraValue)
		}
		r.Labels.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
		b.Sort()
		out = append(out, Sample{Labels: b.Labels(), Value: v})
	}
	add(MetricSuccess, boolValue(r.Success), "", "")
	add(MetricDuration, r.Duration.Seconds(), "", "")
	if r.RoundTrip > 0 {
		add(MetricRoundTrip, r.RoundTrip.Seconds(), "", "")
	}
	if r.HTTPStatusCode != 0 {
		add(MetricHTTPStatusCode, float64(r.HTTPStatusCode), "", "")
	}
	if p := r.HTTPPhases; p != nil {
		add(MetricHTTPDuration, p.Resolve.Seconds(), labelPhase, "resolve")
		add(MetricHTTPDuration, p.Connect.Seconds(), labelPhase, "connect")
		add(MetricHTTPDuration, p.TLS.Seconds(), labelPhase, "tls")
		add(MetricHTTPDuration, p.Processing.Seconds(), labelPhase, "processing")
		add(MetricHTTPDuration, p.Transfer.Seconds(), labelPhase, "transfer")
	}
	if !r.CertExpiry.IsZero() {
		add(MetricCertExpiry, float64(r.CertExpiry.Unix()), "", "")
	}
	if !r.LastHeartbeat.IsZero() {
		add(MetricLastHeartbeat, float64(r.LastHeartbeat.UnixNano())/1e9, "", "")
	}
	reasons := make([]Reason, 0, len(r.Failures))
	for reason := range r.Failures {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		add(MetricFailures, float64(r.Failures[reason]), labelReason, string(reason))
		out[len(out)-1].Counter = true
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
