package configs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// ProbeConfig is one probe: what to check, how often, and the labels its
// series carry. Exactly one kind section (roundtrip, http, tcp, heartbeat) is set.
type ProbeConfig struct {
	Name     string         `yaml:"name"`
	Interval model.Duration `yaml:"interval,omitempty"`
	Timeout  model.Duration `yaml:"timeout,omitempty"`
	Labels   model.LabelSet `yaml:"labels,omitempty"`

	RoundTrip *RoundTripProbe `yaml:"roundtrip,omitempty"`
	HTTP      *HTTPProbe      `yaml:"http,omitempty"`
	TCP       *TCPProbe       `yaml:"tcp,omitempty"`
	Heartbeat *HeartbeatProbe `yaml:"heartbeat,omitempty"`
}

// Kind names the probe's kind section, as used in the `kind` label.
func (p *ProbeConfig) Kind() string {
	switch {
	case p.RoundTrip != nil:
		return "roundtrip"
	case p.HTTP != nil:
		return "http"
	case p.TCP != nil:
		return "tcp"
	case p.Heartbeat != nil:
		return "heartbeat"
	}
	return ""
}

// ReservedProbeLabels are set by tocsin on every probe series; a probe's own
// labels may not use them.
var ReservedProbeLabels = []model.LabelName{"probe", "kind", "replica", "reason", "phase"}

// MQTT protocol versions a probe can speak.
const (
	MQTTv311 = "3.1.1"
	MQTTv5   = "5"
)

// DefaultWebhookSignatureHeader carries the HMAC-SHA256 of a webhook body,
// as GitHub and many relays send it ("sha256=<hex>").
const DefaultWebhookSignatureHeader = "X-Hub-Signature-256"

// RoundTripProbe sends a nonce one way and expects it back another way.
type RoundTripProbe struct {
	Send   RoundTripSend   `yaml:"send"`
	Expect RoundTripExpect `yaml:"expect"`
}

// RoundTripSend is how the nonce leaves: exactly one transport.
type RoundTripSend struct {
	MQTT *MQTTTransport `yaml:"mqtt,omitempty"`
	HTTP *HTTPSend      `yaml:"http,omitempty"`
	NATS *NATSTransport `yaml:"nats,omitempty"`
}

// RoundTripExpect is where the nonce must come back: exactly one transport.
type RoundTripExpect struct {
	MQTT    *MQTTTransport `yaml:"mqtt,omitempty"`
	Webhook *WebhookExpect `yaml:"webhook,omitempty"`
	SSE     *SSEExpect     `yaml:"sse,omitempty"`
	NATS    *NATSTransport `yaml:"nats,omitempty"`
}

// MQTTTransport publishes or subscribes on an MQTT broker. Probes whose
// transports agree on url, protocol_version, client_id, credentials and TLS
// share one connection.
type MQTTTransport struct {
	URL   string `yaml:"url"`
	Topic string `yaml:"topic"`
	QoS   byte   `yaml:"qos,omitempty"`
	// ProtocolVersion is "3.1.1" (the default) or "5".
	ProtocolVersion string `yaml:"protocol_version,omitempty"`
	// ClientID is set only where a broker's ACL demands a fixed one; it
	// then must differ between replicas, or they disconnect each other.
	ClientID     string          `yaml:"client_id,omitempty"`
	Username     string          `yaml:"username,omitempty"`
	Password     config.Secret   `yaml:"password,omitempty"`
	PasswordFile string          `yaml:"password_file,omitempty"`
	TLS          *ProbeTLSConfig `yaml:"tls_config,omitempty"`
}

// HTTPSend sends the nonce in an HTTP request.
type HTTPSend struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	// Body is a Go text/template with .Nonce, .Probe, .Replica and .SentAt;
	// it must use .Nonce. Empty: a small JSON document with all four.
	Body            string          `yaml:"body,omitempty"`
	BearerToken     config.Secret   `yaml:"bearer_token,omitempty"`
	BearerTokenFile string          `yaml:"bearer_token_file,omitempty"`
	TLS             *ProbeTLSConfig `yaml:"tls_config,omitempty"`
}

// NATSTransport publishes or subscribes on a NATS subject.
type NATSTransport struct {
	URL          string          `yaml:"url"`
	Subject      string          `yaml:"subject"`
	Username     string          `yaml:"username,omitempty"`
	Password     config.Secret   `yaml:"password,omitempty"`
	PasswordFile string          `yaml:"password_file,omitempty"`
	TLS          *ProbeTLSConfig `yaml:"tls_config,omitempty"`
}

// WebhookExpect waits for tocsin's own /probe/webhook/<probe> to be called.
type WebhookExpect struct {
	// Secret, when set, is the HMAC-SHA256 key the caller signs the body
	// with; unsigned or wrongly signed calls are refused.
	Secret          config.Secret `yaml:"secret,omitempty"`
	SecretFile      string        `yaml:"secret_file,omitempty"`
	SignatureHeader string        `yaml:"signature_header,omitempty"`
}

// SSEExpect reads an event stream (text/event-stream).
type SSEExpect struct {
	URL             string            `yaml:"url"`
	Headers         map[string]string `yaml:"headers,omitempty"`
	BearerToken     config.Secret     `yaml:"bearer_token,omitempty"`
	BearerTokenFile string            `yaml:"bearer_token_file,omitempty"`
	TLS             *ProbeTLSConfig   `yaml:"tls_config,omitempty"`
}

// HTTPProbe checks an HTTP endpoint, with blackbox_exporter's options.
type HTTPProbe struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty"`
	// ValidStatusCodes defaults to any 2xx.
	ValidStatusCodes           []int           `yaml:"valid_status_codes,omitempty"`
	FailIfBodyMatchesRegexp    []string        `yaml:"fail_if_body_matches_regexp,omitempty"`
	FailIfBodyNotMatchesRegexp []string        `yaml:"fail_if_body_not_matches_regexp,omitempty"`
	FailIfSSL                  bool            `yaml:"fail_if_ssl,omitempty"`
	FailIfNotSSL               bool            `yaml:"fail_if_not_ssl,omitempty"`
	NoFollowRedirects          bool            `yaml:"no_follow_redirects,omitempty"`
	BearerToken                config.Secret   `yaml:"bearer_token,omitempty"`
	BearerTokenFile            string          `yaml:"bearer_token_file,omitempty"`
	TLS                        *ProbeTLSConfig `yaml:"tls_config,omitempty"`
}

// TCPProbe checks that a TCP port accepts connections and, optionally,
// answers a line as expected.
type TCPProbe struct {
	Address   string          `yaml:"address"`
	TLS       bool            `yaml:"tls,omitempty"`
	TLSConfig *ProbeTLSConfig `yaml:"tls_config,omitempty"`
	// Send is written once connected (a trailing newline is added when missing).
	Send string `yaml:"send,omitempty"`
	// Expect is a regular expression one received line must match.
	Expect string `yaml:"expect,omitempty"`
}

// HeartbeatProbe succeeds while pushes arrive at /api/v1/heartbeats/<probe>.
type HeartbeatProbe struct {
	Grace     model.Duration `yaml:"grace"`
	Token     config.Secret  `yaml:"token,omitempty"`
	TokenFile string         `yaml:"token_file,omitempty"`
}

// ProbeTLSConfig is the TLS client side of a probe. Relative paths are
// resolved against the config file's directory during loading.
type ProbeTLSConfig struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

func (p *ProbeConfig) applyDefaults(d ScrapeDefaults) {
	if p.Interval == 0 {
		p.Interval = d.Interval
	}
	if p.Timeout == 0 {
		p.Timeout = fitTimeout(d.Timeout, p.Interval)
	}
	if rt := p.RoundTrip; rt != nil {
		for _, m := range []*MQTTTransport{rt.Send.MQTT, rt.Expect.MQTT} {
			if m != nil && m.ProtocolVersion == "" {
				m.ProtocolVersion = MQTTv311
			}
		}
		if h := rt.Send.HTTP; h != nil && h.Method == "" {
			h.Method = http.MethodPost
		}
		if w := rt.Expect.Webhook; w != nil && w.SignatureHeader == "" {
			w.SignatureHeader = DefaultWebhookSignatureHeader
		}
	}
	if h := p.HTTP; h != nil && h.Method == "" {
		h.Method = http.MethodGet
	}
}

func validateProbes(v *validator, probes []*ProbeConfig) {
	names := make([]*string, 0, len(probes))
	for _, p := range probes {
		if p == nil {
			continue
		}
		names = append(names, &p.Name)
		p.validate(v)
	}
	v.unique("probe", names)
}

func (p *ProbeConfig) validate(v *validator) {
	if p.Name == "" {
		v.errorf(p, "probe needs a name")
	} else if !model.LabelValue(p.Name).IsValid() {
		v.errorf(&p.Name, "probe name %q is not valid UTF-8", p.Name)
	}
	v.labelNames(&p.Labels, "labels")
	if err := p.Labels.Validate(); err != nil {
		v.errorf(&p.Labels, "labels: %v", err)
	}
	v.positiveIfSet(&p.Interval, "interval", "global.scrape_defaults.interval")
	v.positiveIfSet(&p.Timeout, "timeout", "global.scrape_defaults.timeout")
	for _, l := range ReservedProbeLabels {
		if _, ok := p.Labels[l]; ok {
			v.errorf(&p.Labels, "labels: %q is set by tocsin on every probe series; choose another name", l)
		}
	}
	if p.Interval <= 0 {
		v.errorf(&p.Interval, "interval must be positive")
	}
	if p.Timeout <= 0 {
		v.errorf(&p.Timeout, "timeout must be positive")
	} else if p.Timeout >= p.Interval && p.Kind() != "heartbeat" {
		v.errorfAt([]any{&p.Timeout, &p.Interval, p}, "timeout %s must be shorter than interval %s", p.Timeout, p.Interval)
	}
	v.oneOf(p, fmt.Sprintf("probe %q", p.Name), map[string]bool{
		"roundtrip": p.RoundTrip != nil, "http": p.HTTP != nil, "tcp": p.TCP != nil, "heartbeat": p.Heartbeat != nil,
	})
	switch {
	case p.RoundTrip != nil:
		p.RoundTrip.validate(v)
	case p.HTTP != nil:
		p.HTTP.validate(v)
	case p.TCP != nil:
		p.TCP.validate(v)
	case p.Heartbeat != nil:
		if p.Heartbeat.Grace <= 0 {
			v.errorfAt([]any{&p.Heartbeat.Grace, p.Heartbeat}, "grace must be positive")
		}
		// Without a token anyone could keep a dead watchdog looking alive.
		v.secret(p.Heartbeat, &p.Heartbeat.Token, &p.Heartbeat.TokenFile, "token", true)
	}
}

func (r *RoundTripProbe) validate(v *validator) {
	s, e := &r.Send, &r.Expect
	v.oneOf(s, "send", map[string]bool{"mqtt": s.MQTT != nil, "http": s.HTTP != nil, "nats": s.NATS != nil})
	v.oneOf(e, "expect", map[string]bool{"mqtt": e.MQTT != nil, "webhook": e.Webhook != nil, "sse": e.SSE != nil, "nats": e.NATS != nil})
	if s.MQTT != nil {
		s.MQTT.validate(v, true)
	}
	if e.MQTT != nil {
		e.MQTT.validate(v, false)
	}
	if h := s.HTTP; h != nil {
		v.url(h, &h.URL, "url", true, "http", "https")
		validateMethod(v, &h.Method)
		validateHeaders(v, &h.Headers, h.Headers)
		validateBodyTemplate(v, &h.Body)
		v.secret(h, &h.BearerToken, &h.BearerTokenFile, "bearer_token", false)
		v.tls(h.TLS)
	}
	for _, n := range []*NATSTransport{s.NATS, e.NATS} {
		if n != nil {
			v.url(n, &n.URL, "url", true, "nats", "tls")
			if n.Subject == "" {
				v.errorf(n, "subject is required")
			} else if strings.ContainsAny(n.Subject, " \t\r\n") {
				v.errorf(&n.Subject, "subject %q must not contain white space", n.Subject)
			}
			v.secret(n, &n.Password, &n.PasswordFile, "password", false)
			v.tls(n.TLS)
		}
	}
	if e.Webhook != nil {
		v.secret(e.Webhook, &e.Webhook.Secret, &e.Webhook.SecretFile, "secret", false)
		if http.CanonicalHeaderKey(e.Webhook.SignatureHeader) == "" || strings.ContainsAny(e.Webhook.SignatureHeader, " :") {
			v.errorf(&e.Webhook.SignatureHeader, "signature_header %q is not a valid header name", e.Webhook.SignatureHeader)
		}
	}
	if sse := e.SSE; sse != nil {
		v.url(sse, &sse.URL, "url", true, "http", "https")
		validateHeaders(v, &sse.Headers, sse.Headers)
		v.secret(sse, &sse.BearerToken, &sse.BearerTokenFile, "bearer_token", false)
		v.tls(sse.TLS)
	}
}

func (m *MQTTTransport) validate(v *validator, publish bool) {
	u := v.url(m, &m.URL, "url", true, "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss")
	if u != nil && m.TLS != nil && !slices.Contains(mqttTLSSchemes, u.Scheme) {
		// The MQTT clients choose TLS by scheme alone; tls_config on a
		// plain URL would be ignored and the probe would talk in the clear.
		v.errorf(m.TLS, "tls_config needs a TLS URL (%s); %s:// connects without TLS",
			strings.Join(mqttTLSSchemes, ", "), u.Scheme)
	}
	switch {
	case m.Topic == "":
		v.errorf(m, "topic is required")
	case publish && strings.ContainsAny(m.Topic, "+#"):
		v.errorf(&m.Topic, "topic %q: a publish topic must not contain the wildcards + or #", m.Topic)
	case !publish && !validTopicFilter(m.Topic):
		v.errorf(&m.Topic, "topic %q is not a valid MQTT topic filter (# only as the last level, + alone in its level)", m.Topic)
	}
	if m.QoS > 2 {
		v.errorf(&m.QoS, "qos must be 0, 1 or 2")
	}
	if m.ProtocolVersion != MQTTv311 && m.ProtocolVersion != MQTTv5 {
		v.errorf(&m.ProtocolVersion, "protocol_version %q: must be %s or %s", m.ProtocolVersion, MQTTv311, MQTTv5)
	}
	v.secret(m, &m.Password, &m.PasswordFile, "password", false)
	if m.Password != "" && m.Username == "" {
		v.errorfAt([]any{&m.PasswordFile, &m.Password, m}, "a password needs a username")
	}
	v.tls(m.TLS)
}

// mqttTLSSchemes are the MQTT URL schemes that connect over TLS.
var mqttTLSSchemes = []string{"ssl", "tls", "mqtts", "wss"}

// validTopicFilter follows MQTT's rules for subscription filters.
func validTopicFilter(f string) bool {
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

func (h *HTTPProbe) validate(v *validator) {
	v.url(h, &h.URL, "url", true, "http", "https")
	validateMethod(v, &h.Method)
	validateHeaders(v, &h.Headers, h.Headers)
	for i, c := range h.ValidStatusCodes {
		if c < 100 || c > 599 {
			v.errorf(&h.ValidStatusCodes[i], "valid_status_codes: %d is not an HTTP status code", c)
		}
	}
	for _, res := range [][]string{h.FailIfBodyMatchesRegexp, h.FailIfBodyNotMatchesRegexp} {
		for i := range res {
			if _, err := regexp.Compile(res[i]); err != nil {
				v.errorf(&res[i], "bad regular expression: %v", err)
			}
		}
	}
	if h.FailIfSSL && h.FailIfNotSSL {
		v.errorf(&h.FailIfNotSSL, "fail_if_ssl and fail_if_not_ssl together always fail")
	}
	v.secret(h, &h.BearerToken, &h.BearerTokenFile, "bearer_token", false)
	v.tls(h.TLS)
}

func (t *TCPProbe) validate(v *validator) {
	if t.Address == "" {
		v.errorf(t, "address is required")
	} else if _, port, err := net.SplitHostPort(t.Address); err != nil || port == "" {
		v.errorf(&t.Address, "address %q must be host:port", t.Address)
	}
	if t.TLSConfig != nil && !t.TLS {
		v.errorf(t.TLSConfig, "tls_config needs tls: true")
	}
	v.tls(t.TLSConfig)
	if t.Expect != "" {
		if _, err := regexp.Compile(t.Expect); err != nil {
			v.errorf(&t.Expect, "expect: bad regular expression: %v", err)
		}
	}
}

func validateMethod(v *validator, m *string) {
	if *m == "" || strings.ContainsAny(*m, " \t\r\n()<>@,;:\\\"/[]?={}") {
		v.errorf(m, "method %q is not a valid HTTP method", *m)
	}
}

func validateHeaders(v *validator, ptr *map[string]string, h map[string]string) {
	for k := range h {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			v.errorf(ptr, "headers: %q is not a valid header name", k)
		}
	}
}

// ProbeTemplateData is what an HTTP send body template can use.
type ProbeTemplateData struct {
	Nonce, Probe, Replica, SentAt string
}

func validateBodyTemplate(v *validator, body *string) {
	if *body == "" {
		return
	}
	t, err := template.New("body").Option("missingkey=error").Parse(*body)
	if err != nil {
		v.errorf(body, "body: bad template: %v", strings.TrimPrefix(err.Error(), "template: body:"))
		return
	}
	const marker = "n0nce-marker"
	var buf bytes.Buffer
	if err := t.Execute(&buf, ProbeTemplateData{Nonce: marker, Probe: "p", Replica: "r", SentAt: "t"}); err != nil {
		v.errorf(body, "body: template fails: %v", err)
		return
	}
	if !strings.Contains(buf.String(), marker) {
		v.errorf(body, "body: the template must include {{.Nonce}}, or the round trip can never be recognised")
	}
}

// tls checks that every file a TLS section names can be read and parsed,
// and resolves relative paths against the config's directory.
func (v *validator) tls(c *ProbeTLSConfig) {
	if c == nil {
		return
	}
	for _, f := range []*string{&c.CAFile, &c.CertFile, &c.KeyFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(v.dir, *f) // same address, so its position stays
		}
	}
	if c.CAFile != "" {
		data, err := os.ReadFile(c.CAFile)
		if err != nil {
			v.errorf(&c.CAFile, "ca_file: %v", unwrapPathError(err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(data) {
			v.errorf(&c.CAFile, "ca_file: no PEM certificate found in %s", c.CAFile)
		}
	}
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		v.errorfAt([]any{&c.CertFile, &c.KeyFile, c}, "cert_file and key_file go together")
	case c.CertFile != "":
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			v.errorf(&c.CertFile, "cert_file/key_file: %v", unwrapPathError(err))
		}
	}
}
