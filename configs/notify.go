package configs

import (
	"time"

	"github.com/prometheus/common/config"
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

// PagerDutyConfig pages through PagerDuty's Events API v2.
type PagerDutyConfig struct {
	RoutingKey     config.Secret `yaml:"routing_key,omitempty"`
	RoutingKeyFile string        `yaml:"routing_key_file,omitempty"`
	URL            string        `yaml:"url,omitempty"`
}

// SlackConfig posts to Slack through an incoming webhook.
type SlackConfig struct {
	APIURL     config.Secret `yaml:"api_url,omitempty"`
	APIURLFile string        `yaml:"api_url_file,omitempty"`
	Channel    string        `yaml:"channel,omitempty"`
}

// OpsgenieConfig creates alerts through Opsgenie's Alert API v2.
type OpsgenieConfig struct {
	APIKey     config.Secret `yaml:"api_key,omitempty"`
	APIKeyFile string        `yaml:"api_key_file,omitempty"`
	APIURL     string        `yaml:"api_url,omitempty"`
}

// WebhookConfig posts Alertmanager's version-4 JSON payload.
type WebhookConfig struct {
	URL     config.Secret `yaml:"url,omitempty"`
	URLFile string        `yaml:"url_file,omitempty"`
}

// EmailConfig sends mail over SMTP.
type EmailConfig struct {
	To               string        `yaml:"to"`
	From             string        `yaml:"from"`
	Smarthost        string        `yaml:"smarthost"`
	AuthPassword     config.Secret `yaml:"auth_password,omitempty"`
	AuthPasswordFile string        `yaml:"auth_password_file,omitempty"`
}

// MSTeamsConfig posts an Adaptive Card to a Teams Workflows webhook.
type MSTeamsConfig struct {
	WebhookURL     config.Secret `yaml:"webhook_url,omitempty"`
	WebhookURLFile string        `yaml:"webhook_url_file,omitempty"`
}

// TwilioConfig sends SMS through Twilio's Messages API.
type TwilioConfig struct {
	AccountSID    string        `yaml:"account_sid"`
	AuthToken     config.Secret `yaml:"auth_token,omitempty"`
	AuthTokenFile string        `yaml:"auth_token_file,omitempty"`
	From          string        `yaml:"from"`
	To            string        `yaml:"to"`
}

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
	for _, c := range r.PagerDutyConfigs {
		v.secret(c, &c.RoutingKey, &c.RoutingKeyFile, "routing_key", true)
	}
	for _, c := range r.SlackConfigs {
		v.secret(c, &c.APIURL, &c.APIURLFile, "api_url", true)
	}
	for _, c := range r.OpsgenieConfigs {
		v.secret(c, &c.APIKey, &c.APIKeyFile, "api_key", true)
	}
	for _, c := range r.WebhookConfigs {
		v.secret(c, &c.URL, &c.URLFile, "url", true)
	}
	for _, c := range r.EmailConfigs {
		v.secret(c, &c.AuthPassword, &c.AuthPasswordFile, "auth_password", false)
	}
	for _, c := range r.MSTeamsConfigs {
		v.secret(c, &c.WebhookURL, &c.WebhookURLFile, "webhook_url", true)
	}
	for _, c := range r.TwilioConfigs {
		v.secret(c, &c.AuthToken, &c.AuthTokenFile, "auth_token", true)
	}
}
