// Package twilio sends a short SMS through Twilio's Messages API.
package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Message lengths: Twilio takes up to 1600 characters; the default text is
// cut to one SMS segment so that a page costs one message.
const (
	bodyMax    = 1600
	segmentMax = 160
)

// Notifier texts one phone number.
type Notifier struct {
	conf     *configs.TwilioConfig
	send     *notifiers.HTTPSender
	text     *notifiers.Template
	endpoint string
	limit    int
	log      *slog.Logger
}

// New builds a Twilio notifier from a validated config.
func New(c *configs.TwilioConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("twilio", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		conf:     c,
		send:     send,
		log:      o.Log(),
		endpoint: strings.TrimSuffix(c.APIURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(c.AccountSID) + "/Messages.json",
		limit:    bodyMax,
	}
	if c.Text == "" {
		n.limit = segmentMax
	}
	if n.text, err = o.Templates.Parse(c.Text, notifiers.TemplateSMS); err != nil {
		return nil, fmt.Errorf("twilio: text: %w", err)
	}
	return n, nil
}

// Notify sends the SMS.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	text, err := n.text.Execute(notifiers.NewTemplateData(notif))
	if err != nil {
		return false, fmt.Errorf("twilio: %w", err)
	}
	form := url.Values{
		"To":   {n.conf.To},
		"From": {n.conf.From},
		"Body": {notifiers.Truncate(strings.Join(strings.Fields(text), " "), n.limit)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("twilio: build request: %w", notifiers.RedactURLError(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(n.conf.AccountSID, notifiers.ReadSecret(n.log, "auth_token", n.conf.AuthToken, n.conf.AuthTokenFile))
	_, retry, err := n.send.Do(req, Reason)
	return retry, err
}

// Reason reads Twilio's error object: its numeric code and message.
func Reason(status int, body []byte) string {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		if e.Code != 0 {
			return fmt.Sprintf("%d: %s", e.Code, e.Message)
		}
		return e.Message
	}
	return notifiers.DefaultReason(status, body)
}
