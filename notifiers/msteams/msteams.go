// Package msteams posts to a Microsoft Teams channel: an Adaptive Card
// through a Power Automate Workflows webhook, or the MessageCard of
// Alertmanager's msteams_configs to an Office 365 connector.
package msteams

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Teams refuses cards larger than about 28 KB; the text is cut well below,
// in characters and in bytes.
const (
	textMax      = 12000
	textBytesMax = 20000
)

// Adaptive Card content type and schema version Teams renders.
const (
	cardContentType = "application/vnd.microsoft.card.adaptive"
	cardVersion     = "1.4"
	cardSchema      = "http://adaptivecards.io/schemas/adaptive-card.json"
)

// Message is the body a Workflows webhook takes.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment wraps one card.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []Element      `json:"body"`
	Actions []Action       `json:"actions,omitempty"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

// Element is a card element: a TextBlock or a FactSet.
type Element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Size   string `json:"size,omitempty"`
	Weight string `json:"weight,omitempty"`
	Color  string `json:"color,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
}

// Fact is one name/value line of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Action is a button that opens a URL.
type Action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Notifier posts to one Workflows webhook or Office 365 connector.
type Notifier struct {
	conf                 *configs.MSTeamsConfig
	send                 *notifiers.HTTPSender
	title, summary, text *notifiers.Template
	log                  *slog.Logger
}

// New builds a Teams notifier from a validated config.
func New(c *configs.MSTeamsConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("msteams", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conf: c, send: send, log: o.Log()}
	if n.title, err = o.Templates.Parse(c.Title, notifiers.TemplateTitle); err != nil {
		return nil, fmt.Errorf("msteams: title: %w", err)
	}
	if n.summary, err = o.Templates.Parse(c.Summary, notifiers.TemplateTitle); err != nil {
		return nil, fmt.Errorf("msteams: summary: %w", err)
	}
	if n.text, err = o.Templates.Parse(c.Text, notifiers.TemplateText); err != nil {
		return nil, fmt.Errorf("msteams: text: %w", err)
	}
	return n, nil
}

// Notify posts the card the webhook's URL calls for: a MessageCard to an
// Office 365 connector (msteams_configs only), an Adaptive Card to any
// other URL. The URL is read each time, so a webhook_url_file changed from
// a connector to a workflow takes effect at the next notification.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	url := notifiers.ReadSecret(n.log, "webhook_url", n.conf.WebhookURL, n.conf.WebhookURLFile)
	if n.conf.SendsMessageCard(url) {
		return n.postMessageCard(ctx, url, notif)
	}
	msg, err := n.message(notif)
	if err != nil {
		return false, err
	}
	_, retry, err := n.send.PostJSON(ctx, url, nil, msg, nil)
	return retry, err
}

// render executes the title and the text, which both cards carry.
func (n *Notifier) render(data *notifiers.TemplateData) (title, text string, err error) {
	if title, err = n.title.Execute(data); err != nil {
		return "", "", fmt.Errorf("msteams: %w", err)
	}
	if text, err = n.text.Execute(data); err != nil {
		return "", "", fmt.Errorf("msteams: %w", err)
	}
	return title, text, nil
}

func (n *Notifier) message(notif *notifiers.Notification) (*Message, error) {
	data := notifiers.NewTemplateData(notif)
	title, text, err := n.render(data)
	if err != nil {
		return nil, err
	}
	color := "attention"
	if notif.Status == model.AlertResolved {
		color = "good"
	}
	card := Card{
		Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion,
		Body: []Element{
			{Type: "TextBlock", Text: strings.Join(strings.Fields(title), " "), Size: "Large", Weight: "Bolder", Color: color, Wrap: true},
		},
		MSTeams: map[string]any{"width": "Full"},
	}
	if text != "" {
		// Teams' TextBlock reads Markdown, where a single newline is no break.
		card.Body = append(card.Body, Element{Type: "TextBlock", Text: cut(strings.ReplaceAll(text, "\n", "\n\n")), Wrap: true})
	}
	if facts := labelFacts(notif.GroupLabels); len(facts) > 0 {
		card.Body = append(card.Body, Element{Type: "FactSet", Facts: facts})
	}
	if notif.ExternalURL != "" {
		card.Actions = append(card.Actions, Action{Type: "Action.OpenUrl", Title: "Open tocsin", URL: notif.ExternalURL})
	}
	if src := commonSource(notif.Alerts); src != "" && src != notif.ExternalURL {
		title := "Open source"
		if probe := notif.CommonLabels["probe"]; probe != "" {
			title = "Open probe " + string(probe)
		}
		card.Actions = append(card.Actions, Action{Type: "Action.OpenUrl", Title: title, URL: src})
	}
	if rb := string(notif.CommonAnnotations["runbook_url"]); rb != "" {
		card.Actions = append(card.Actions, Action{Type: "Action.OpenUrl", Title: "Runbook", URL: rb})
	}
	return &Message{Type: "message", Attachments: []Attachment{{ContentType: cardContentType, Content: card}}}, nil
}

// commonSource is the generator URL all alerts share (tocsin's page of the
// probe they are about), or "".
func commonSource(alerts []*model.Alert) string {
	src := ""
	for i, a := range alerts {
		if i > 0 && a.GeneratorURL != src {
			return ""
		}
		src = a.GeneratorURL
	}
	return src
}

func labelFacts(ls model.LabelSet) []Fact {
	kv := notifiers.NewTemplateData(&notifiers.Notification{GroupLabels: ls}).GroupLabels
	facts := make([]Fact, 0, len(kv))
	for _, k := range kv.Names() {
		facts = append(facts, Fact{Title: k, Value: kv[k]})
	}
	return facts
}

// cut shortens text to the card's budget.
func cut(text string) string {
	text = notifiers.Truncate(text, textMax)
	for len(text) > textBytesMax {
		text = notifiers.Truncate(text, utf8.RuneCountInString(text)*3/4)
	}
	return text
}
