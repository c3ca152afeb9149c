package msteams

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

// MessageCard is the legacy actionable message card an Office 365
// connector takes, with the fields Alertmanager's msteams_configs sets.
type MessageCard struct {
	Type    string `json:"@type"`
	Context string `json:"@context"`
	// ThemeColor is the card's accent, in hex without "#".
	ThemeColor string `json:"themeColor"`
	Title      string `json:"title"`
	// Summary is what Teams shows in its notifications and activity feed.
	Summary string `json:"summary"`
	Text    string `json:"text"`
}

// Alertmanager's colors: red while firing, green once resolved.
const (
	colorFiring   = "8C1A1A"
	colorResolved = "2DC72D"
)

// postMessageCard posts the card to a connector. A connector answers 200
// with the body "1" when it posted the card; it has been seen to answer
// 200 with the reason instead ("Microsoft Teams endpoint returned HTTP
// error 429 ..."), which is a failure, retried when the status it names is.
func (n *Notifier) postMessageCard(ctx context.Context, url string, notif *notifiers.Notification) (bool, error) {
	card, err := n.messageCard(notif)
	if err != nil {
		return false, err
	}
	body, retry, err := n.send.PostJSON(ctx, url, nil, card, nil)
	if err != nil {
		return retry, err
	}
	if got := strings.TrimSpace(string(body)); got != "1" {
		return connectorRetry(got), &notifiers.VendorError{Integration: "msteams", StatusCode: 200, Reason: notifiers.TruncateReason(got)}
	}
	return false, nil
}

var connectorStatus = regexp.MustCompile(`HTTP error (\d{3})`)

// connectorRetry tells from a connector's 200 answer that is not "1"
// whether trying again can help: when it names a status, as that status
// would; otherwise yes, as for a 5xx.
func connectorRetry(reason string) bool {
	if m := connectorStatus.FindStringSubmatch(reason); m != nil {
		status, _ := strconv.Atoi(m[1])
		return notifiers.Retryable(status)
	}
	return true
}

func (n *Notifier) messageCard(notif *notifiers.Notification) (*MessageCard, error) {
	data := notifiers.NewTemplateData(notif)
	title, text, err := n.render(data)
	if err != nil {
		return nil, err
	}
	summary, err := n.summary.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("msteams: %w", err)
	}
	color := colorFiring
	if notif.Status == model.AlertResolved {
		color = colorResolved
	}
	return &MessageCard{
		Type: "MessageCard", Context: "http://schema.org/extensions", ThemeColor: color,
		Title:   strings.Join(strings.Fields(title), " "),
		Summary: strings.Join(strings.Fields(summary), " "),
		// Teams reads the text as Markdown, where a single newline is no break.
		Text: cut(strings.ReplaceAll(text, "\n", "\n\n")),
	}, nil
}
