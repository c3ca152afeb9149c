package slack

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// attachmentTemplates are the parsed templates of Alertmanager's
// attachment keys, used when the config sets any of them.
type attachmentTemplates struct {
	color, titleLink, pretext, fallback, footer, callbackID, imageURL, thumbURL, messageText *notifiers.Template

	fields  []fieldTemplates
	actions []actionTemplates
}

type fieldTemplates struct {
	title, value *notifiers.Template
	short        bool
}

type actionTemplates struct {
	text, url, style, name, value *notifiers.Template
	confirm                       *confirmTemplates
}

type confirmTemplates struct{ text, title, okText, dismissText *notifiers.Template }

// templateParser parses a list of templates, keeping the first error.
type templateParser struct {
	ts  *notifiers.Templates
	err error
}

func (p *templateParser) parse(text, fallback, key string) *notifiers.Template {
	if p.err != nil {
		return nil
	}
	t, err := p.ts.Parse(text, fallback)
	if err != nil {
		p.err = fmt.Errorf("slack: %s: %w", key, err)
	}
	return t
}

func parseAttachment(c *configs.SlackConfig, ts *notifiers.Templates) (*attachmentTemplates, error) {
	p := &templateParser{ts: ts}
	a := &attachmentTemplates{
		color:       p.parse(c.Color, "", "color"),
		titleLink:   p.parse(c.TitleLink, "", "title_link"),
		pretext:     p.parse(c.Pretext, "", "pretext"),
		fallback:    p.parse(c.Fallback, notifiers.TemplateTitle, "fallback"),
		footer:      p.parse(c.Footer, "", "footer"),
		callbackID:  p.parse(c.CallbackID, "", "callback_id"),
		imageURL:    p.parse(c.ImageURL, "", "image_url"),
		thumbURL:    p.parse(c.ThumbURL, "", "thumb_url"),
		messageText: p.parse(c.MessageText, "", "message_text"),
	}
	for _, f := range c.Fields {
		short := c.ShortFields
		if f.Short != nil {
			short = *f.Short
		}
		a.fields = append(a.fields, fieldTemplates{title: p.parse(f.Title, "", "fields.title"), value: p.parse(f.Value, "", "fields.value"), short: short})
	}
	for _, act := range c.Actions {
		at := actionTemplates{
			text: p.parse(act.Text, "", "actions.text"), url: p.parse(act.URL, "", "actions.url"),
			style: p.parse(act.Style, "", "actions.style"), name: p.parse(act.Name, "", "actions.name"),
			value: p.parse(act.Value, "", "actions.value"),
		}
		if cf := act.Confirm; cf != nil {
			at.confirm = &confirmTemplates{
				text: p.parse(cf.Text, "", "actions.confirm.text"), title: p.parse(cf.Title, "", "actions.confirm.title"),
				okText: p.parse(cf.OkText, "", "actions.confirm.ok_text"), dismissText: p.parse(cf.DismissText, "", "actions.confirm.dismiss_text"),
			}
		}
		a.actions = append(a.actions, at)
	}
	return a, p.err
}

// templateRenderer renders the attachment's templates. One that fails on
// this notification's data (although it rendered the sample) renders
// empty, with a warning: the page still leaves, as with tocsin's other
// templates.
type templateRenderer struct {
	data *notifiers.TemplateData
	log  *slog.Logger
}

func (r *templateRenderer) render(t *notifiers.Template) string {
	if t == nil {
		return ""
	}
	s, err := t.Execute(r.data)
	if err != nil {
		r.log.Warn("slack attachment template failed; leaving the part out", "err", err)
	}
	return s
}

// link is a rendered URL, or "" when it renders to no http(s) URL, which
// Slack would refuse with the whole message.
func (r *templateRenderer) link(t *notifiers.Template, key string) string {
	s := r.render(t)
	if s == "" || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	r.log.Warn("slack attachment URL is not an http(s) URL; leaving it out", "key", key)
	return ""
}

// attachment is a legacy message attachment, with the fields Alertmanager
// sends. slack.Attachment is not used: it always writes a blocks field,
// null when empty.
type attachment struct {
	Title      string                   `json:"title,omitempty"`
	TitleLink  string                   `json:"title_link,omitempty"`
	Pretext    string                   `json:"pretext,omitempty"`
	Text       string                   `json:"text"`
	Fallback   string                   `json:"fallback"`
	CallbackID string                   `json:"callback_id,omitempty"`
	Fields     []slack.AttachmentField  `json:"fields,omitempty"`
	Actions    []slack.AttachmentAction `json:"actions,omitempty"`
	ImageURL   string                   `json:"image_url,omitempty"`
	ThumbURL   string                   `json:"thumb_url,omitempty"`
	Footer     string                   `json:"footer,omitempty"`
	Color      string                   `json:"color,omitempty"`
	MrkdwnIn   []string                 `json:"mrkdwn_in,omitempty"`
}

// defaultMrkdwnIn is Alertmanager's default.
var defaultMrkdwnIn = []string{"fallback", "pretext", "text"}

// attachment lays the message out as Alertmanager does: one attachment
// with the title (linked to title_link), pretext, text, fields, buttons,
// footer, images and color; message_text, when set, above it.
func (a *attachmentTemplates) attachment(c *configs.SlackConfig, data *notifiers.TemplateData, log *slog.Logger, title, text string) (string, *attachment) {
	r := &templateRenderer{data: data, log: log}
	att := &attachment{
		Title: title, Text: text,
		TitleLink: r.link(a.titleLink, "title_link"), Pretext: r.render(a.pretext), Fallback: r.render(a.fallback),
		Footer: r.render(a.footer), CallbackID: r.render(a.callbackID), ImageURL: r.link(a.imageURL, "image_url"),
		ThumbURL: r.link(a.thumbURL, "thumb_url"), Color: r.render(a.color), MrkdwnIn: c.MrkdwnIn,
	}
	if len(att.MrkdwnIn) == 0 {
		att.MrkdwnIn = defaultMrkdwnIn
	}
	for _, f := range a.fields {
		att.Fields = append(att.Fields, slack.AttachmentField{Title: r.render(f.title), Value: r.render(f.value), Short: f.short})
	}
	for _, at := range a.actions {
		act := slack.AttachmentAction{
			Type: slack.ActionType("button"), Text: r.render(at.text), URL: r.link(at.url, "actions.url"),
			Style: r.render(at.style), Name: r.render(at.name), Value: r.render(at.value),
		}
		if act.Text == "" || act.URL == "" && act.Name == "" {
			// A button without a text, or with neither a link nor a
			// name, would make Slack refuse the whole message.
			log.Warn("slack button rendered without a text, or without a url or name; leaving it out")
			continue
		}
		if cf := at.confirm; cf != nil {
			act.Confirm = &slack.ConfirmationField{Text: r.render(cf.text), Title: r.render(cf.title), OkText: r.render(cf.okText), DismissText: r.render(cf.dismissText)}
			if act.Confirm.Text == "" {
				act.Confirm = nil
			}
		}
		att.Actions = append(att.Actions, act)
	}
	return r.render(a.messageText), att
}
