// Package integrations turns a receiver's config into its vendor
// integrations. It is the one place that knows every vendor package.
package integrations

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/deadman"
	"github.com/tocsin-alerting/tocsin/notifiers/email"
	"github.com/tocsin-alerting/tocsin/notifiers/msteams"
	"github.com/tocsin-alerting/tocsin/notifiers/opsgenie"
	"github.com/tocsin-alerting/tocsin/notifiers/pagerduty"
	"github.com/tocsin-alerting/tocsin/notifiers/slack"
	"github.com/tocsin-alerting/tocsin/notifiers/twilio"
	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// Integration names, the `integration` label of tocsin's own metrics.
const (
	PagerDuty = "pagerduty"
	Slack     = "slack"
	Opsgenie  = "opsgenie"
	Webhook   = "webhook"
	Email     = "email"
	MSTeams   = "msteams"
	Twilio    = "twilio"
	Deadman   = "deadman"
)

// Options carry what integrations need besides their config.
type Options struct {
	// Logger receives the integrations' own log lines; discarded when nil.
	Logger *slog.Logger
	// ExternalURL is tocsin's address, linked from every page.
	ExternalURL string
	// Now is the clock for Retry-After dates and timestamps; time.Now when nil.
	Now func() time.Time
	// HTTPClient, when set, replaces the clients built from each
	// integration's http_config (tests, a shared transport).
	HTTPClient *http.Client
	// UserAgent is sent with every HTTP request; "tocsin" when empty.
	UserAgent string
	// Templates are the config's templates (notifiers.NewTemplates); the
	// defaults only when nil.
	Templates *notifiers.Templates
}

// Build makes the receiver's integrations, in the order they were written
// in the config (the order strategy failover tries them in). rc must have
// come from configs.Load, with defaults applied and secrets read.
func Build(rc *configs.ReceiverConfig, opts Options) (*notifiers.Receiver, error) {
	vo := notifiers.VendorOptions{
		Logger: opts.Logger, ExternalURL: opts.ExternalURL, Now: opts.Now,
		HTTPClient: opts.HTTPClient, UserAgent: opts.UserAgent, Templates: opts.Templates,
	}
	type built struct {
		notifiers.Integration
		order int
	}
	var out []built
	// Every integration's errors are scrubbed of the secrets it sends, read
	// afresh at each failure so that a rotated *_file is covered too.
	add := func(name string, i int, nc configs.NotifierConfig, secrets func() []string, n notifiers.Notifier, err error) error {
		if err != nil {
			return fmt.Errorf("receiver %q: %s_configs[%d]: %w", rc.Name, name, i, err)
		}
		n = notifiers.Redacting(notifiers.WithTimeout(n, time.Duration(nc.Timeout)), secrets)
		out = append(out, built{notifiers.Integration{Name: name, Index: i, Notifier: n, SendResolved: nc.SendsResolved()}, nc.Order})
		return nil
	}
	with := func(name string, i int) notifiers.VendorOptions {
		o := vo
		o.Logger = vo.Log().With("receiver", rc.Name, "integration", name, "index", i)
		return o
	}
	for i, c := range rc.PagerDutyConfigs {
		n, err := pagerduty.New(c, with(PagerDuty, i))
		if err := add(PagerDuty, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.SlackConfigs {
		n, err := slack.New(c, with(Slack, i))
		if err := add(Slack, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.OpsgenieConfigs {
		n, err := opsgenie.New(c, with(Opsgenie, i))
		if err := add(Opsgenie, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.WebhookConfigs {
		n, err := webhook.New(c, with(Webhook, i))
		if err := add(Webhook, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.EmailConfigs {
		n, err := email.New(c, with(Email, i))
		if err := add(Email, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.MSTeamsConfigs {
		n, err := msteams.New(c, with(MSTeams, i))
		if err := add(MSTeams, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.TwilioConfigs {
		n, err := twilio.New(c, with(Twilio, i))
		if err := add(Twilio, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	for i, c := range rc.DeadmanConfigs {
		n, err := deadman.New(c, with(Deadman, i))
		if err := add(Deadman, i, c.NotifierConfig, c.Secrets, n, err); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b built) int { return a.order - b.order })
	r := &notifiers.Receiver{Name: rc.Name, Strategy: rc.Strategy, FailoverAfter: time.Duration(rc.FailoverAfter)}
	for _, b := range out {
		r.Integrations = append(r.Integrations, b.Integration)
	}
	return r, nil
}
