package configs

import (
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

// MQTTTransport publishes or subscribes on an MQTT broker.
type MQTTTransport struct {
	URL          string        `yaml:"url"`
	Topic        string        `yaml:"topic"`
	QoS          byte          `yaml:"qos,omitempty"`
	Username     string        `yaml:"username,omitempty"`
	Password     config.Secret `yaml:"password,omitempty"`
	PasswordFile string        `yaml:"password_file,omitempty"`
}

// HTTPSend sends the nonce in an HTTP request.
type HTTPSend struct {
	URL    string `yaml:"url"`
	Method string `yaml:"method,omitempty"`
	Body   string `yaml:"body,omitempty"`
}

// NATSTransport publishes or subscribes on a NATS subject.
type NATSTransport struct {
	URL     string `yaml:"url"`
	Subject string `yaml:"subject"`
}

// WebhookExpect waits for tocsin's own /probe/webhook/<probe> to be called.
type WebhookExpect struct {
	Secret     config.Secret `yaml:"secret,omitempty"`
	SecretFile string        `yaml:"secret_file,omitempty"`
}

// SSEExpect reads an event stream.
type SSEExpect struct {
	URL string `yaml:"url"`
}

// HTTPProbe checks an HTTP endpoint.
type HTTPProbe struct {
	URL              string `yaml:"url"`
	ValidStatusCodes []int  `yaml:"valid_status_codes,omitempty"`
}

// TCPProbe checks that a TCP port accepts connections.
type TCPProbe struct {
	Address string `yaml:"address"`
	TLS     bool   `yaml:"tls,omitempty"`
}

// HeartbeatProbe succeeds while pushes arrive at /api/v1/heartbeats/<probe>.
type HeartbeatProbe struct {
	Grace     model.Duration `yaml:"grace"`
	Token     config.Secret  `yaml:"token,omitempty"`
	TokenFile string         `yaml:"token_file,omitempty"`
}

func (p *ProbeConfig) applyDefaults(d ScrapeDefaults) {
	if p.Interval == 0 {
		p.Interval = d.Interval
	}
	if p.Timeout == 0 {
		p.Timeout = fitTimeout(d.Timeout, p.Interval)
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
	if err := p.Labels.Validate(); err != nil {
		v.errorf(&p.Labels, "labels: %v", err)
	}
	if p.Interval <= 0 {
		v.errorf(&p.Interval, "interval must be positive")
	}
	if p.Timeout <= 0 {
		v.errorf(&p.Timeout, "timeout must be positive")
	} else if p.Timeout >= p.Interval && p.Kind() != "heartbeat" {
		v.errorfAt([]any{&p.Timeout, &p.Interval, p}, "timeout %s must be shorter than interval %s", p.Timeout, p.Interval)
	}
	v.oneOf(p, "probe "+quote(p.Name), map[string]bool{
		"roundtrip": p.RoundTrip != nil, "http": p.HTTP != nil, "tcp": p.TCP != nil, "heartbeat": p.Heartbeat != nil,
	})
	switch {
	case p.RoundTrip != nil:
		p.RoundTrip.validate(v)
	case p.HTTP != nil:
		v.url(p.HTTP, &p.HTTP.URL, "url", true, "http", "https")
	case p.TCP != nil:
		if p.TCP.Address == "" {
			v.errorf(p.TCP, "address is required")
		}
	case p.Heartbeat != nil:
		if p.Heartbeat.Grace <= 0 {
			v.errorfAt([]any{&p.Heartbeat.Grace, p.Heartbeat}, "grace must be positive")
		}
		v.secret(p.Heartbeat, &p.Heartbeat.Token, &p.Heartbeat.TokenFile, "token", false)
	}
}

func (r *RoundTripProbe) validate(v *validator) {
	s, e := &r.Send, &r.Expect
	v.oneOf(s, "send", map[string]bool{"mqtt": s.MQTT != nil, "http": s.HTTP != nil, "nats": s.NATS != nil})
	v.oneOf(e, "expect", map[string]bool{"mqtt": e.MQTT != nil, "webhook": e.Webhook != nil, "sse": e.SSE != nil, "nats": e.NATS != nil})
	for _, m := range []*MQTTTransport{s.MQTT, e.MQTT} {
		if m != nil {
			v.url(m, &m.URL, "url", true, "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss")
			if m.Topic == "" {
				v.errorf(m, "topic is required")
			}
			if m.QoS > 2 {
				v.errorf(&m.QoS, "qos must be 0, 1 or 2")
			}
			v.secret(m, &m.Password, &m.PasswordFile, "password", false)
		}
	}
	if s.HTTP != nil {
		v.url(s.HTTP, &s.HTTP.URL, "url", true, "http", "https")
	}
	for _, n := range []*NATSTransport{s.NATS, e.NATS} {
		if n != nil {
			v.url(n, &n.URL, "url", true, "nats", "tls")
			if n.Subject == "" {
				v.errorf(n, "subject is required")
			}
		}
	}
	if e.Webhook != nil {
		v.secret(e.Webhook, &e.Webhook.Secret, &e.Webhook.SecretFile, "secret", false)
	}
	if e.SSE != nil {
		v.url(e.SSE, &e.SSE.URL, "url", true, "http", "https")
	}
}
