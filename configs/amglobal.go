package configs

import (
	"cmp"
	"reflect"
	"strings"

	"github.com/prometheus/common/config"
)

// IntegrationDefaults are Alertmanager's global defaults for the
// integrations tocsin has, under the same keys in `global:`, so that
// receivers written for Alertmanager, which leave these out of each
// integration, paste in unchanged. A value set on an integration wins.
type IntegrationDefaults struct {
	// HTTPConfig is the http_config of every HTTP integration that has
	// none of its own.
	HTTPConfig           *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	SlackAPIURL          config.Secret            `yaml:"slack_api_url,omitempty"`
	SlackAPIURLFile      string                   `yaml:"slack_api_url_file,omitempty"`
	SlackAppToken        config.Secret            `yaml:"slack_app_token,omitempty"`
	SlackAppTokenFile    string                   `yaml:"slack_app_token_file,omitempty"`
	SlackAppURL          string                   `yaml:"slack_app_url,omitempty"`
	PagerDutyURL         string                   `yaml:"pagerduty_url,omitempty"`
	OpsgenieAPIURL       string                   `yaml:"opsgenie_api_url,omitempty"`
	OpsgenieAPIKey       config.Secret            `yaml:"opsgenie_api_key,omitempty"`
	OpsgenieAPIKeyFile   string                   `yaml:"opsgenie_api_key_file,omitempty"`
	SMTPFrom             string                   `yaml:"smtp_from,omitempty"`
	SMTPHello            string                   `yaml:"smtp_hello,omitempty"`
	SMTPSmarthost        string                   `yaml:"smtp_smarthost,omitempty"`
	SMTPAuthUsername     string                   `yaml:"smtp_auth_username,omitempty"`
	SMTPAuthPassword     config.Secret            `yaml:"smtp_auth_password,omitempty"`
	SMTPAuthPasswordFile string                   `yaml:"smtp_auth_password_file,omitempty"`
	SMTPRequireTLS       TLSPolicy                `yaml:"smtp_require_tls,omitempty"`
	SMTPAuthIdentity     string                   `yaml:"smtp_auth_identity,omitempty"`
	SMTPAuthSecret       config.Secret            `yaml:"smtp_auth_secret,omitempty"`
	SMTPAuthSecretFile   string                   `yaml:"smtp_auth_secret_file,omitempty"`
	SMTPForceImplicitTLS *bool                    `yaml:"smtp_force_implicit_tls,omitempty"`
	SMTPTLSConfig        *config.TLSConfig        `yaml:"smtp_tls_config,omitempty"`
}

// applyIntegrationGlobals copies the global defaults that are not
// secrets into every integration that leaves them unset. It runs before
// the integrations' own defaults.
func (c *Config) applyIntegrationGlobals() {
	g := &c.Global.IntegrationDefaults
	for _, r := range c.Receivers {
		if r == nil {
			continue
		}
		for _, hc := range r.httpConfigs() {
			if *hc == nil {
				*hc = g.HTTPConfig // shared, and checked once
			}
		}
		for _, s := range r.SlackConfigs {
			if s != nil && (s.AppToken != "" || s.AppTokenFile != "") && s.AppURL == "" {
				s.AppURL = g.SlackAppURL
			}
		}
		// pagerduty_url is the Events API v2's; Alertmanager does not
		// use it for service_key either.
		for _, pd := range r.PagerDutyConfigs {
			if pd != nil && pd.URL == "" && !pd.EventsV1() {
				pd.URL = g.PagerDutyURL
			}
		}
		for _, og := range r.OpsgenieConfigs {
			if og != nil && og.APIURL == "" && og.Region == "" {
				og.APIURL = g.OpsgenieAPIURL
			}
		}
		for _, e := range r.EmailConfigs {
			if e == nil {
				continue
			}
			for _, f := range []struct{ to, from *string }{
				{&e.From, &g.SMTPFrom}, {&e.Hello, &g.SMTPHello}, {&e.Smarthost, &g.SMTPSmarthost}, {&e.AuthUsername, &g.SMTPAuthUsername},
			} {
				if *f.to == "" {
					*f.to = *f.from
				}
			}
			if e.RequireTLS == "" {
				e.RequireTLS = g.SMTPRequireTLS
			}
			if e.ForceImplicitTLS == nil {
				e.ForceImplicitTLS = g.SMTPForceImplicitTLS
			}
			if g.SMTPTLSConfig != nil && e.TLSConfig == (config.TLSConfig{}) {
				e.TLSConfig = *g.SMTPTLSConfig
			}
		}
	}
}

// validateIntegrationGlobals reads the global secrets and hands them to the
// integrations that set none of their own; it runs before the
// integrations are validated, which then find them as if written there.
func (c *Config) validateIntegrationGlobals(v *validator) {
	g := &c.Global.IntegrationDefaults
	v.httpConfig(g.HTTPConfig)
	v.secret(&c.Global, &g.SlackAPIURL, &g.SlackAPIURLFile, "slack_api_url", false)
	v.secret(&c.Global, &g.SlackAppToken, &g.SlackAppTokenFile, "slack_app_token", false)
	if g.SlackAppToken != "" && g.SlackAPIURL != "" {
		v.errorfAt([]any{&g.SlackAppToken, &g.SlackAppTokenFile}, "set either slack_app_token or slack_api_url, not both")
	}
	if g.SlackAppURL != "" {
		if u := v.url(&c.Global, &g.SlackAppURL, "slack_app_url", false, "http", "https"); u != nil && !strings.HasSuffix(u.Path, "/"+slackPostMessage) {
			v.errorf(&g.SlackAppURL, "slack_app_url must be the URL of chat.postMessage, such as https://slack.com/api/chat.postMessage")
		}
	}
	v.secret(&c.Global, &g.OpsgenieAPIKey, &g.OpsgenieAPIKeyFile, "opsgenie_api_key", false)
	v.secret(&c.Global, &g.SMTPAuthPassword, &g.SMTPAuthPasswordFile, "smtp_auth_password", false)
	v.secret(&c.Global, &g.SMTPAuthSecret, &g.SMTPAuthSecretFile, "smtp_auth_secret", false)
	if g.SMTPAuthSecret != "" && g.SMTPAuthPassword != "" {
		v.errorfAt([]any{&g.SMTPAuthSecret, &g.SMTPAuthSecretFile}, "set either smtp_auth_password or smtp_auth_secret (CRAM-MD5), not both: tocsin authenticates with the one given")
	}
	if g.SMTPTLSConfig != nil {
		v.strictKeys(v.pos.of(g.SMTPTLSConfig), reflect.TypeFor[config.TLSConfig](), "smtp_tls_config")
	}
	for _, r := range c.Receivers {
		if r == nil {
			continue
		}
		for _, s := range r.SlackConfigs {
			if s == nil || s.APIURL != "" || s.APIURLFile != "" || s.Token != "" || s.TokenFile != "" {
				continue
			}
			if g.SlackAppToken == "" {
				s.APIURL = g.SlackAPIURL
				continue
			}
			s.AppToken, s.AppURL = g.SlackAppToken, cmp.Or(s.AppURL, g.SlackAppURL)
			s.applyAppKeys()
		}
		for _, og := range r.OpsgenieConfigs {
			if og != nil && og.APIKey == "" && og.APIKeyFile == "" {
				og.APIKey = g.OpsgenieAPIKey
			}
		}
		for _, e := range r.EmailConfigs {
			if e == nil {
				continue
			}
			if e.AuthPassword == "" && e.AuthPasswordFile == "" && e.AuthSecret == "" && e.AuthSecretFile == "" {
				e.AuthPassword, e.AuthSecret = g.SMTPAuthPassword, g.SMTPAuthSecret
			}
			// The identity is PLAIN's, which a password is for.
			if (e.AuthPassword != "" || e.AuthPasswordFile != "") && e.AuthIdentity == "" {
				e.AuthIdentity = g.SMTPAuthIdentity
			}
		}
	}
}

// httpConfigs points at the http_config of every HTTP integration.
func (r *ReceiverConfig) httpConfigs() []**config.HTTPClientConfig {
	var out []**config.HTTPClientConfig
	for _, c := range r.PagerDutyConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.SlackConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.OpsgenieConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.WebhookConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.MSTeamsConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.TwilioConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	for _, c := range r.DeadmanConfigs {
		if c != nil {
			out = append(out, &c.HTTPConfig)
		}
	}
	return out
}
