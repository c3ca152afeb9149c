package configs

import (
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/config"
)

// DeadmanConfig pings a heartbeat that a vendor watches: the vendor pages
// when the pings stop. It pings each time it is notified of firing
// alerts, so fed from the always-firing Watchdog alert with repeat_interval
// as the ping interval, the pings prove that probes' rules and the
// dispatcher still work end to end. Exactly one of Opsgenie, Ping and HTTP
// is set.
type DeadmanConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	// Opsgenie pings an Opsgenie heartbeat through its Heartbeat API.
	Opsgenie *DeadmanOpsgenie `yaml:"opsgenie,omitempty"`
	// Ping requests a ping URL, as healthchecks.io, Better Stack, Cronitor
	// and Dead Man's Snitch give one.
	Ping *DeadmanPing `yaml:"ping,omitempty"`
	// HTTP sends any request to any endpoint.
	HTTP *DeadmanHTTP `yaml:"http,omitempty"`
}

// DeadmanOpsgenie names an Opsgenie heartbeat and the API key that may
// ping it.
type DeadmanOpsgenie struct {
	// Name is the heartbeat's name in Opsgenie.
	Name       string        `yaml:"name"`
	APIKey     config.Secret `yaml:"api_key,omitempty"`
	APIKeyFile string        `yaml:"api_key_file,omitempty"`
	// APIURL is the API's base URL; Region picks a hosted one instead.
	APIURL string `yaml:"api_url,omitempty"`
	Region string `yaml:"region,omitempty"`
}

// DeadmanPing is a ping URL. The URL is a secret: whoever knows it can
// keep the heartbeat alive.
type DeadmanPing struct {
	URL     config.Secret `yaml:"url,omitempty"`
	URLFile string        `yaml:"url_file,omitempty"`
	// Method is GET (the default), HEAD or POST.
	Method string `yaml:"method,omitempty"`
}

// DeadmanHTTP is a request of the user's making.
type DeadmanHTTP struct {
	URL     config.Secret `yaml:"url,omitempty"`
	URLFile string        `yaml:"url_file,omitempty"`
	// Method is the HTTP method; GET by default.
	Method string `yaml:"method,omitempty"`
	// Headers are sent with every ping; their values are secrets, since
	// they often carry a token.
	Headers map[string]config.Secret `yaml:"headers,omitempty"`
	// Body is sent as it is, with Content-Type from Headers or text/plain.
	Body string `yaml:"body,omitempty"`
}

// Deadman ping kinds, the keys of a deadman_configs entry.
const (
	DeadmanKindOpsgenie = "opsgenie"
	DeadmanKindPing     = "ping"
	DeadmanKindHTTP     = "http"
)

// Kind tells which of opsgenie, ping and http is set.
func (c *DeadmanConfig) Kind() string {
	switch {
	case c.Opsgenie != nil:
		return DeadmanKindOpsgenie
	case c.Ping != nil:
		return DeadmanKindPing
	default:
		return DeadmanKindHTTP
	}
}

// BaseURL is the effective Opsgenie API base URL, from api_url or region.
func (o *DeadmanOpsgenie) BaseURL() string {
	return (&OpsgenieConfig{APIURL: o.APIURL, Region: o.Region}).OpsgenieBaseURL()
}

func (c *DeadmanConfig) applyDefaults() {
	c.defaultResolved(false)
	c.HTTPConfig = defaultHTTP(c.HTTPConfig)
	if c.Ping != nil && c.Ping.Method == "" {
		c.Ping.Method = http.MethodGet
	}
	if c.HTTP != nil && c.HTTP.Method == "" {
		c.HTTP.Method = http.MethodGet
	}
}

var pingMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost}

func (c *DeadmanConfig) validate(v *validator) {
	v.httpConfig(c.HTTPConfig)
	if c.SendResolved != nil && *c.SendResolved {
		v.errorf(c.SendResolved, "a deadman integration pings only while alerts fire; send_resolved cannot be true")
	}
	v.oneOf(c, "a deadman integration", map[string]bool{
		DeadmanKindOpsgenie: c.Opsgenie != nil, DeadmanKindPing: c.Ping != nil, DeadmanKindHTTP: c.HTTP != nil,
	})
	if o := c.Opsgenie; o != nil {
		v.secret(o, &o.APIKey, &o.APIKeyFile, "api_key", true)
		if o.Name == "" {
			v.errorfAt([]any{&o.Name, o}, "name is required: the heartbeat's name in Opsgenie")
		}
		v.opsgenieBase(o, &o.APIURL, &o.Region)
	}
	if p := c.Ping; p != nil {
		v.secret(p, &p.URL, &p.URLFile, "url", true)
		v.secretURL(p, &p.URL, &p.URLFile, "url", false)
		p.Method = strings.ToUpper(p.Method)
		if !slices.Contains(pingMethods, p.Method) {
			v.errorf(&p.Method, "method must be GET, HEAD or POST, not %q", p.Method)
		}
	}
	if h := c.HTTP; h != nil {
		v.secret(h, &h.URL, &h.URLFile, "url", true)
		v.secretURL(h, &h.URL, &h.URLFile, "url", false)
		h.Method = strings.ToUpper(h.Method)
		if !isToken(h.Method) {
			v.errorf(&h.Method, "method %q is not an HTTP method", h.Method)
		}
		for name := range h.Headers {
			if !isToken(name) {
				v.errorf(&h.Headers, "headers: %q is not a valid header name", name)
			}
		}
	}
}

// isToken tells whether s is an HTTP token, which methods and header
// names must be.
func isToken(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) < 0
}

// validateDeadmanOnly refuses a receiver that mixes deadman integrations
// with integrations that page people: the always-firing Watchdog that
// feeds the heartbeat would page someone around the clock.
func (r *ReceiverConfig) validateDeadmanOnly(v *validator) {
	if len(r.DeadmanConfigs) == 0 {
		return
	}
	others := len(r.PagerDutyConfigs) + len(r.SlackConfigs) + len(r.OpsgenieConfigs) + len(r.WebhookConfigs) +
		len(r.EmailConfigs) + len(r.MSTeamsConfigs) + len(r.TwilioConfigs)
	if others > 0 {
		v.errorfAt([]any{&r.DeadmanConfigs, r}, "receiver %q mixes deadman_configs with integrations that page people, which the always-firing Watchdog would page; give the dead-man's switch a receiver of its own", r.Name)
	}
}
