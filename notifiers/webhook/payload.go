package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// templateData is what the templates of one notification see, made on
// first use, so that the version-4 message alone never makes it. As in
// Alertmanager, the templates see only the alerts max_alerts keeps, and
// the group's common labels are those of these alerts.
type templateData struct {
	notif *notifiers.Notification
	keep  int
	data  *notifiers.TemplateData
}

func (t *templateData) get() *notifiers.TemplateData {
	if t.data == nil {
		notif := t.notif
		if t.keep > 0 && len(notif.Alerts) > t.keep {
			notif = notif.WithAlerts(notif.Alerts[:t.keep])
		}
		t.data = notifiers.NewTemplateData(notif)
	}
	return t.data
}

// body is what Notify posts: the version-4 message from the fast encoder,
// or the config's payload.
func (n *Notifier) body(notif *notifiers.Notification, data *templateData) ([]byte, error) {
	if n.conf.Payload == nil {
		body, err := Encode(notif, n.conf.MaxAlerts, n.now())
		if err != nil {
			return nil, fmt.Errorf("webhook: encode request: %w", err)
		}
		return body, nil
	}
	return n.renderPayload(data.get())
}

// target is the URL Notify posts to: url, or url_file's content read now,
// rendered for the notification when it is a template, as Alertmanager
// renders it. templated tells that it was rendered.
func (n *Notifier) target(data *templateData) (target string, templated bool, err error) {
	raw := notifiers.ReadSecret(n.log, "url", n.conf.URL, n.conf.URLFile)
	if !configs.IsTemplatedURL(raw) {
		return raw, false, nil
	}
	target, err = n.renderURL(raw, data.get())
	return target, true, err
}

// renderURL renders a url template exactly as Alertmanager does, nothing
// trimmed, and refuses what is no absolute http or https URL: the same
// notification renders the same URL, so it is refused for good. Neither
// the template nor the URL is shown in the error: both may hold a secret.
func (n *Notifier) renderURL(raw string, data *notifiers.TemplateData) (string, error) {
	out, err := n.executeURL(raw, data)
	if err != nil {
		return "", err
	}
	if err := configs.CheckRenderedURL(out); err != nil {
		return "", fmt.Errorf("webhook: url: %w", err)
	}
	return out, nil
}

func (n *Notifier) executeURL(raw string, data *notifiers.TemplateData) (string, error) {
	out, err := n.templates.ExecuteText(raw, data)
	if err != nil {
		return "", fmt.Errorf("webhook: render url (not shown, it may hold a secret): %w", err)
	}
	return out, nil
}

// renderPayload renders every string of the payload with Alertmanager's
// own walk (keys included; a string that renders to YAML other than a
// string becomes that value) and encodes the result as Alertmanager does:
// HTML-safe, with a final newline. The first template that fails stops
// the rendering.
func (n *Notifier) renderPayload(data *notifiers.TemplateData) ([]byte, error) {
	var failed error
	execute := func(text string) (string, error) {
		if failed != nil {
			return "", failed
		}
		out, err := n.templates.ExecuteText(text, data)
		failed = err
		return out, err
	}
	v, err := amtemplate.DeepCopyWithTemplate(n.conf.Payload.Value, execute)
	if err != nil {
		return nil, fmt.Errorf("webhook: render payload: %w", err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("webhook: encode payload: %w", err)
	}
	return buf.Bytes(), nil
}
