// Package slack posts notifications to Slack, through an incoming webhook
// or, with a bot token, through chat.postMessage; with a bot token, a
// resolved group updates the message that announced it (chat.update).
package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/slack-go/slack"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Block Kit limits.
const (
	headerMax   = 150
	sectionMax  = 3000
	sectionsMax = 10
	// attachmentTextMax keeps an attachment's text within what Slack shows.
	attachmentTextMax = sectionMax * sectionsMax
)

// Keys of the vendor state kept in the notification log: the message a
// resolve updates, which survives a restart of tocsin.
const (
	stateChannel = "channel"
	stateTS      = "ts"
)

// Slack Web API errors that are worth another attempt.
var retryableAPIErrors = []string{"ratelimited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}

// Notifier posts to one Slack channel or webhook.
type Notifier struct {
	conf        *configs.SlackConfig
	send        *notifiers.HTTPSender
	log         *slog.Logger
	title, text *notifiers.Template
	// att is set when the config lays the message out as an attachment.
	att *attachmentTemplates
}

// New builds a Slack notifier from a validated config.
func New(c *configs.SlackConfig, o notifiers.VendorOptions) (*Notifier, error) {
	send, err := notifiers.NewHTTPSender("slack", c.HTTPConfig, o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conf: c, send: send, log: o.Log()}
	if n.title, err = o.Templates.Parse(c.Title, notifiers.TemplateTitle); err != nil {
		return nil, fmt.Errorf("slack: title: %w", err)
	}
	if n.text, err = o.Templates.Parse(c.Text, notifiers.TemplateText); err != nil {
		return nil, fmt.Errorf("slack: text: %w", err)
	}
	if c.Attachment() {
		if n.att, err = parseAttachment(c, o.Templates); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Notify posts the notification, or as a bot edits the group's message
// when updates says so.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	msg, err := n.render(notif)
	if err != nil {
		return false, err
	}
	if n.conf.Bot() {
		return n.notifyBot(ctx, notif, msg)
	}
	body, retry, err := n.send.PostJSON(ctx, notifiers.ReadSecret(n.log, "api_url", n.conf.APIURL, n.conf.APIURLFile), nil, msg, nil)
	if err != nil {
		return retry, err
	}
	// An incoming webhook answers "ok"; a URL of the Web API answers 200
	// with a JSON refusal, which must not pass for a page sent.
	var ans apiAnswer
	if json.Unmarshal(body, &ans) == nil && !ans.OK {
		return ans.refusal("")
	}
	return false, nil
}

// apiMessage is the JSON body of an incoming webhook, chat.postMessage
// and chat.update.
type apiMessage struct {
	Channel     string        `json:"channel,omitempty"`
	TS          string        `json:"ts,omitempty"`
	Text        string        `json:"text,omitempty"`
	Blocks      *slack.Blocks `json:"blocks,omitempty"`
	Attachments []*attachment `json:"attachments,omitempty"`
	Username    string        `json:"username,omitempty"`
	IconEmoji   string        `json:"icon_emoji,omitempty"`
	IconURL     string        `json:"icon_url,omitempty"`
	LinkNames   bool          `json:"link_names,omitempty"`
}

type apiAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

func (n *Notifier) notifyBot(ctx context.Context, notif *notifiers.Notification, msg *apiMessage) (bool, error) {
	state := notifiers.VendorStateFrom(ctx)
	if channel, ts := state.Get(stateChannel), state.Get(stateTS); ts != "" && n.updates(notif) {
		upd := *msg
		upd.Channel, upd.TS = channel, ts
		// chat.update takes no username or icon.
		upd.Username, upd.IconEmoji, upd.IconURL = "", "", ""
		_, retry, err := n.call(ctx, "chat.update", &upd)
		if err == nil {
			return false, nil
		}
		var ve *notifiers.VendorError
		if !errors.As(err, &ve) || !strings.HasSuffix(ve.Reason, ": message_not_found") {
			return retry, err
		}
		// The message is gone; say it in a new one.
	}
	ans, retry, err := n.call(ctx, "chat.postMessage", msg)
	if err != nil {
		return retry, err
	}
	if (notif.Status != model.AlertResolved || n.updates(notif)) && ans.Channel != "" && ans.TS != "" {
		state.Set(stateChannel, ans.Channel)
		state.Set(stateTS, ans.TS)
	}
	return false, nil
}

// updates tells whether the notification edits the group's message rather
// than posting a new one: by default when the group resolved; with
// update_message, always or never.
func (n *Notifier) updates(notif *notifiers.Notification) bool {
	if u := n.conf.UpdateMessage; u != nil {
		return *u
	}
	// Alertmanager's default for its api_url form is false.
	return notif.Status == model.AlertResolved && !n.conf.PostsToWebAPI()
}

// call invokes one Web API method; Slack refuses with HTTP 200 and
// ok:false, so the answer's error code becomes the vendor's reason.
func (n *Notifier) call(ctx context.Context, method string, msg *apiMessage) (*apiAnswer, bool, error) {
	base, header := string(n.conf.APIURL), http.Header{}
	if n.conf.PostsToWebAPI() {
		// The token is in http_config's authorization.
		base = strings.TrimSuffix(strings.TrimSuffix(notifiers.ReadSecret(n.log, "api_url", n.conf.APIURL, n.conf.APIURLFile), "/"), "/chat.postMessage")
	} else {
		header.Set("Authorization", "Bearer "+notifiers.ReadSecret(n.log, "token", n.conf.Token, n.conf.TokenFile))
	}
	if base == "" {
		base = configs.DefaultSlackAPIURL
	}
	body, retry, err := n.send.PostJSON(ctx, strings.TrimSuffix(base, "/")+"/"+method, header, msg, nil)
	if err != nil {
		return nil, retry, err
	}
	var ans apiAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, true, fmt.Errorf("slack: %s: unreadable answer: %w", method, err)
	}
	if !ans.OK {
		retry, err := ans.refusal(method + ": ")
		return nil, retry, err
	}
	return &ans, false, nil
}

// refusal is Slack's error code as the vendor's reason, and whether
// another attempt can help.
func (a *apiAnswer) refusal(prefix string) (bool, error) {
	code := cmp.Or(a.Error, "unknown_error")
	return slices.Contains(retryableAPIErrors, code), &notifiers.VendorError{Integration: "slack", StatusCode: http.StatusOK, Reason: prefix + code}
}

// render lays the message out in Block Kit: a header with the title, the
// text in sections, and a context line linking back to tocsin; or, when
// the config sets Alertmanager's attachment keys, as Alertmanager does.
func (n *Notifier) render(notif *notifiers.Notification) (*apiMessage, error) {
	data := notifiers.NewTemplateData(notif)
	title, err := n.title.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	text, err := n.text.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	title = strings.Join(strings.Fields(title), " ")
	if title == "" {
		title = "tocsin"
	}
	msg := &apiMessage{Channel: n.conf.Channel, Username: n.conf.Username, IconEmoji: n.conf.IconEmoji, IconURL: n.conf.IconURL, LinkNames: n.conf.LinkNames}
	if n.att != nil {
		messageText, att := n.att.attachment(n.conf, data, n.log, title, notifiers.Truncate(text, attachmentTextMax))
		msg.Text, msg.Attachments = messageText, []*attachment{att}
		return msg, nil
	}
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, notifiers.Truncate(title, headerMax), false, false))}
	for i, chunk := range chunks(text, sectionMax) {
		if i == sectionsMax {
			break
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, chunk, false, true), nil, nil))
	}
	if notif.ExternalURL != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "<"+notif.ExternalURL+"|tocsin>", false, true)))
	}
	msg.Text, msg.Blocks = title, &slack.Blocks{BlockSet: blocks}
	return msg, nil
}

// chunks splits text at line breaks into pieces of at most max runes.
func chunks(text string, max int) []string {
	var out []string
	var cur strings.Builder
	curLen := 0
	for _, line := range strings.Split(text, "\n") {
		l := len([]rune(line))
		if curLen > 0 && curLen+1+l > max {
			out = append(out, cur.String())
			cur.Reset()
			curLen = 0
		}
		if l > max {
			line = notifiers.Truncate(line, max)
			l = max
		}
		if curLen > 0 {
			cur.WriteByte('\n')
			curLen++
		}
		cur.WriteString(line)
		curLen += l
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}
