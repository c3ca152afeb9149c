package configs

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/common/config"
)

// ReadSecret returns a secret's value at the moment it is used. With a
// *_file, the file is read now, as Alertmanager does, so that a rotated
// secret takes effect on the next send without a reload. When the file
// cannot be read or is empty (a rotation half done), the value read at the
// last successful load is returned along with the error: a page still
// leaves, and the caller logs why the file was not used.
func ReadSecret(inline config.Secret, file string) (string, error) {
	if file == "" {
		return string(inline), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return string(inline), fmt.Errorf("cannot read secret file; using the value loaded last: %w", unwrapPathError(err))
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return string(inline), fmt.Errorf("secret file %s is empty; using the value loaded last", file)
	}
	return v, nil
}

// secretValues collects the current value of secrets given inline or in
// files, skipping the empty ones.
type secretValues []string

func (s *secretValues) add(inline config.Secret, file string) {
	for _, v := range []string{string(inline), readQuietly(file)} {
		if v != "" {
			*s = append(*s, v)
		}
	}
}

// basic adds what HTTP basic auth puts on the wire for user and password.
func (s *secretValues) basic(user, password string) {
	if password == "" {
		return
	}
	*s = append(*s, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

func readQuietly(file string) string {
	if file == "" {
		return ""
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// httpSecrets adds every secret an http_config can carry.
func (s *secretValues) http(c *config.HTTPClientConfig) {
	if c == nil {
		return
	}
	if b := c.BasicAuth; b != nil {
		s.add(b.Password, b.PasswordFile)
		user := b.Username
		if u := readQuietly(b.UsernameFile); u != "" {
			user = u
		}
		for _, p := range []string{string(b.Password), readQuietly(b.PasswordFile)} {
			s.basic(user, p)
		}
	}
	if a := c.Authorization; a != nil {
		s.add(a.Credentials, a.CredentialsFile)
	}
	s.add(c.BearerToken, c.BearerTokenFile)
	if o := c.OAuth2; o != nil {
		s.add(o.ClientSecret, o.ClientSecretFile)
		s.add(o.ClientCertificateKey, o.ClientCertificateKeyFile)
	}
	if c.HTTPHeaders != nil {
		for _, h := range c.HTTPHeaders.Headers {
			for _, v := range h.Secrets {
				s.add(v, "")
			}
			for _, f := range h.Files {
				s.add("", f)
			}
		}
	}
	if c.ProxyURL.URL != nil && c.ProxyURL.User != nil {
		if p, ok := c.ProxyURL.User.Password(); ok {
			s.add(config.Secret(p), "")
			s.basic(c.ProxyURL.User.Username(), p)
		}
	}
}

// secretsOf is the secrets of an integration with one secret and an http_config.
func secretsOf(inline config.Secret, file string, h *config.HTTPClientConfig) []string {
	var s secretValues
	s.add(inline, file)
	s.http(h)
	return s
}

// Secrets returns every secret value the integration sends, read now, for
// scrubbing them from text that comes back from outside.
func (c *PagerDutyConfig) Secrets() []string {
	s := secretsOf(c.RoutingKey, c.RoutingKeyFile, c.HTTPConfig)
	var v1 secretValues
	v1.add(c.ServiceKey, c.ServiceKeyFile)
	return append(s, v1...)
}

// Secrets returns every secret value the integration sends, read now.
func (c *SlackConfig) Secrets() []string {
	var s secretValues
	s.add(c.Token, c.TokenFile)
	if c.Token == "" && c.TokenFile == "" { // a webhook URL holds its token
		s.add(c.APIURL, c.APIURLFile)
	}
	s.http(c.HTTPConfig)
	return s
}

// Secrets returns every secret value the integration sends, read now.
func (c *OpsgenieConfig) Secrets() []string {
	return secretsOf(c.APIKey, c.APIKeyFile, c.HTTPConfig)
}

// Secrets returns every secret value the integration sends, read now.
func (c *WebhookConfig) Secrets() []string {
	return secretsOf(c.URL, c.URLFile, c.HTTPConfig)
}

// Secrets returns every secret value the integration sends, read now. SMTP
// AUTH PLAIN and LOGIN carry the credentials in base64.
func (c *EmailConfig) Secrets() []string {
	var s secretValues
	s.add(c.AuthPassword, c.AuthPasswordFile)
	for _, p := range []string{string(c.AuthPassword), readQuietly(c.AuthPasswordFile)} {
		if p != "" {
			s = append(s,
				base64.StdEncoding.EncodeToString([]byte("\x00"+c.AuthUsername+"\x00"+p)),
				base64.StdEncoding.EncodeToString([]byte(c.AuthIdentity+"\x00"+c.AuthUsername+"\x00"+p)),
				base64.StdEncoding.EncodeToString([]byte(p)))
		}
	}
	s.add(c.AuthSecret, c.AuthSecretFile)
	return s
}

// Secrets returns every secret value the integration sends, read now.
func (c *MSTeamsConfig) Secrets() []string {
	return secretsOf(c.WebhookURL, c.WebhookURLFile, c.HTTPConfig)
}

// Secrets returns every secret value the integration sends, read now,
// including the Basic credentials made of the account SID and auth token.
func (c *TwilioConfig) Secrets() []string {
	var s secretValues
	s.add(c.AuthToken, c.AuthTokenFile)
	for _, t := range []string{string(c.AuthToken), readQuietly(c.AuthTokenFile)} {
		s.basic(c.AccountSID, t)
	}
	s.http(c.HTTPConfig)
	return s
}

// Secrets returns every secret value the integration sends, read now: the
// Opsgenie key, the ping URL (it holds the heartbeat's token) and the
// values of the headers of a generic ping.
func (c *DeadmanConfig) Secrets() []string {
	var s secretValues
	switch {
	case c.Opsgenie != nil:
		s.add(c.Opsgenie.APIKey, c.Opsgenie.APIKeyFile)
	case c.Ping != nil:
		s.add(c.Ping.URL, c.Ping.URLFile)
	case c.HTTP != nil:
		s.add(c.HTTP.URL, c.HTTP.URLFile)
		for _, v := range c.HTTP.Headers {
			s.add(v, "")
		}
	}
	s.http(c.HTTPConfig)
	return s
}
