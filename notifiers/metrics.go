package notifiers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one notification to one integration, the `outcome` label of
// tocsin_notifications_total.
const (
	// OutcomeAccepted: the vendor accepted the notification.
	OutcomeAccepted = "accepted"
	// OutcomeRejected: the vendor refused it permanently (a 4xx other than 429).
	OutcomeRejected = "rejected"
	// OutcomeFailed: retries ran out before the delivery deadline, or the
	// integration did not accept before failover moved on.
	OutcomeFailed = "failed"
)

// Reasons an attempt failed, the `reason` label of
// tocsin_notification_attempt_failures_total. The set is small and fixed so
// that a vendor's free-text answer never becomes a label; that text goes to
// the log and to the NotifierFailing alert.
const (
	ReasonRateLimited = "rate_limited" // 429
	ReasonServerError = "server_error" // 5xx
	ReasonClientError = "client_error" // other 4xx
	ReasonTimeout     = "timeout"      // the per-attempt timeout passed
	ReasonNetwork     = "network"      // no HTTP answer at all
	ReasonOther       = "other"
)

type metrics struct {
	total    *prometheus.CounterVec
	failures *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	up       *prometheus.GaugeVec
	alerts   prometheus.Counter
	groups   prometheus.Gauge

	stateWriteFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_notifications_total",
			Help: "Notifications to each integration, by outcome (accepted, rejected, failed).",
		}, []string{"receiver", "integration", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_notification_attempt_failures_total",
			Help: "Failed delivery attempts to each integration, by reason (rate_limited, server_error, client_error, timeout, network, other).",
		}, []string{"receiver", "integration", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tocsin_notification_latency_seconds",
			Help:    "Time from the start of a delivery to the integration accepting it, retries included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"receiver", "integration"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_integration_up",
			Help: "Whether the integration's last delivery was accepted (1) or failed (0).",
		}, []string{"receiver", "integration", "index"}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_dispatcher_alerts_received_total",
			Help: "Alerts handed to the notification dispatcher.",
		}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_dispatcher_aggregation_groups",
			Help: "Alert groups the dispatcher currently holds.",
		}),
		stateWriteFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_notification_state_write_failures_total",
			Help: "Writes to the notification state file that failed; the notification was sent all the same.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.total, m.failures, m.latency, m.up, m.alerts, m.groups, m.stateWriteFailures)
	}
	return m
}

func (m *metrics) setUp(receiver string, in *Integration, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(receiver, in.Name, strconv.Itoa(in.Index)).Set(v)
}

func (m *metrics) forget(receiver string, in *Integration) {
	m.up.DeleteLabelValues(receiver, in.Name, strconv.Itoa(in.Index))
}
