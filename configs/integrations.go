package configs

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Default vendor endpoints, used where a config sets none.
const (
	DefaultPagerDutyURL    = "https://events.pagerduty.com/v2/enqueue"
	DefaultPagerDutyV1URL  = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
	DefaultSlackAPIURL     = "https://slack.com/api/"
	DefaultOpsgenieURL     = "https://api.opsgenie.com/"
	DefaultOpsgenieEUURL   = "https://api.eu.opsgenie.com/"
	DefaultTwilioURL       = "https://api.twilio.com"
	DefaultPagerDutyClient = "tocsin"
)

// NotifierConfig holds the keys every integration shares. Vendor configs
// embed it with `yaml:",inline"`.
type NotifierConfig struct {
	// SendResolved tells whether the integration hears about resolved
	// alerts. Unset takes the vendor's default, as in Alertmanager: false
	// for slack and email, true for the others.
	SendResolved *bool `yaml:"send_resolved,omitempty"`
	// Timeout bounds each call to the vendor, within the dispatcher's
	// bound of an attempt; 0 leaves that bound alone.
	Timeout model.Duration `yaml:"timeout,omitempty"`
	// Order is the config's place among all of its receiver's integrations,
	// as written in the file; strategy failover tries them in this order.
	Order int `yaml:"-"`
}

// SendsResolved reports the effective send_resolved setting.
func (c NotifierConfig) SendsResolved() bool { return c.SendResolved == nil || *c.SendResolved }

func (c *NotifierConfig) defaultResolved(v bool) {
	if c.SendResolved == nil {
		c.SendResolved = &v
	}
}

// PagerDutyConfig pages through PagerDuty's Events API v2 (routing_key),
// or its Events API v1 (service_key) as Alertmanager still does.
type PagerDutyConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	RoutingKey     config.Secret            `yaml:"routing_key,omitempty"`
	RoutingKeyFile string                   `yaml:"routing_key_file,omitempty"`
	// ServiceKey is the integration key of an Events API v1 integration.
	ServiceKey     config.Secret `yaml:"service_key,omitempty"`
	ServiceKeyFile string        `yaml:"service_key_file,omitempty"`
	// URL is the Events API v2 enqueue endpoint, or with service_key the
	// v1 create_event endpoint.
	URL string `yaml:"url,omitempty"`
	// Severity is a template giving critical, error, warning or info; when
	// empty it is taken from the alerts' severity label.
	Severity    string            `yaml:"severity,omitempty"`
	Description string            `yaml:"description,omitempty"`
	Client      string            `yaml:"client,omitempty"`
	ClientURL   string            `yaml:"client_url,omitempty"`
	Source      string            `yaml:"source,omitempty"`
	Component   string            `yaml:"component,omitempty"`
	Group       string            `yaml:"group,omitempty"`
	Class       string            `yaml:"class,omitempty"`
	Details     map[string]string `yaml:"details,omitempty"`
	// Images and Links are attached to the incident; their fields are
	// templates.
	Images []PagerDutyImage `yaml:"images,omitempty"`
	Links  []PagerDutyLink  `yaml:"links,omitempty"`
}

// PagerDutyImage is an image shown on the incident; src must be https.
type PagerDutyImage struct {
	Src  string `yaml:"src"`
	Alt  string `yaml:"alt,omitempty"`
	Href string `yaml:"href,omitempty"`
}

// PagerDutyLink is a link shown on the incident.
type PagerDutyLink struct {
	Href string `yaml:"href"`
	Text string `yaml:"text,omitempty"`
}

// EventsV1 tells whether the config pages through the Events API v1.
func (c *PagerDutyConfig) EventsV1() bool { return c.ServiceKey != "" || c.ServiceKeyFile != "" }

// SlackConfig posts to Slack through an incoming webhook, or with a bot
// token through chat.postMessage (and chat.update on resolve).
type SlackConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	// APIURL is the incoming webhook URL (a secret); with a token, it is
	// the Web API's base URL instead.
	APIURL     config.Secret `yaml:"api_url,omitempty"`
	APIURLFile string        `yaml:"api_url_file,omitempty"`
	Token      config.Secret `yaml:"token,omitempty"`
	TokenFile  string        `yaml:"token_file,omitempty"`
	Channel    string        `yaml:"channel,omitempty"`
	Username   string        `yaml:"username,omitempty"`
	IconEmoji  string        `yaml:"icon_emoji,omitempty"`
	IconURL    string        `yaml:"icon_url,omitempty"`
	Title      string        `yaml:"title,omitempty"`
	Text       string        `yaml:"text,omitempty"`
	// LinkNames has Slack link @names and #channels in the text.
	LinkNames bool `yaml:"link_names,omitempty"`
	// AppToken, AppTokenFile and AppURL are Alertmanager's names for a bot
	// token and the chat.postMessage URL; they are taken as token,
	// token_file and the Web API base in api_url when the config loads.
	AppToken     config.Secret `yaml:"app_token,omitempty"`
	AppTokenFile string        `yaml:"app_token_file,omitempty"`
	AppURL       string        `yaml:"app_url,omitempty"`
	// UpdateMessage, with a bot token, says whether a later notification
	// of the group edits the message that announced it: true edits it
	// every time, false never. Unset edits it when the group resolves,
	// except with app_token, where it is false as in Alertmanager.
	UpdateMessage *bool `yaml:"update_message,omitempty"`

	// Alertmanager's attachment keys, templates except short_fields and
	// mrkdwn_in. When any is set the message is laid out as Alertmanager
	// lays it out (see Attachment); without them it is Block Kit.
	Color       string         `yaml:"color,omitempty"`
	TitleLink   string         `yaml:"title_link,omitempty"`
	Pretext     string         `yaml:"pretext,omitempty"`
	Fallback    string         `yaml:"fallback,omitempty"`
	Footer      string         `yaml:"footer,omitempty"`
	CallbackID  string         `yaml:"callback_id,omitempty"`
	ImageURL    string         `yaml:"image_url,omitempty"`
	ThumbURL    string         `yaml:"thumb_url,omitempty"`
	Fields      []*SlackField  `yaml:"fields,omitempty"`
	ShortFields bool           `yaml:"short_fields,omitempty"`
	Actions     []*SlackAction `yaml:"actions,omitempty"`
	MrkdwnIn    []string       `yaml:"mrkdwn_in,omitempty"`
	// MessageText is the text above the attachment.
	MessageText string `yaml:"message_text,omitempty"`
}

// slackPostMessage ends Alertmanager's app_url.
const slackPostMessage = "chat.postMessage"

// applyAppKeys takes Alertmanager's app_token (or app_token_file) and
// app_url as tocsin's bot mode, unless the config also sets api_url or
// token, which validate then reports.
func (c *SlackConfig) applyAppKeys() {
	if c.AppToken == "" && c.AppTokenFile == "" || c.Token != "" || c.TokenFile != "" || c.APIURL != "" || c.APIURLFile != "" {
		return
	}
	c.Token, c.TokenFile, c.AppToken, c.AppTokenFile = c.AppToken, c.AppTokenFile, "", ""
	if c.AppURL != "" {
		c.APIURL = config.Secret(strings.TrimSuffix(c.AppURL, slackPostMessage))
	}
	if c.UpdateMessage == nil {
		c.UpdateMessage = new(bool)
	}
}

// PostsToWebAPI tells whether api_url, without a token, is the URL of
// chat.postMessage: Alertmanager's way to post as a bot, the token in
// http_config's authorization. Such a config is a bot, not a webhook.
func (c *SlackConfig) PostsToWebAPI() bool {
	return c.Token == "" && c.TokenFile == "" && strings.HasSuffix(strings.TrimSuffix(string(c.APIURL), "/"), "/"+slackPostMessage)
}

// Bot tells whether the config posts through Slack's Web API rather than
// an incoming webhook.
func (c *SlackConfig) Bot() bool { return c.Token != "" || c.TokenFile != "" || c.PostsToWebAPI() }

// Attachment tells whether the message is one legacy attachment, as
// Alertmanager sends it, because a key only attachments have is set.
func (c *SlackConfig) Attachment() bool {
	return c.Color != "" || c.TitleLink != "" || c.Pretext != "" || c.Fallback != "" || c.Footer != "" ||
		c.CallbackID != "" || c.ImageURL != "" || c.ThumbURL != "" || len(c.Fields) > 0 || c.ShortFields ||
		len(c.Actions) > 0 || len(c.MrkdwnIn) > 0 || c.MessageText != ""
}

// SlackField is a field of a Slack attachment; title and value are
// templates. Short unset takes the config's short_fields.
type SlackField struct {
	Title string `yaml:"title"`
	Value string `yaml:"value"`
	Short *bool  `yaml:"short,omitempty"`
}

// SlackAction is a button of a Slack attachment; its strings are templates.
type SlackAction struct {
	Type    string        `yaml:"type"`
	Text    string        `yaml:"text"`
	URL     string        `yaml:"url,omitempty"`
	Style   string        `yaml:"style,omitempty"`
	Name    string        `yaml:"name,omitempty"`
	Value   string        `yaml:"value,omitempty"`
	Confirm *SlackConfirm `yaml:"confirm,omitempty"`
}

// SlackConfirm asks before a button's action is taken.
type SlackConfirm struct {
	Text        string `yaml:"text"`
	Title       string `yaml:"title,omitempty"`
	OkText      string `yaml:"ok_text,omitempty"`
	DismissText string `yaml:"dismiss_text,omitempty"`
}

// OpsgenieResponder is who an Opsgenie alert is assigned to.
type OpsgenieResponder struct {
	ID       string `yaml:"id,omitempty"`
	Name     string `yaml:"name,omitempty"`
	Username string `yaml:"username,omitempty"`
	// Type is team, user, escalation or schedule.
	Type string `yaml:"type"`
}

// OpsgenieConfig creates alerts through Opsgenie's Alert API v2.
type OpsgenieConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	APIKey         config.Secret            `yaml:"api_key,omitempty"`
	APIKeyFile     string                   `yaml:"api_key_file,omitempty"`
	// APIURL is the API's base URL; Region picks a hosted one instead.
	APIURL      string              `yaml:"api_url,omitempty"`
	Region      string              `yaml:"region,omitempty"`
	Message     string              `yaml:"message,omitempty"`
	Description string              `yaml:"description,omitempty"`
	Source      string              `yaml:"source,omitempty"`
	Entity      string              `yaml:"entity,omitempty"`
	Priority    string              `yaml:"priority,omitempty"`
	Tags        string              `yaml:"tags,omitempty"`
	Details     map[string]string   `yaml:"details,omitempty"`
	Responders  []OpsgenieResponder `yaml:"responders,omitempty"`
	// Actions is a template giving a comma-separated list of the alert's
	// custom actions; Note, a template for the note added on creation.
	Actions string `yaml:"actions,omitempty"`
	Note    string `yaml:"note,omitempty"`
	// UpdateAlerts updates the message and description of an alert that
	// is already open for the group, which Opsgenie otherwise keeps.
	UpdateAlerts bool `yaml:"update_alerts,omitempty"`
}

// WebhookConfig posts Alertmanager's version-4 JSON payload, or a payload
// of the user's own.
type WebhookConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	URL            config.Secret            `yaml:"url,omitempty"`
	URLFile        string                   `yaml:"url_file,omitempty"`
	// MaxAlerts caps the alerts in one payload; 0 sends them all. A
	// custom payload's templates see only the alerts kept.
	MaxAlerts int `yaml:"max_alerts,omitempty"`
	// Payload, when set, is posted instead of Alertmanager's message.
	Payload *WebhookPayload `yaml:"payload,omitempty"`
}

// TLSPolicy says whether mail must be, may be, or is never encrypted with STARTTLS.
type TLSPolicy string

// STARTTLS policies.
const (
	TLSMandatory     TLSPolicy = "mandatory"
	TLSOpportunistic TLSPolicy = "opportunistic"
	TLSNone          TLSPolicy = "none"
)

// UnmarshalYAML accepts Alertmanager's boolean require_tls (true is
// mandatory, false opportunistic) as well as a policy name.
func (p *TLSPolicy) UnmarshalYAML(n *yaml.Node) error {
	switch strings.ToLower(n.Value) {
	case "true":
		*p = TLSMandatory
	case "false":
		*p = TLSOpportunistic
	case string(TLSMandatory), string(TLSOpportunistic), string(TLSNone):
		*p = TLSPolicy(strings.ToLower(n.Value))
	default:
		return fmt.Errorf("require_tls must be true, false, mandatory, opportunistic or none, not %q", n.Value)
	}
	return nil
}

// EmailConfig sends mail over SMTP.
type EmailConfig struct {
	NotifierConfig `yaml:",inline"`
	// To is one or more addresses, separated by commas.
	To   string `yaml:"to"`
	From string `yaml:"from"`
	// Smarthost is the SMTP server as host:port; port 465 uses implicit TLS.
	Smarthost        string        `yaml:"smarthost"`
	Hello            string        `yaml:"hello,omitempty"`
	AuthUsername     string        `yaml:"auth_username,omitempty"`
	AuthPassword     config.Secret `yaml:"auth_password,omitempty"`
	AuthPasswordFile string        `yaml:"auth_password_file,omitempty"`
	// AuthIdentity is the identity PLAIN authenticates as, with
	// auth_password; AuthSecret, the shared secret of CRAM-MD5, which is
	// used instead of a password when set.
	AuthIdentity   string        `yaml:"auth_identity,omitempty"`
	AuthSecret     config.Secret `yaml:"auth_secret,omitempty"`
	AuthSecretFile string        `yaml:"auth_secret_file,omitempty"`
	// ForceImplicitTLS speaks TLS from the start (true) or never (false)
	// whatever the port; unset, port 465 does.
	ForceImplicitTLS *bool             `yaml:"force_implicit_tls,omitempty"`
	RequireTLS       TLSPolicy         `yaml:"require_tls,omitempty"`
	TLSConfig        config.TLSConfig  `yaml:"tls_config,omitempty"`
	Headers          map[string]string `yaml:"headers,omitempty"`
	HTML             string            `yaml:"html,omitempty"`
	Text             string            `yaml:"text,omitempty"`
	// Threading has mail clients show a group's notifications as one
	// thread, as Alertmanager's threading does.
	Threading EmailThreading `yaml:"threading,omitempty"`
}

// EmailThreading threads a group's mails under one made-up root message.
type EmailThreading struct {
	Enabled bool `yaml:"enabled,omitempty"`
	// ThreadByDate is daily (the default: a new thread each UTC day) or
	// none (one thread for the group's life).
	ThreadByDate string `yaml:"thread_by_date,omitempty"`
}

// MSTeamsConfig posts to a Teams channel: an Adaptive Card to a Workflows
// webhook, or, to an Office 365 connector URL under msteams_configs, the
// MessageCard Alertmanager's msteams_configs sends.
type MSTeamsConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	WebhookURL     config.Secret            `yaml:"webhook_url,omitempty"`
	WebhookURLFile string                   `yaml:"webhook_url_file,omitempty"`
	Title          string                   `yaml:"title,omitempty"`
	// Summary is the MessageCard's summary (the line Teams shows in its
	// notifications); an Adaptive Card has no place for it.
	Summary string `yaml:"summary,omitempty"`
	Text    string `yaml:"text,omitempty"`
	// V2 tells that the config was written under msteamsv2_configs, which
	// always sends an Adaptive Card, as Alertmanager's does.
	V2 bool `yaml:"-"`
}

// SendsMessageCard reports whether this config posts a MessageCard to
// webhookURL (the URL it reads when it sends): msteams_configs does to
// an Office 365 connector, as Alertmanager's msteams_configs does; any
// other URL, and msteamsv2_configs, get an Adaptive Card.
func (c *MSTeamsConfig) SendsMessageCard(webhookURL string) bool {
	return !c.V2 && IsTeamsConnectorURL(webhookURL)
}

// IsTeamsConnectorURL reports whether u is an Office 365 connector's
// incoming webhook: https://TENANT.webhook.office.com/webhookb2/..., or
// the older https://outlook.office.com/webhook/... (outlook.office365.com
// too), or any URL whose path starts as theirs do (the government clouds,
// a relay). A Workflows URL (*.logic.azure.com/workflows/...,
// *.api.powerplatform.com/..., /powerautomate/...) is not.
func IsTeamsConnectorURL(u string) bool {
	parsed, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := strings.ToLower(parsed.Hostname())
	switch {
	case strings.HasSuffix(host, ".webhook.office.com"), host == "outlook.office.com", host == "outlook.office365.com":
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(parsed.Path, "/"), "/")
	return first == "webhookb2" || first == "webhook"
}

// TwilioConfig sends SMS through Twilio's Messages API.
type TwilioConfig struct {
	NotifierConfig `yaml:",inline"`
	HTTPConfig     *config.HTTPClientConfig `yaml:"http_config,omitempty"`
	AccountSID     string                   `yaml:"account_sid"`
	AuthToken      config.Secret            `yaml:"auth_token,omitempty"`
	AuthTokenFile  string                   `yaml:"auth_token_file,omitempty"`
	From           string                   `yaml:"from"`
	To             string                   `yaml:"to"`
	// APIURL is the API's base URL, without the /2010-04-01 path.
	APIURL string `yaml:"api_url,omitempty"`
	Text   string `yaml:"text,omitempty"`
}

// applyDefaults fills each integration's unset values.
func (r *ReceiverConfig) applyIntegrationDefaults() {
	for _, c := range r.PagerDutyConfigs {
		if c == nil {
			continue
		}
		c.defaultResolved(true)
		c.HTTPConfig = defaultHTTP(c.HTTPConfig)
		if c.EventsV1() {
			c.URL = orDefault(c.URL, DefaultPagerDutyV1URL)
		} else {
			c.URL = orDefault(c.URL, DefaultPagerDutyURL)
		}
		c.Client = orDefault(c.Client, DefaultPagerDutyClient)
	}
	for _, c := range r.SlackConfigs {
		if c != nil {
			c.defaultResolved(false)
			c.HTTPConfig = defaultHTTP(c.HTTPConfig)
			c.applyAppKeys()
		}
	}
	for _, c := range r.OpsgenieConfigs {
		if c != nil {
			c.defaultResolved(true)
			c.HTTPConfig = defaultHTTP(c.HTTPConfig)
		}
	}
	for _, c := range r.WebhookConfigs {
		if c != nil {
			c.defaultResolved(true)
			c.HTTPConfig = defaultHTTP(c.HTTPConfig)
		}
	}
	for _, c := range r.EmailConfigs {
		if c != nil {
			c.defaultResolved(false)
			if c.RequireTLS == "" {
				c.RequireTLS = TLSMandatory
			}
			if c.Threading.Enabled && c.Threading.ThreadByDate == "" {
				c.Threading.ThreadByDate = "daily"
			}
		}
	}
	for _, c := range r.MSTeamsConfigs {
		if c != nil {
			c.defaultResolved(true)
			c.HTTPConfig = defaultHTTP(c.HTTPConfig)
		}
	}
	for _, c := range r.TwilioConfigs {
		if c != nil {
			c.defaultResolved(true)
			c.HTTPConfig = defaultHTTP(c.HTTPConfig)
			c.APIURL = orDefault(c.APIURL, DefaultTwilioURL)
		}
	}
	for _, c := range r.DeadmanConfigs {
		if c != nil {
			c.applyDefaults()
		}
	}
}

func defaultHTTP(c *config.HTTPClientConfig) *config.HTTPClientConfig {
	if c == nil {
		d := config.DefaultHTTPClientConfig
		return &d
	}
	return c
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validateIntegrations checks every integration of a receiver and numbers
// them in the order they were written.
func (r *ReceiverConfig) validateIntegrations(v *validator) {
	r.orderIntegrations(v)
	r.validateDeadmanOnly(v)
	for _, c := range r.PagerDutyConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.SlackConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.OpsgenieConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.WebhookConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.EmailConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.MSTeamsConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.TwilioConfigs {
		if c != nil {
			v.sendResolved = c.SendsResolved()
			c.validate(v)
		}
	}
	for _, c := range r.DeadmanConfigs {
		if c != nil {
			c.validate(v)
		}
	}
}

// orderIntegrations sets Order on every integration config by its place in
// the file, so that failover follows what the user wrote even across
// vendors (pagerduty_configs after opsgenie_configs means Opsgenie first).
func (r *ReceiverConfig) orderIntegrations(v *validator) {
	type placed struct {
		n         *NotifierConfig
		line, col int
		seq       int
	}
	var all []placed
	add := func(n *NotifierConfig, node any) {
		p := placed{n: n, seq: len(all)}
		if yn := v.pos.of(node); yn != nil {
			p.line, p.col = yn.Line, yn.Column
		}
		all = append(all, p)
	}
	for _, c := range r.PagerDutyConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.SlackConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.OpsgenieConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.WebhookConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.EmailConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.MSTeamsConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.TwilioConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	for _, c := range r.DeadmanConfigs {
		if c != nil {
			add(&c.NotifierConfig, c)
		}
	}
	slices.SortStableFunc(all, func(a, b placed) int {
		if a.line != b.line {
			return a.line - b.line
		}
		if a.col != b.col {
			return a.col - b.col
		}
		return a.seq - b.seq
	})
	for i, p := range all {
		p.n.Order = i
	}
}

var pagerDutySeverities = []string{"critical", "error", "warning", "info"}

func (c *PagerDutyConfig) validate(v *validator) {
	if c.EventsV1() {
		c.validateV1(v)
	} else {
		v.secret(c, &c.RoutingKey, &c.RoutingKeyFile, "routing_key", true)
	}
	v.httpConfig(c.HTTPConfig)
	v.url(c, &c.URL, "url", true, "http", "https")
	if c.Severity != "" && !strings.Contains(c.Severity, "{{") && !slices.Contains(pagerDutySeverities, c.Severity) {
		v.errorf(&c.Severity, "severity must be one of %s (or a template giving one), not %q", strings.Join(pagerDutySeverities, ", "), c.Severity)
	}
	v.template(&c.Severity, "severity")
	v.template(&c.Description, "description")
	v.template(&c.Source, "source")
	v.template(&c.Component, "component")
	v.template(&c.Group, "group")
	v.template(&c.Class, "class")
	v.templateMap(&c.Details, "details")
	v.template(&c.Client, "client")
	if c.ClientURL != "" && !strings.Contains(c.ClientURL, "{{") {
		v.url(c, &c.ClientURL, "client_url", false, "http", "https")
	}
	v.template(&c.ClientURL, "client_url")
	for i := range c.Images {
		img := &c.Images[i]
		if img.Src == "" {
			v.errorfAt([]any{img, &c.Images}, "a pagerduty image needs a src")
		} else if !strings.Contains(img.Src, "{{") && !strings.HasPrefix(img.Src, "https://") {
			v.errorf(&img.Src, "a pagerduty image's src must be an https URL, which PagerDuty requires, not %q", img.Src)
		}
		v.template(&img.Src, "images.src")
		v.template(&img.Alt, "images.alt")
		v.template(&img.Href, "images.href")
	}
	for i := range c.Links {
		l := &c.Links[i]
		if l.Href == "" {
			v.errorfAt([]any{l, &c.Links}, "a pagerduty link needs an href")
		}
		v.template(&l.Href, "links.href")
		v.template(&l.Text, "links.text")
	}
}

// validateV1 checks a service_key config: the Events API v1 has none of
// v2's payload fields, which would otherwise be dropped without a word.
func (c *PagerDutyConfig) validateV1(v *validator) {
	if c.RoutingKey != "" || c.RoutingKeyFile != "" {
		v.errorfAt([]any{&c.RoutingKey, &c.RoutingKeyFile, c}, "set either routing_key (Events API v2) or service_key (Events API v1), not both")
	}
	v.secret(c, &c.ServiceKey, &c.ServiceKeyFile, "service_key", true)
	for _, f := range []struct {
		ptr any
		set bool
		key string
	}{{&c.Severity, c.Severity != "", "severity"}, {&c.Source, c.Source != "", "source"}, {&c.Component, c.Component != "", "component"},
		{&c.Group, c.Group != "", "group"}, {&c.Class, c.Class != "", "class"}, {&c.Images, len(c.Images) > 0, "images"}, {&c.Links, len(c.Links) > 0, "links"}} {
		if f.set {
			v.errorf(f.ptr, "%s is a field of PagerDuty's Events API v2, which service_key (Events API v1) cannot send; use routing_key with an Events API v2 integration", f.key)
		}
	}
}

func (c *SlackConfig) validate(v *validator) {
	if c.AppToken != "" || c.AppTokenFile != "" {
		v.errorfAt([]any{&c.AppToken, &c.AppTokenFile}, "set either app_token (Alertmanager's name for a bot token) or api_url and token, not both")
	}
	if c.AppURL != "" {
		if u := v.url(c, &c.AppURL, "app_url", false, "http", "https"); u != nil && !strings.HasSuffix(u.Path, "/"+slackPostMessage) {
			v.errorf(&c.AppURL, "app_url must be the URL of chat.postMessage, such as https://slack.com/api/chat.postMessage")
		}
	}
	if c.UpdateMessage != nil && *c.UpdateMessage && !c.Bot() {
		v.errorfAt([]any{&c.UpdateMessage, c.UpdateMessage, c}, "update_message needs a bot token (token or app_token, or api_url set to chat.postMessage): an incoming webhook cannot edit a message")
	}
	if c.PostsToWebAPI() && c.Channel == "" {
		v.errorfAt([]any{&c.Channel, c}, "posting with chat.postMessage needs a channel")
	}
	v.httpConfig(c.HTTPConfig)
	v.secret(c, &c.Token, &c.TokenFile, "token", false)
	if c.Token != "" {
		// Bot mode: api_url, when set, is the Web API base and no secret.
		if c.APIURLFile != "" {
			v.errorf(&c.APIURLFile, "with a bot token, set the Web API base in api_url, not api_url_file")
		}
		if c.Channel == "" {
			v.errorfAt([]any{&c.Channel, c}, "a bot token needs a channel to post to")
		}
		v.secretURL(c, &c.APIURL, nil, "api_url", false)
	} else {
		v.secret(c, &c.APIURL, &c.APIURLFile, "api_url", false)
		if c.APIURL == "" && c.APIURLFile == "" {
			v.errorfAt([]any{c}, "slack needs api_url (or api_url_file) with an incoming webhook URL, or token (or token_file) for a bot")
		}
		v.secretURL(c, &c.APIURL, &c.APIURLFile, "api_url", false)
	}
	if c.IconURL != "" {
		v.url(c, &c.IconURL, "icon_url", false, "http", "https")
	}
	v.template(&c.Title, "title")
	v.template(&c.Text, "text")
	c.validateAttachment(v)
}

// slackMrkdwnIn are the attachment parts Slack formats as mrkdwn.
var slackMrkdwnIn = []string{"fallback", "pretext", "text", "fields"}

func (c *SlackConfig) validateAttachment(v *validator) {
	for _, p := range []struct {
		s   *string
		key string
	}{{&c.Color, "color"}, {&c.TitleLink, "title_link"}, {&c.Pretext, "pretext"}, {&c.Fallback, "fallback"}, {&c.Footer, "footer"},
		{&c.CallbackID, "callback_id"}, {&c.ImageURL, "image_url"}, {&c.ThumbURL, "thumb_url"}, {&c.MessageText, "message_text"}} {
		v.template(p.s, p.key)
	}
	for _, f := range c.Fields {
		if f == nil || f.Title == "" || f.Value == "" {
			v.errorfAt([]any{f, &c.Fields}, "a slack field needs a title and a value")
			continue
		}
		v.template(&f.Title, "fields.title")
		v.template(&f.Value, "fields.value")
	}
	for _, a := range c.Actions {
		switch {
		case a == nil || a.Type == "" || a.Text == "":
			v.errorfAt([]any{a, &c.Actions}, "a slack action needs a type and a text")
			continue
		case a.Type != "button":
			v.errorf(&a.Type, "slack action type must be button, not %q: a menu needs options, which no config key gives", a.Type)
		case a.URL == "" && a.Name == "":
			v.errorf(a, "a slack action needs a url or a name")
		}
		for _, p := range []struct {
			s   *string
			key string
		}{{&a.Text, "text"}, {&a.URL, "url"}, {&a.Style, "style"}, {&a.Name, "name"}, {&a.Value, "value"}} {
			v.template(p.s, "actions."+p.key)
		}
		if cf := a.Confirm; cf != nil {
			if cf.Text == "" {
				v.errorfAt([]any{cf, a}, "a slack action's confirm needs a text")
			}
			for _, p := range []struct {
				s   *string
				key string
			}{{&cf.Text, "text"}, {&cf.Title, "title"}, {&cf.OkText, "ok_text"}, {&cf.DismissText, "dismiss_text"}} {
				v.template(p.s, "actions.confirm."+p.key)
			}
		}
	}
	for i := range c.MrkdwnIn {
		if !slices.Contains(slackMrkdwnIn, c.MrkdwnIn[i]) {
			v.errorf(&c.MrkdwnIn[i], "mrkdwn_in takes %s, not %q", strings.Join(slackMrkdwnIn, ", "), c.MrkdwnIn[i])
		}
	}
}

var opsgeniePriority = regexp.MustCompile(`^P[1-5]$`)

var opsgenieResponderTypes = []string{"team", "user", "escalation", "schedule"}

func (c *OpsgenieConfig) validate(v *validator) {
	v.httpConfig(c.HTTPConfig)
	v.secret(c, &c.APIKey, &c.APIKeyFile, "api_key", true)
	v.opsgenieBase(c, &c.APIURL, &c.Region)
	if c.Priority != "" && !strings.Contains(c.Priority, "{{") && !opsgeniePriority.MatchString(c.Priority) {
		v.errorf(&c.Priority, "priority must be P1, P2, P3, P4 or P5, not %q", c.Priority)
	}
	for i := range c.Responders {
		rs := &c.Responders[i]
		if !slices.Contains(opsgenieResponderTypes, rs.Type) && !strings.Contains(rs.Type, "{{") {
			v.errorfAt([]any{&rs.Type, rs}, "responder type must be one of %s, not %q", strings.Join(opsgenieResponderTypes, ", "), rs.Type)
		}
		if rs.ID == "" && rs.Name == "" && rs.Username == "" {
			v.errorf(rs, "responder needs an id, name or username")
		}
	}
	for _, p := range []struct {
		s   *string
		key string
	}{{&c.Message, "message"}, {&c.Description, "description"}, {&c.Source, "source"}, {&c.Entity, "entity"}, {&c.Priority, "priority"}, {&c.Tags, "tags"},
		{&c.Actions, "actions"}, {&c.Note, "note"}} {
		v.template(p.s, p.key)
	}
	v.templateMap(&c.Details, "details")
}

// opsgenieBase checks the api_url and region keys of an Opsgenie section.
func (v *validator) opsgenieBase(parent any, apiURL, region *string) {
	switch {
	case *apiURL != "" && *region != "":
		v.errorf(region, "set either api_url or region, not both")
	case *region != "" && *region != "us" && *region != "eu":
		v.errorf(region, "region must be us or eu, not %q", *region)
	case *apiURL != "":
		v.url(parent, apiURL, "api_url", true, "http", "https")
	}
}

// OpsgenieBaseURL is the effective API base URL, from api_url or region.
func (c *OpsgenieConfig) OpsgenieBaseURL() string {
	switch {
	case c.APIURL != "":
		return c.APIURL
	case c.Region == "eu":
		return DefaultOpsgenieEUURL
	default:
		return DefaultOpsgenieURL
	}
}

func (c *WebhookConfig) validate(v *validator) {
	v.httpConfig(c.HTTPConfig)
	v.secret(c, &c.URL, &c.URLFile, "url", true)
	if IsTemplatedURL(string(c.URL)) {
		v.secretURLTemplate(&c.URL, &c.URLFile, "url")
	} else {
		v.secretURL(c, &c.URL, &c.URLFile, "url", false)
	}
	if c.MaxAlerts < 0 {
		v.errorf(&c.MaxAlerts, "max_alerts must not be negative")
	}
	if c.Payload != nil {
		c.Payload.validate(v)
	}
}

func (c *EmailConfig) validate(v *validator) {
	v.secret(c, &c.AuthPassword, &c.AuthPasswordFile, "auth_password", false)
	if c.To == "" {
		v.errorfAt([]any{&c.To, c}, "to is required")
	} else if _, err := mail.ParseAddressList(c.To); err != nil {
		v.errorf(&c.To, "to: bad address list: %v", err)
	}
	if c.From == "" {
		v.errorfAt([]any{&c.From, c}, "from is required")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		v.errorf(&c.From, "from: bad address: %v", err)
	}
	if c.Smarthost == "" {
		v.errorfAt([]any{&c.Smarthost, c}, "smarthost is required, as host:port")
	} else if host, port, err := net.SplitHostPort(c.Smarthost); err != nil || host == "" {
		v.errorf(&c.Smarthost, "smarthost must be host:port, not %q", c.Smarthost)
	} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		v.errorf(&c.Smarthost, "smarthost port must be a number from 1 to 65535, not %q", port)
	}
	v.secret(c, &c.AuthSecret, &c.AuthSecretFile, "auth_secret", false)
	if c.AuthPassword != "" && c.AuthUsername == "" {
		v.errorfAt([]any{&c.AuthPassword, &c.AuthPasswordFile, c}, "auth_password needs auth_username")
	}
	switch {
	case c.AuthSecret != "" && c.AuthUsername == "":
		v.errorfAt([]any{&c.AuthSecret, &c.AuthSecretFile, c}, "auth_secret needs auth_username")
	case c.AuthSecret != "" && c.AuthPassword != "":
		v.errorfAt([]any{&c.AuthSecret, &c.AuthSecretFile, c}, "set either auth_password or auth_secret (CRAM-MD5), not both: tocsin authenticates with the one given")
	case c.AuthIdentity != "" && c.AuthPassword == "":
		v.errorf(&c.AuthIdentity, "auth_identity is the identity of PLAIN authentication and needs auth_password")
	}
	v.strictKeys(v.pos.of(&c.TLSConfig), reflect.TypeFor[config.TLSConfig](), "tls_config")
	c.TLSConfig.SetDirectory(v.dir)
	if err := c.TLSConfig.Validate(); err != nil {
		v.errorfAt([]any{&c.TLSConfig, c}, "tls_config: %v", err)
	}
	v.templateMap(&c.Headers, "headers")
	if c.Threading.Enabled {
		for k := range c.Headers {
			if strings.EqualFold(k, "References") || strings.EqualFold(k, "In-Reply-To") {
				v.errorfAt([]any{&c.Threading, &c.Headers}, "threading sets the %s header, which headers sets too; keep one", k)
			}
		}
	}
	if t := c.Threading.ThreadByDate; t != "" && t != "daily" && t != "none" {
		v.errorf(&c.Threading.ThreadByDate, "thread_by_date must be daily or none, not %q", t)
	}
	v.template(&c.HTML, "html")
	v.template(&c.Text, "text")
}

func (c *MSTeamsConfig) validate(v *validator) {
	v.httpConfig(c.HTTPConfig)
	v.secret(c, &c.WebhookURL, &c.WebhookURLFile, "webhook_url", true)
	v.secretURL(c, &c.WebhookURL, &c.WebhookURLFile, "webhook_url", false)
	v.template(&c.Title, "title")
	v.template(&c.Summary, "summary")
	v.template(&c.Text, "text")
	c.warnRetired(v)
}

// warnRetired warns of an Office 365 connector URL, which Microsoft has
// retired, and of a summary that no card will show. The URL is a secret
// and is never shown.
func (c *MSTeamsConfig) warnRetired(v *validator) {
	where := []any{&c.WebhookURL, c}
	if c.WebhookURLFile != "" {
		where = []any{&c.WebhookURLFile, c}
	}
	connector := IsTeamsConnectorURL(string(c.WebhookURL))
	if connector {
		v.warnAt(where, "webhook_url is an Office 365 connector (incoming webhook) URL: Microsoft has retired Office 365 connectors in Teams (announced in July 2024; the last end dates reported are in spring 2026), so this channel may no longer receive anything; "+
			"in the channel, create a workflow from the template \"Post to a channel when a webhook request is received\" and put its URL here: tocsin then posts an Adaptive Card to it")
	}
	if c.Summary != "" && !c.SendsMessageCard(string(c.WebhookURL)) {
		v.warnAt([]any{&c.Summary, c}, "summary is shown only by the MessageCard that msteams_configs posts to an Office 365 connector; this webhook gets an Adaptive Card, which has no summary")
	}
}

var (
	twilioSID = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

func (c *TwilioConfig) validate(v *validator) {
	v.httpConfig(c.HTTPConfig)
	v.secret(c, &c.AuthToken, &c.AuthTokenFile, "auth_token", true)
	switch {
	case c.AccountSID == "":
		v.errorfAt([]any{&c.AccountSID, c}, "account_sid is required")
	case !twilioSID.MatchString(c.AccountSID):
		v.errorf(&c.AccountSID, "account_sid must be AC followed by 32 hex digits")
	}
	if c.From == "" {
		v.errorfAt([]any{&c.From, c}, "from is required: a phone number in E.164 form (+15551234567) or a sender ID")
	}
	if c.To == "" {
		v.errorfAt([]any{&c.To, c}, "to is required: a phone number in E.164 form (+15551234567)")
	} else if !e164.MatchString(c.To) {
		v.errorf(&c.To, "to must be a phone number in E.164 form (+15551234567), not %q", c.To)
	}
	v.url(c, &c.APIURL, "api_url", true, "http", "https")
	v.template(&c.Text, "text")
}

// httpConfig checks an http_config and resolves its file paths against
// the config's directory.
func (v *validator) httpConfig(c *config.HTTPClientConfig) {
	if c == nil || v.checkedHTTP[c] {
		return
	}
	if v.checkedHTTP == nil {
		v.checkedHTTP = map[*config.HTTPClientConfig]bool{}
	}
	// The global http_config is shared by the integrations without their
	// own; its paths are resolved once.
	v.checkedHTTP[c] = true
	v.strictKeys(v.pos.of(c), reflect.TypeFor[config.HTTPClientConfig](), "http_config")
	c.SetDirectory(v.dir)
	if err := c.Validate(); err != nil {
		v.errorf(c, "http_config: %v", err)
	}
}

// strictKeys reports unknown keys in a section that Prometheus' own types
// decode, which would otherwise be ignored without a word.
func (v *validator) strictKeys(n *yaml.Node, t reflect.Type, what string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n != nil && n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice { // write_relabel_configs
		for _, item := range n.Content {
			v.strictKeys(item, t.Elem(), what)
		}
		return
	}
	if n == nil || n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return
	}
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		idx, ok := fields[kn.Value]
		if !ok {
			if elem, isMap := inlineMap(t); isMap {
				v.strictKeys(vn, elem, what+"."+kn.Value)
				continue
			}
			v.at(kn, "unknown key %q in %s; valid keys: %s", kn.Value, what, strings.Join(fieldNames(fields), ", "))
			continue
		}
		v.strictKeys(vn, t.FieldByIndex(idx).Type, what+"."+kn.Value)
	}
}

// secretURL checks a URL that is itself a secret (it may embed a token):
// problems are reported without ever showing the URL. file, when given and
// set, is where the URL came from and takes the position.
func (v *validator) secretURL(parent any, s *config.Secret, file *string, key string, required bool) {
	where := []any{s, parent}
	if file != nil && *file != "" {
		where = []any{file, parent}
	}
	if *s == "" {
		if required {
			v.errorfAt(where, "%s is required", key)
		}
		return
	}
	if problem := urlProblem(string(*s)); problem != "" {
		v.errorfAt(where, "%s: %s", key, problem)
	}
}

// urlProblem says what keeps s from being an absolute http or https URL,
// without quoting it; "" when nothing does.
func urlProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "bad URL (not shown, it may hold a secret): " + urlErrorKind(err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "URL must use http or https (URL not shown, it may hold a secret)"
	case u.Host == "":
		return "URL has no host (URL not shown, it may hold a secret)"
	}
	return ""
}

// IsTemplatedURL tells a URL written as a template from a plain one, as
// Alertmanager's ContainsTemplating does: by its "{{".
func IsTemplatedURL(s string) bool { return strings.Contains(s, "{{") }

// CheckRenderedURL tells what is wrong with the URL a template rendered
// to: it must be an absolute http or https URL. The error never shows the
// URL, which may hold a secret.
func CheckRenderedURL(s string) error {
	if s == "" {
		return errors.New("the template renders to an empty URL")
	}
	if problem := urlProblem(s); problem != "" {
		return fmt.Errorf("the template renders to no absolute http or https URL: %s", problem)
	}
	return nil
}

// secretURLTemplate checks a secret URL written as a template, as
// Alertmanager checks its SecretTemplateURL when it loads: the template's
// syntax only, since only the rendered URL has a form. check config
// renders it against sample alerts and judges the URL it gives. Problems
// are placed at url_file when the template came from there.
func (v *validator) secretURLTemplate(s *config.Secret, file *string, key string) {
	n, inFile := v.pos.of(s), false
	if *file != "" {
		n, inFile, key = v.pos.of(file), true, key+"_file"
	}
	if err := parseTemplate(string(*s)); err != nil {
		v.at(n, "%s: bad template (URL not shown, it may hold a secret): %v", key, err)
		return
	}
	if f := v.addTemplateNode(n, string(*s), key); f != nil {
		f.Rendered = CheckRenderedURL
		if inFile {
			f.offset = -1 // the text is in another file
		}
	}
}

// urlErrorKind keeps the cause of a URL parse error without the URL, which
// *url.Error would print whole.
func urlErrorKind(err error) string {
	msg := unwrapURLError(err).Error()
	// Causes such as `invalid port ":x" after host` quote a fragment; drop it.
	if i := strings.IndexByte(msg, '"'); i > 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// template checks that *s, when set, parses as a message template.
func (v *validator) template(s *string, key string) {
	v.templateAt(s, *s, key)
}

func (v *validator) templateAt(ptr any, text, key string) {
	v.templateNode(v.pos.of(ptr), text, key)
}

// templateNode is templateAt for a value known by its node, such as a
// string inside a webhook payload.
func (v *validator) templateNode(n *yaml.Node, text, key string) {
	if text == "" {
		return
	}
	if err := parseTemplate(text); err != nil {
		v.at(n, "%s: bad template: %v", key, err)
		return
	}
	v.addTemplateNode(n, text, key)
}

// templateMap checks each value of *m as a template, placed at its own
// value in the file.
func (v *validator) templateMap(m *map[string]string, key string) {
	n := v.pos.of(m)
	for k, val := range *m {
		v.templateNode(valueOf(n, k), val, key+"."+k)
	}
}

// parseTemplate checks template syntax with the functions notifiers provides.
func parseTemplate(text string) error {
	funcs := template.FuncMap{}
	for _, name := range TemplateFuncNames() {
		funcs[name] = func(...any) string { return "" }
	}
	_, err := template.New("message").Funcs(funcs).Parse(text)
	if err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: message:"))
	}
	return nil
}
