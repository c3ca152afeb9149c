package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

// body is what Notify posts: the version-4 message from the fast encoder,
// or the config's payload.
func (n *Notifier) body(notif *notifiers.Notification) ([]byte, error) {
	if n.conf.Payload == nil {
		body, err := Encode(notif, n.conf.MaxAlerts, n.now())
		if err != nil {
			return nil, fmt.Errorf("webhook: encode request: %w", err)
		}
		return body, nil
	}
	// As in Alertmanager, the templates see only the alerts max_alerts
	// keeps, and the group's common labels are those of these alerts.
	if keep := n.conf.MaxAlerts; keep > 0 && len(notif.Alerts) > keep {
		notif = notif.WithAlerts(notif.Alerts[:keep])
	}
	return n.renderPayload(notifiers.NewTemplateData(notif))
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
