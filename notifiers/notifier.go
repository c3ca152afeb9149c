// Package notifiers routes alerts into groups and delivers them through
// every configured vendor, with retries and failover, so that one vendor's
// outage never hides a page.
package notifiers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// Notifier delivers one notification through one vendor integration.
// retry tells the caller whether trying again can help; err, when not nil,
// says why the vendor did not accept and may be a *VendorError.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) (retry bool, err error)
}

// Notification is one message about one alert group for one receiver.
type Notification struct {
	Receiver string
	// GroupKey identifies the group within the route tree.
	GroupKey string
	// DedupKey is the hex SHA-256 of GroupKey. Every vendor uses it as its
	// deduplication key (PagerDuty dedup_key, Opsgenie alias, ...), so that
	// retries, repeats and replicas all land in one incident.
	DedupKey          string
	Status            model.AlertStatus
	GroupLabels       model.LabelSet
	CommonLabels      model.LabelSet
	CommonAnnotations model.LabelSet
	Alerts            []*model.Alert
	// ExternalURL links back to the tocsin instance that sent the notification.
	ExternalURL string
	// Test marks a page sent by `tocsin notify test`.
	Test bool
	// RouteLabels are the labels of the group's route (its parents'
	// included), rendered against the group's alerts at this flush.
	RouteLabels model.LabelSet
	// Reason says why the integration is told, in Alertmanager's words
	// ("first notification", "new alerts added", "some alerts resolved",
	// "all alerts resolved", "repeat interval elapsed"); empty means
	// "unknown", as a test page is.
	Reason string

	// tmpl, when set, shares the template data between the integrations
	// that render this notification.
	tmpl *templateCache
}

// Firing returns the alerts of the group that are still firing.
func (n *Notification) Firing() []*model.Alert {
	var out []*model.Alert
	for _, a := range n.Alerts {
		if !a.Resolved() {
			out = append(out, a)
		}
	}
	return out
}

// Resolved returns the alerts of the group that have resolved.
func (n *Notification) Resolved() []*model.Alert {
	var out []*model.Alert
	for _, a := range n.Alerts {
		if a.Resolved() {
			out = append(out, a)
		}
	}
	return out
}

// Integration is one configured vendor endpoint of a receiver, such as the
// first of its pagerduty_configs.
type Integration struct {
	// Name is the vendor ("pagerduty", "slack", ...), the `integration` label.
	Name string
	// Index is the position among the receiver's configs of that vendor.
	Index    int
	Notifier Notifier
	// SendResolved tells whether resolved notifications go to this integration.
	SendResolved bool
}

// Receiver is a named set of integrations with its delivery strategy.
type Receiver struct {
	Name string
	// Strategy is configs.StrategyAll or configs.StrategyFailover.
	Strategy      string
	FailoverAfter time.Duration
	Integrations  []Integration
}

// String names the integration in logs and messages: "pagerduty[0]".
func (in *Integration) String() string {
	return fmt.Sprintf("%s[%d]", in.Name, in.Index)
}
