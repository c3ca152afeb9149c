// Package webhook posts Alertmanager's version-4 webhook payload, so that
// receivers written for Alertmanager work with tocsin unchanged, or the
// config's own templated payload, as Alertmanager's payload key does.
package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Version is the payload version Alertmanager sends.
const Version = "4"

// Message is Alertmanager's webhook payload.
type Message struct {
	Version           string         `json:"version"`
	GroupKey          string         `json:"groupKey"`
	TruncatedAlerts   int            `json:"truncatedAlerts"`
	Status            string         `json:"status"`
	Receiver          string         `json:"receiver"`
	GroupLabels       model.LabelSet `json:"groupLabels"`
	CommonLabels      model.LabelSet `json:"commonLabels"`
	CommonAnnotations model.LabelSet `json:"commonAnnotations"`
	// NotificationReason and RouteLabels are Alertmanager 0.34's: why the
	// receiver is told, and the route's labels as rendered for the group.
	NotificationReason string         `json:"notification_reason"`
	RouteLabels        model.LabelSet `json:"routeLabels"`
	ExternalURL        string         `json:"externalURL"`
	Alerts             []Alert        `json:"alerts"`
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string         `json:"status"`
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations"`
	StartsAt     time.Time      `json:"startsAt"`
	EndsAt       time.Time      `json:"endsAt"`
	GeneratorURL string         `json:"generatorURL"`
	Fingerprint  string         `json:"fingerprint"`
}

// Notifier posts to one webhook URL.
type Notifier struct {
	conf      *configs.WebhookConfig
	send      *notifiers.HTTPSender
	templates *notifiers.Templates
	now       func() time.Time
	log       *slog.Logger
}

// New builds a webhook notifier from a validated config. A payload, and a
// url (or url_file content) written as a template, are rendered once
// against a sample notification, so that one that cannot render or cannot
// be JSON is refused here rather than when it pages. What URL the sample
// gives is not judged here (check config does): a url made from labels
// the sample lacks is fine when the real alerts carry them.
func New(c *configs.WebhookConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("webhook", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conf: c, send: send, templates: o.Templates, now: o.Clock(), log: o.Log()}
	sample := notifiers.SampleTemplateData(model.AlertFiring)
	if c.Payload != nil {
		if _, err := n.renderPayload(sample); err != nil {
			return nil, err
		}
	}
	if raw := string(c.URL); configs.IsTemplatedURL(raw) {
		if _, err := n.executeURL(raw, sample); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Notify posts the notification as Alertmanager would: its version-4
// message, or the config's payload rendered for it, to the url rendered
// for it. Every attempt renders both again from the same notification,
// so a retry, or a delivery resumed after a restart, posts the same body
// to the same URL as long as url_file keeps its content.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	data := &templateData{notif: notif, keep: n.conf.MaxAlerts}
	body, err := n.body(notif, data)
	if err != nil {
		return false, err
	}
	target, templated, err := n.target(data)
	if err != nil {
		return false, err
	}
	_, retry, err := n.send.PostBody(ctx, target, nil, body, nil)
	if err != nil && templated {
		// The integration scrubs the template; a vendor's answer may
		// echo the URL it rendered to.
		err = notifiers.ScrubError(err, []string{target})
	}
	return retry, err
}

// NewMessage builds the payload, keeping at most maxAlerts alerts (0: all).
// Notify sends what Encode writes, which is this Message's JSON.
func NewMessage(notif *notifiers.Notification, maxAlerts int, now time.Time) *Message {
	// A missing label set is {} rather than null, as in Alertmanager's
	// payload; one empty set stands for all of them, as the payload is
	// only read.
	empty := model.LabelSet{}
	orEmpty := func(ls model.LabelSet) model.LabelSet {
		if ls == nil {
			return empty
		}
		return ls
	}
	m := &Message{
		Version:            Version,
		GroupKey:           notif.GroupKey,
		Status:             string(notif.Status),
		Receiver:           notif.Receiver,
		GroupLabels:        orEmpty(notif.GroupLabels),
		CommonLabels:       orEmpty(notif.CommonLabels),
		CommonAnnotations:  orEmpty(notif.CommonAnnotations),
		NotificationReason: notif.NotificationReason(),
		RouteLabels:        orEmpty(notif.RouteLabels),
		ExternalURL:        notif.ExternalURL,
		Alerts:             make([]Alert, 0, len(notif.Alerts)),
	}
	if m.Status == "" {
		m.Status = string(model.AlertFiring)
	}
	alerts := notif.Alerts
	if maxAlerts > 0 && len(alerts) > maxAlerts {
		m.TruncatedAlerts = len(alerts) - maxAlerts
		alerts = alerts[:maxAlerts]
	}
	for _, a := range alerts {
		status := model.AlertFiring
		if a.ResolvedAt(now) {
			status = model.AlertResolved
		}
		m.Alerts = append(m.Alerts, Alert{
			Status:       string(status),
			Labels:       orEmpty(a.Labels),
			Annotations:  orEmpty(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint().String(),
		})
	}
	return m
}
