package configs

import (
	"time"

	"github.com/prometheus/common/model"
)

// Route is a node of the notification route tree, as in Alertmanager.
type Route struct {
	Receiver       string            `yaml:"receiver,omitempty"`
	GroupBy        []model.LabelName `yaml:"group_by,omitempty"`
	GroupWait      *model.Duration   `yaml:"group_wait,omitempty"`
	GroupInterval  *model.Duration   `yaml:"group_interval,omitempty"`
	RepeatInterval *model.Duration   `yaml:"repeat_interval,omitempty"`
	Matchers       []string          `yaml:"matchers,omitempty"`
	Continue       bool              `yaml:"continue,omitempty"`
	Routes         []*Route          `yaml:"routes,omitempty"`
}

// ReceiverConfig is a named set of integrations that receive notifications.
type ReceiverConfig struct {
	Name string `yaml:"name"`
	// Strategy is "all" (every integration at once) or "failover" (in order,
	// moving on when one fails or has not accepted within FailoverAfter).
	Strategy      string         `yaml:"strategy,omitempty"`
	FailoverAfter model.Duration `yaml:"failover_after,omitempty"`

	PagerDutyConfigs []*PagerDutyConfig `yaml:"pagerduty_configs,omitempty"`
	SlackConfigs     []*SlackConfig     `yaml:"slack_configs,omitempty"`
	OpsgenieConfigs  []*OpsgenieConfig  `yaml:"opsgenie_configs,omitempty"`
	WebhookConfigs   []*WebhookConfig   `yaml:"webhook_configs,omitempty"`
	EmailConfigs     []*EmailConfig     `yaml:"email_configs,omitempty"`
	MSTeamsConfigs   []*MSTeamsConfig   `yaml:"msteams_configs,omitempty"`
	TwilioConfigs    []*TwilioConfig    `yaml:"twilio_configs,omitempty"`
}

// Receiver strategies.
const (
	StrategyAll      = "all"
	StrategyFailover = "failover"
)

// Route defaults, as in Alertmanager.
const (
	DefaultGroupWait      = model.Duration(30 * time.Second)
	DefaultGroupInterval  = model.Duration(5 * time.Minute)
	DefaultRepeatInterval = model.Duration(4 * time.Hour)
	DefaultFailoverAfter  = model.Duration(10 * time.Second)
)

func applyNotifyDefaults(route *Route, receivers []*ReceiverConfig) {
	if route != nil {
		for _, d := range []struct {
			field **model.Duration
			value model.Duration
		}{{&route.GroupWait, DefaultGroupWait}, {&route.GroupInterval, DefaultGroupInterval}, {&route.RepeatInterval, DefaultRepeatInterval}} {
			if *d.field == nil {
				v := d.value
				*d.field = &v
			}
		}
	}
	for _, r := range receivers {
		if r == nil {
			continue
		}
		if r.Strategy == "" {
			r.Strategy = StrategyAll
		}
		if r.FailoverAfter == 0 {
			r.FailoverAfter = DefaultFailoverAfter
		}
	}
}

func validateNotify(v *validator, route *Route, receivers []*ReceiverConfig) {
	names := make([]*string, 0, len(receivers))
	known := map[string]bool{}
	for _, r := range receivers {
		if r == nil {
			continue
		}
		names = append(names, &r.Name)
		known[r.Name] = true
		r.validate(v)
	}
	v.unique("receiver", names)
	if route == nil {
		if len(receivers) > 0 {
			v.at(nil, "receivers are set but there is no route; add route.receiver")
		}
		return
	}
	if route.Receiver == "" {
		v.errorf(route, "the top-level route needs a receiver")
	}
	if len(route.Matchers) > 0 {
		v.errorf(&route.Matchers, "the top-level route matches every alert; it cannot have matchers")
	}
	route.validate(v, known)
}

func (r *Route) validate(v *validator, known map[string]bool) {
	if r.Receiver != "" && !known[r.Receiver] {
		v.errorf(&r.Receiver, "route uses receiver %q, which is not defined in receivers", r.Receiver)
	}
	for _, child := range r.Routes {
		if child != nil {
			child.validate(v, known)
		}
	}
}

func (r *ReceiverConfig) validate(v *validator) {
	if r.Name == "" {
		v.errorf(r, "receiver needs a name")
	}
	if r.Strategy != StrategyAll && r.Strategy != StrategyFailover {
		v.errorf(&r.Strategy, "strategy must be %q or %q, not %q", StrategyAll, StrategyFailover, r.Strategy)
	}
	if r.FailoverAfter <= 0 {
		v.errorf(&r.FailoverAfter, "failover_after must be positive")
	}
	r.validateIntegrations(v)
}
