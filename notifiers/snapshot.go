package notifiers

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// IntegrationStatus is what the status pages and API show of one
// integration: whether it works and what its vendor said last.
type IntegrationStatus struct {
	Receiver string
	// Strategy is the receiver's delivery strategy.
	Strategy    string
	Integration string
	Index       int
	// Up is false while the integration's last delivery was not accepted.
	Up bool
	// LastAttempt is when the last delivery to it ended; zero when none yet.
	LastAttempt time.Time
	// Outcome of the last delivery (an Outcome* constant); empty when none.
	Outcome  string
	Attempts int
	Latency  time.Duration
	// Reason is the vendor's or the network's answer when the last delivery
	// failed, redacted like every error the dispatcher logs.
	Reason string
}

// attempt is the last delivery to one integration.
type attempt struct {
	at  time.Time
	res result
}

// remember keeps the last delivery to k for Integrations; h.mu is held.
func (h *health) remember(k healthKey, res result) {
	if h.last == nil {
		h.last = map[healthKey]attempt{}
	}
	h.last[k] = attempt{at: h.d.clock.Now(), res: res}
}

// Integrations lists every configured integration with its last delivery,
// ordered by receiver, then as configured.
func (d *Dispatcher) Integrations() []IntegrationStatus {
	d.mu.Lock()
	receivers := make([]*Receiver, 0, len(d.receivers))
	for _, r := range d.receivers {
		receivers = append(receivers, r)
	}
	d.mu.Unlock()
	slices.SortFunc(receivers, func(a, b *Receiver) int { return strings.Compare(a.Name, b.Name) })

	h := d.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []IntegrationStatus
	for _, r := range receivers {
		for i := range r.Integrations {
			in := &r.Integrations[i]
			k := healthKey{r.Name, integrationKey{in.Name, in.Index}}
			_, down := h.down[k]
			st := IntegrationStatus{
				Receiver: r.Name, Strategy: r.Strategy,
				Integration: in.Name, Index: in.Index, Up: !down,
			}
			if a, ok := h.last[k]; ok {
				st.LastAttempt, st.Outcome = a.at, a.res.outcome
				st.Attempts, st.Latency = a.res.attempts, a.res.latency
				st.Reason = errText(a.res.err)
			}
			out = append(out, st)
		}
	}
	return out
}

// Alerts returns the alerts the dispatcher raised itself and that still
// fire (NotifierFailing), oldest first.
func (d *Dispatcher) Alerts() []*model.Alert {
	h := d.health
	h.mu.Lock()
	out := make([]*model.Alert, 0, len(h.down))
	for _, a := range h.down {
		c := *a
		out = append(out, &c)
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b *model.Alert) int { return a.StartsAt.Compare(b.StartsAt) })
	return out
}

// receiversURL is the status page of the integrations, where a
// NotifierFailing alert links to.
func receiversURL(externalURL string) string {
	if externalURL == "" {
		return ""
	}
	return strings.TrimSuffix(externalURL, "/") + "/receivers"
}
