// Package pagerduty pages through PagerDuty's Events API v2: a firing group
// triggers an incident, a resolved group resolves it, both under the
// group's dedup key so that retries and replicas land in one incident.
// A config with service_key uses the Events API v1 the same way, as
// Alertmanager does.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Events API v2 limits.
const (
	summaryMax = 1024
	maxLinks   = 5
	// detailsTextMax keeps the event well below PagerDuty's 512 KB limit
	// however many alerts the group holds.
	detailsTextMax = 16 << 10
)

// Severities PagerDuty accepts.
var severities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// Notifier sends events to one PagerDuty service.
type Notifier struct {
	conf        *configs.PagerDutyConfig
	send        *notifiers.HTTPSender
	log         *slog.Logger
	externalURL string
	now         func() time.Time

	summary, text, severity, source, component, group, class *notifiers.Template
	client, clientURL                                        *notifiers.Template
	details                                                  map[string]*notifiers.Template
	images                                                   []imageTemplates
	links                                                    []linkTemplates
}

type imageTemplates struct{ src, alt, href *notifiers.Template }

type linkTemplates struct{ href, text *notifiers.Template }

// New builds a PagerDuty notifier from a validated config.
func New(c *configs.PagerDutyConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("pagerduty", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conf: c, send: send, log: o.Log(), externalURL: o.ExternalURL, now: o.Clock(), details: map[string]*notifiers.Template{}}
	for _, t := range []struct {
		dst      **notifiers.Template
		text     string
		key      string
		fallback string
	}{
		{&n.summary, c.Description, "description", notifiers.TemplateTitle},
		{&n.text, "", "text", notifiers.TemplateText},
		{&n.severity, c.Severity, "severity", ""},
		{&n.source, c.Source, "source", ""},
		{&n.component, c.Component, "component", ""},
		{&n.group, c.Group, "group", ""},
		{&n.class, c.Class, "class", ""},
		{&n.client, c.Client, "client", ""},
		{&n.clientURL, c.ClientURL, "client_url", ""},
	} {
		if t.text == "" && t.fallback == "" {
			continue
		}
		if *t.dst, err = o.Templates.Parse(t.text, t.fallback); err != nil {
			return nil, fmt.Errorf("pagerduty: %s: %w", t.key, err)
		}
	}
	for k, text := range c.Details {
		if n.details[k], err = o.Templates.Parse(text, ""); err != nil {
			return nil, fmt.Errorf("pagerduty: details.%s: %w", k, err)
		}
	}
	parse := func(text, key string) *notifiers.Template {
		t, perr := o.Templates.Parse(text, "")
		if perr != nil && err == nil {
			err = fmt.Errorf("pagerduty: %s: %w", key, perr)
		}
		return t
	}
	for _, img := range c.Images {
		n.images = append(n.images, imageTemplates{src: parse(img.Src, "images.src"), alt: parse(img.Alt, "images.alt"), href: parse(img.Href, "images.href")})
	}
	for _, l := range c.Links {
		n.links = append(n.links, linkTemplates{href: parse(l.Href, "links.href"), text: parse(l.Text, "links.text")})
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Notify triggers or resolves the group's incident.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	if n.conf.EventsV1() {
		return n.notifyV1(ctx, notif)
	}
	ev, err := n.event(notif)
	if err != nil {
		return false, err
	}
	body, retry, err := n.send.PostJSON(ctx, n.conf.URL, nil, ev, nil)
	if err != nil {
		return retry, err
	}
	n.log.Debug("pagerduty accepted event", "action", ev.Action, "dedup_key", ev.DedupKey, "answer", notifiers.TruncateReason(string(body)))
	return false, nil
}

// event builds the Events API v2 body for a notification.
func (n *Notifier) event(notif *notifiers.Notification) (*pd.V2Event, error) {
	data := notifiers.NewTemplateData(notif)
	ev := &pd.V2Event{
		RoutingKey: notifiers.ReadSecret(n.log, "routing_key", n.conf.RoutingKey, n.conf.RoutingKeyFile),
		DedupKey:   notif.DedupKey,
		// client and client_url are templates, as in Alertmanager.
		Client:    n.render(data, n.client, n.conf.Client),
		ClientURL: n.render(data, n.clientURL, notif.ExternalURL),
	}
	if notif.Status == model.AlertResolved {
		ev.Action = "resolve"
		return ev, nil
	}
	ev.Action = "trigger"
	summary, err := n.summary.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	p := &pd.V2Payload{
		Summary:  notifiers.Truncate(strings.Join(strings.Fields(summary), " "), summaryMax),
		Source:   n.render(data, n.source, defaultSource(notif)),
		Severity: n.render(data, n.severity, ""),
	}
	if !severities[p.Severity] {
		p.Severity = Severity(notif)
	}
	p.Component = n.render(data, n.component, "")
	p.Group = n.render(data, n.group, "")
	p.Class = n.render(data, n.class, "")
	if start := earliestStart(notif); !start.IsZero() {
		p.Timestamp = start.UTC().Format(time.RFC3339)
	}
	p.Details = n.customDetails(notif, data)
	ev.Payload = p
	ev.Images = n.renderImages(data)
	ev.Links = links(notif, n.renderLinks(data))
	return ev, nil
}

// notifyV1 triggers or resolves the group's incident through the Events
// API v1, which takes a description, the client and the details.
func (n *Notifier) notifyV1(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	data := notifiers.NewTemplateData(notif)
	summary, err := n.summary.Execute(data)
	if err != nil {
		return false, fmt.Errorf("pagerduty: %w", err)
	}
	ev := &pd.Event{
		ServiceKey:  notifiers.ReadSecret(n.log, "service_key", n.conf.ServiceKey, n.conf.ServiceKeyFile),
		Type:        "trigger",
		IncidentKey: notif.DedupKey,
		Description: notifiers.Truncate(strings.Join(strings.Fields(summary), " "), summaryMax),
		Details:     n.customDetails(notif, data),
	}
	if notif.Status == model.AlertResolved {
		ev.Type = "resolve"
	} else {
		ev.Client = n.render(data, n.client, n.conf.Client)
		ev.ClientURL = n.render(data, n.clientURL, notif.ExternalURL)
	}
	body, retry, err := n.send.PostJSON(ctx, n.conf.URL, nil, ev, nil)
	var ve *notifiers.VendorError
	if errors.As(err, &ve) && ve.StatusCode == http.StatusForbidden {
		// The Events API v1 answers 403 when it rate-limits.
		retry = true
	}
	if err != nil {
		return retry, err
	}
	n.log.Debug("pagerduty accepted event", "api", "v1", "event_type", ev.Type, "incident_key", ev.IncidentKey, "answer", notifiers.TruncateReason(string(body)))
	return false, nil
}

// renderImages renders the configured images, leaving out those whose
// src renders to no https URL, for which PagerDuty would refuse the event.
func (n *Notifier) renderImages(data *notifiers.TemplateData) []any {
	var out []any
	for _, img := range n.images {
		src := n.render(data, img.src, "")
		if !strings.HasPrefix(src, "https://") {
			if src != "" {
				n.log.Warn("pagerduty image src is not an https URL; leaving the image out")
			}
			continue
		}
		m := map[string]string{"src": src}
		if alt := n.render(data, img.alt, ""); alt != "" {
			m["alt"] = alt
		}
		if href := n.render(data, img.href, ""); href != "" {
			m["href"] = href
		}
		out = append(out, m)
	}
	return out
}

// renderLinks renders the configured links, leaving out those whose href
// renders empty.
func (n *Notifier) renderLinks(data *notifiers.TemplateData) [][2]string {
	var out [][2]string
	for _, l := range n.links {
		if href := n.render(data, l.href, ""); href != "" {
			out = append(out, [2]string{href, n.render(data, l.text, "")})
		}
	}
	return out
}

// render executes an optional template, falling back on an empty result.
func (n *Notifier) render(data *notifiers.TemplateData, t *notifiers.Template, fallback string) string {
	if t == nil {
		return fallback
	}
	s, err := t.Execute(data)
	if err != nil || s == "" {
		if err != nil {
			n.log.Warn("pagerduty template failed, using the default", "err", err)
		}
		return fallback
	}
	return s
}

func (n *Notifier) customDetails(notif *notifiers.Notification, data *notifiers.TemplateData) map[string]any {
	d := map[string]any{
		"firing":       len(notif.Firing()),
		"resolved":     len(notif.Resolved()),
		"group_labels": labelMap(notif.GroupLabels),
	}
	if text := n.render(data, n.text, ""); text != "" {
		d["text"] = notifiers.Truncate(text, detailsTextMax)
	}
	for k, t := range n.details {
		d[k] = n.render(data, t, "")
	}
	return d
}

func labelMap(ls model.LabelSet) map[string]string {
	m := make(map[string]string, len(ls))
	for k, v := range ls {
		m[string(k)] = string(v)
	}
	return m
}

// Severity maps the alerts' severity label to PagerDuty's four levels,
// taking the most severe alert that is firing; unknown values give error.
func Severity(notif *notifiers.Notification) string {
	rank := map[string]int{"info": 1, "warning": 2, "error": 3, "critical": 4}
	best := ""
	for _, a := range notif.Alerts {
		s := mapSeverity(string(a.Labels["severity"]))
		if rank[s] > rank[best] {
			best = s
		}
	}
	if best == "" {
		return "error"
	}
	return best
}

func mapSeverity(s string) string {
	switch strings.ToLower(s) {
	case "critical", "crit", "page", "fatal", "emergency", "p1":
		return "critical"
	case "error", "err", "high", "major", "p2":
		return "error"
	case "warning", "warn", "medium", "minor", "p3":
		return "warning"
	case "info", "informational", "low", "none", "notice", "p4", "p5":
		return "info"
	case "":
		return ""
	}
	return "error"
}

// defaultSource names where the problem is: the probe, instance or
// service the whole group shares, else the replica, else tocsin.
func defaultSource(notif *notifiers.Notification) string {
	for _, l := range []model.LabelName{"probe", "instance", "service", "replica"} {
		if v := notif.CommonLabels[l]; v != "" {
			return string(v)
		}
	}
	return "tocsin"
}

func earliestStart(notif *notifiers.Notification) time.Time {
	var t time.Time
	for _, a := range notif.Alerts {
		if !a.StartsAt.IsZero() && (t.IsZero() || a.StartsAt.Before(t)) {
			t = a.StartsAt
		}
	}
	return t
}

// links are the configured ones (href, text), then up to maxLinks in all
// that point back to tocsin, the runbook and each alert's source.
func links(notif *notifiers.Notification, configured [][2]string) []any {
	var out []any
	seen := map[string]bool{}
	add := func(href, text string) {
		if href == "" || seen[href] || len(out) >= max(maxLinks, len(configured)) {
			return
		}
		seen[href] = true
		out = append(out, map[string]string{"href": href, "text": text})
	}
	for _, l := range configured {
		add(l[0], l[1])
	}
	add(notif.ExternalURL, "tocsin")
	add(string(notif.CommonAnnotations["runbook_url"]), "runbook")
	for _, a := range notif.Alerts {
		add(string(a.Annotations["runbook_url"]), "runbook: "+string(a.Labels["alertname"]))
		add(a.GeneratorURL, "source: "+string(a.Labels["alertname"]))
	}
	return out
}
