// Package deadman pings a heartbeat that a vendor watches, so that a
// person is paged when every tocsin replica is dead or wedged: the vendor
// notices that the pings stopped. It pings each time it is notified of
// firing alerts; fed from the always-firing Watchdog alert through the
// normal rules and route, the pings stop as soon as the rule engine or the
// dispatcher does.
package deadman

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Notifier pings one heartbeat.
type Notifier struct {
	send   *notifiers.HTTPSender
	conf   *configs.DeadmanConfig
	log    *slog.Logger
	method string
	header http.Header
	body   string
}

// New builds a deadman notifier from a validated config.
func New(c *configs.DeadmanConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("deadman", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{send: send, conf: c, log: o.Log(), header: http.Header{}}
	switch {
	case c.Opsgenie != nil:
		n.method = http.MethodGet
	case c.Ping != nil:
		n.method = c.Ping.Method
		if n.method == http.MethodPost {
			n.body = "tocsin: the alerting pipeline works end to end"
			if o.ExternalURL != "" {
				n.body += " (" + o.ExternalURL + ")"
			}
			n.header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	case c.HTTP != nil:
		n.method, n.body = c.HTTP.Method, c.HTTP.Body
		for k, v := range c.HTTP.Headers {
			n.header.Set(k, string(v))
		}
		if n.body != "" && n.header.Get("Content-Type") == "" {
			n.header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	return n, nil
}

// Notify pings the heartbeat when the notification has firing alerts. A
// notification of resolved alerts only means the alerts that fed the
// heartbeat stopped: the vendor must then hear nothing.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	if len(notif.Firing()) == 0 && !notif.Test {
		return false, nil
	}
	var body io.Reader
	if n.body != "" {
		body = strings.NewReader(n.body)
	}
	req, err := http.NewRequestWithContext(ctx, n.method, n.target(), body)
	if err != nil {
		return false, fmt.Errorf("deadman: build request: %w", notifiers.RedactURLError(err))
	}
	for k, vs := range n.header {
		req.Header[k] = vs
	}
	if og := n.conf.Opsgenie; og != nil {
		req.Header.Set("Authorization", "GenieKey "+notifiers.ReadSecret(n.log, "api_key", og.APIKey, og.APIKeyFile))
	}
	_, retry, err := n.send.Do(req, nil)
	return retry, err
}

// target is the URL to ping, its secret read now so that a rotated
// *_file is used without a reload.
func (n *Notifier) target() string {
	c := n.conf
	switch {
	case c.Opsgenie != nil:
		return strings.TrimSuffix(c.Opsgenie.BaseURL(), "/") + "/v2/heartbeats/" + url.PathEscape(c.Opsgenie.Name) + "/ping"
	case c.Ping != nil:
		return notifiers.ReadSecret(n.log, "url", c.Ping.URL, c.Ping.URLFile)
	default:
		return notifiers.ReadSecret(n.log, "url", c.HTTP.URL, c.HTTP.URLFile)
	}
}
