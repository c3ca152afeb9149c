package configs

import "github.com/prometheus/common/config"

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

// validate checks every integration of a receiver.
func (r *ReceiverConfig) validateIntegrations(v *validator) {
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
