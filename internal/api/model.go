// Package api serves tocsin's JSON API under /api/v1/: the state of probes,
// rules, alerts and receivers, and Prometheus' query endpoints over the
// local TSDB, so that Grafana can use tocsin as a Prometheus data source.
// The status pages and `tocsin status` show the same models.
package api

import (
	"time"
)

// Probe states, from the probe's last result.
const (
	StateUp      = "up"      // the last run succeeded
	StateDown    = "down"    // the last run failed
	StateStale   = "stale"   // no run finished for three intervals: the prober itself is stuck
	StateUnknown = "unknown" // no run has finished yet
)

// Status is the overview: every probe, the alerts that fire and the
// integrations' health. GET /api/v1/status answers it.
type Status struct {
	Replica string    `json:"replica"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Now is when the status was taken, by tocsin's clock.
	Now          time.Time     `json:"now"`
	Summary      Summary       `json:"summary"`
	Probes       []Probe       `json:"probes"`
	Alerts       []Alert       `json:"alerts"`
	Integrations []Integration `json:"integrations"`
	// Cluster is absent when this replica runs alone.
	Cluster *Cluster `json:"cluster,omitempty"`
}

// Cluster is this replica's view of the replicas it gossips with.
type Cluster struct {
	// Name is this replica's name in the cluster.
	Name string `json:"name"`
	// Status is "settling" until gossip has settled, then "ready".
	Status string `json:"status"`
	// Position is this replica's place in line: it notifies after
	// Position × peer timeout, if no replica before it has.
	Position int             `json:"position"`
	Members  []ClusterMember `json:"members"`
	// ProbeReplication is how many replicas run each probe; 0: all.
	ProbeReplication int `json:"probe_replication"`
	// ProbesOwned are the probes this replica runs as one of their
	// owners; ProbesHandingOver those it runs until their new owners
	// have taken over.
	ProbesOwned       int `json:"probes_owned"`
	ProbesHandingOver int `json:"probes_handing_over"`
}

// ClusterMember is one replica this one sees, itself included.
type ClusterMember struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Self    bool   `json:"self,omitempty"`
}

// Summary counts what needs attention.
type Summary struct {
	Probes           int `json:"probes"`
	ProbesUp         int `json:"probesUp"`
	ProbesDown       int `json:"probesDown"`
	ProbesStale      int `json:"probesStale"`
	ProbesUnknown    int `json:"probesUnknown"`
	AlertsFiring     int `json:"alertsFiring"`
	AlertsPending    int `json:"alertsPending"`
	Integrations     int `json:"integrations"`
	IntegrationsDown int `json:"integrationsDown"`
}

// Probe is one configured probe and its last result.
type Probe struct {
	Name            string            `json:"name"`
	Kind            string            `json:"kind"`
	Labels          map[string]string `json:"labels,omitempty"`
	IntervalSeconds float64           `json:"intervalSeconds"`
	TimeoutSeconds  float64           `json:"timeoutSeconds"`
	State           string            `json:"state"`
	// LastRun is when the last finished run started; absent before the first.
	LastRun          *time.Time `json:"lastRun,omitempty"`
	DurationSeconds  float64    `json:"durationSeconds"`
	RoundTripSeconds float64    `json:"roundTripSeconds,omitempty"`
	HTTPStatusCode   int        `json:"httpStatusCode,omitempty"`
	// Reason and Detail say why the last run failed.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// FailuresTotal counts failed runs by reason since the probe started.
	FailuresTotal map[string]uint64 `json:"failuresTotal,omitempty"`
}

// ProbeDetail is one probe with what its page shows besides the overview.
type ProbeDetail struct {
	Probe
	// RecentFailures are the last failed runs since tocsin started, newest first.
	RecentFailures []Failure `json:"recentFailures"`
	// Rules are the rules whose expressions select this probe's series.
	Rules []RuleRef `json:"rules"`
	// Alerts are the active alerts about this probe.
	Alerts []Alert `json:"alerts"`
	// Config is the probe's configuration as YAML, secrets redacted.
	Config string `json:"config"`
}

// Failure is one failed run.
type Failure struct {
	Time            time.Time `json:"time"`
	Reason          string    `json:"reason"`
	Detail          string    `json:"detail,omitempty"`
	DurationSeconds float64   `json:"durationSeconds"`
}

// RuleRef names a rule within its group.
type RuleRef struct {
	Group string `json:"group"`
	File  string `json:"file"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query string `json:"query"`
}

// Alert is an active alert: pending or firing by a rule, or raised by the
// dispatcher itself (NotifierFailing).
type Alert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value,omitempty"`
	// Source is "rule", "dispatcher" (NotifierFailing) or "cluster" (ReplicaDown).
	Source string `json:"source"`
}

// RuleGroup is one rule group with its rules' health and alerts, in
// Prometheus' /api/v1/rules format (durations in seconds), so that tools
// that list a Prometheus server's rules, such as Grafana, list tocsin's.
type RuleGroup struct {
	Name              string    `json:"name"`
	File              string    `json:"file"`
	IntervalSeconds   float64   `json:"interval"`
	LastEvaluation    time.Time `json:"lastEvaluation"`
	EvaluationSeconds float64   `json:"evaluationTime"`
	Rules             []Rule    `json:"rules"`
}

// Rule is one alerting or recording rule.
type Rule struct {
	Name                 string            `json:"name"`
	Type                 string            `json:"type"`
	Query                string            `json:"query"`
	ForSeconds           float64           `json:"duration"`
	KeepFiringForSeconds float64           `json:"keepFiringFor"`
	Labels               map[string]string `json:"labels,omitempty"`
	Annotations          map[string]string `json:"annotations,omitempty"`
	Health               string            `json:"health"`
	LastError            string            `json:"lastError,omitempty"`
	LastEvaluation       time.Time         `json:"lastEvaluation"`
	EvaluationSeconds    float64           `json:"evaluationTime"`
	State                string            `json:"state,omitempty"`
	Alerts               []Alert           `json:"alerts"`
}

// Integration is one vendor endpoint of a receiver and its last delivery.
type Integration struct {
	Receiver    string     `json:"receiver"`
	Strategy    string     `json:"strategy"`
	Integration string     `json:"integration"`
	Index       int        `json:"index"`
	Up          bool       `json:"up"`
	LastAttempt *time.Time `json:"lastAttempt,omitempty"`
	// Outcome is accepted, rejected or failed; empty before the first delivery.
	Outcome        string  `json:"outcome,omitempty"`
	Attempts       int     `json:"attempts,omitempty"`
	LatencySeconds float64 `json:"latencySeconds,omitempty"`
	// Reason is the vendor's answer when the last delivery failed.
	Reason string `json:"reason,omitempty"`
}

// Receivers is GET /api/v1/receivers: the route's receivers and their integrations.
type Receivers struct {
	Integrations []Integration `json:"integrations"`
}
