// Package opsgenie creates and closes alerts through Opsgenie's Alert API
// v2, with the group's dedup key as the alert's alias.
package opsgenie

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Alert API v2 limits.
const (
	messageMax     = 130
	descriptionMax = 15000
	sourceMax      = 100
	entityMax      = 512
	tagsMax        = 20
	tagMax         = 50
	detailMax      = 8000
	actionsMax     = 10
	actionMax      = 50
	noteMax        = 25000
)

// Notifier sends alerts to one Opsgenie account.
type Notifier struct {
	conf *configs.OpsgenieConfig
	send *notifiers.HTTPSender
	log  *slog.Logger
	base string

	message, description, source, entity, priority, tags *notifiers.Template
	actions, note                                        *notifiers.Template
	details                                              map[string]*notifiers.Template
}

// New builds an Opsgenie notifier from a validated config.
func New(c *configs.OpsgenieConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("opsgenie", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conf: c, send: send, log: o.Log(), base: strings.TrimSuffix(c.OpsgenieBaseURL(), "/"), details: map[string]*notifiers.Template{}}
	for _, t := range []struct {
		dst            **notifiers.Template
		text, fallback string
		key            string
	}{
		{&n.message, c.Message, notifiers.TemplateTitle, "message"},
		{&n.description, c.Description, notifiers.TemplateText, "description"},
		{&n.source, c.Source, "", "source"},
		{&n.entity, c.Entity, "", "entity"},
		{&n.priority, c.Priority, "", "priority"},
		{&n.tags, c.Tags, "", "tags"},
		{&n.actions, c.Actions, "", "actions"},
		{&n.note, c.Note, "", "note"},
	} {
		if t.text == "" && t.fallback == "" {
			continue
		}
		if *t.dst, err = o.Templates.Parse(t.text, t.fallback); err != nil {
			return nil, fmt.Errorf("opsgenie: %s: %w", t.key, err)
		}
	}
	for k, text := range c.Details {
		if n.details[k], err = o.Templates.Parse(text, ""); err != nil {
			return nil, fmt.Errorf("opsgenie: details.%s: %w", k, err)
		}
	}
	return n, nil
}

// createRequest is the body of POST /v2/alerts.
type createRequest struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Responders  []responder       `json:"responders,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Actions     []string          `json:"actions,omitempty"`
	Note        string            `json:"note,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority,omitempty"`
}

type responder struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
	Type     string `json:"type"`
}

// closeRequest is the body of POST /v2/alerts/{alias}/close.
type closeRequest struct {
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Notify creates the group's alert, or closes it when the group resolved.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	header := http.Header{"Authorization": {"GenieKey " + notifiers.ReadSecret(n.log, "api_key", n.conf.APIKey, n.conf.APIKeyFile)}}
	var target string
	var body any
	// The alias the alert was created with is kept in the notification
	// log, so that a close after a restart reaches the same alert.
	state := notifiers.VendorStateFrom(ctx)
	if notif.Status == model.AlertResolved {
		alias := state.Get("alias")
		if alias == "" {
			alias = notif.DedupKey
		}
		target = n.base + "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias"
		body = &closeRequest{Source: n.render(notifiers.NewTemplateData(notif), n.source, "tocsin", sourceMax), Note: "Resolved in tocsin"}
	} else {
		req, err := n.create(notif)
		if err != nil {
			return false, err
		}
		target, body = n.base+"/v2/alerts", req
		state.Set("alias", req.Alias)
		if n.conf.UpdateAlerts {
			return n.createAndUpdate(ctx, header, req)
		}
	}
	_, retry, err := n.send.PostJSON(ctx, target, header, body, nil)
	return retry, err
}

// createAndUpdate creates the alert and then, as Alertmanager's
// update_alerts does, sets its message and description: Opsgenie keeps
// those of an alert that is already open under the alias. A retry sends
// all three again, which Opsgenie takes as the same alert.
func (n *Notifier) createAndUpdate(ctx context.Context, header http.Header, req *createRequest) (bool, error) {
	if _, retry, err := n.send.PostJSON(ctx, n.base+"/v2/alerts", header, req, nil); err != nil {
		return retry, err
	}
	alert := n.base + "/v2/alerts/" + url.PathEscape(req.Alias)
	if _, retry, err := n.send.SendJSON(ctx, http.MethodPut, alert+"/message?identifierType=alias", header, map[string]string{"message": req.Message}, nil); err != nil {
		return retry, err
	}
	if req.Description == "" {
		return false, nil
	}
	_, retry, err := n.send.SendJSON(ctx, http.MethodPut, alert+"/description?identifierType=alias", header, map[string]string{"description": req.Description}, nil)
	return retry, err
}

func (n *Notifier) create(notif *notifiers.Notification) (*createRequest, error) {
	data := notifiers.NewTemplateData(notif)
	msg, err := n.message.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("opsgenie: %w", err)
	}
	req := &createRequest{
		Message:     notifiers.Truncate(strings.Join(strings.Fields(msg), " "), messageMax),
		Alias:       notif.DedupKey,
		Description: n.render(data, n.description, "", descriptionMax),
		Source:      n.render(data, n.source, "tocsin", sourceMax),
		Entity:      n.render(data, n.entity, "", entityMax),
		Priority:    n.render(data, n.priority, "", 0),
		Details:     map[string]string{},
	}
	if !slices.Contains([]string{"", "P1", "P2", "P3", "P4", "P5"}, req.Priority) {
		n.log.Warn("opsgenie priority template gave no P1..P5, leaving the priority to Opsgenie", "priority", req.Priority)
		req.Priority = ""
	}
	for k, v := range notif.CommonLabels {
		req.Details[string(k)] = notifiers.Truncate(string(v), detailMax)
	}
	for k, t := range n.details {
		req.Details[k] = n.render(data, t, "", detailMax)
	}
	req.Tags = splitList(n.render(data, n.tags, "", 0), tagsMax, tagMax)
	req.Actions = splitList(n.render(data, n.actions, "", 0), actionsMax, actionMax)
	req.Note = n.render(data, n.note, "", noteMax)
	for _, r := range n.conf.Responders {
		req.Responders = append(req.Responders, responder{ID: r.ID, Name: r.Name, Username: r.Username, Type: r.Type})
	}
	return req, nil
}

// splitList splits a comma-separated list, keeping at most maxItems
// non-empty items of at most maxLen characters each.
func splitList(s string, maxItems, maxLen int) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" && len(out) < maxItems {
			out = append(out, notifiers.Truncate(item, maxLen))
		}
	}
	return out
}

// render executes an optional template and bounds its length (0: no bound).
func (n *Notifier) render(data *notifiers.TemplateData, t *notifiers.Template, fallback string, max int) string {
	s := fallback
	if t != nil {
		out, err := t.Execute(data)
		switch {
		case err != nil:
			n.log.Warn("opsgenie template failed, using the default", "err", err)
		case out != "":
			s = out
		}
	}
	if max > 0 {
		s = notifiers.Truncate(s, max)
	}
	return s
}
