package notifiertest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// WebhookMessage is Alertmanager's version-4 webhook payload, as the fake
// webhook receiver decodes it.
type WebhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	// NotificationReason and RouteLabels came with Alertmanager 0.34.
	NotificationReason string            `json:"notification_reason"`
	RouteLabels        map[string]string `json:"routeLabels"`
	ExternalURL        string            `json:"externalURL"`
	Alerts             []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a WebhookMessage.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

var webhookAlertKeys = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}

// NewWebhook starts a fake receiver of Alertmanager's version-4 webhook
// payload, checking every field an existing receiver may read. Configure
// url with APIURL(); it also takes the paths under it (/hook/team-a), as a
// receiver that tells its callers apart by path does.
func NewWebhook(opts ...Option) *Server {
	s := &settings{}
	for _, o := range opts {
		o(s)
	}
	bad := func(reason string) *answer {
		a := textAnswer(http.StatusBadRequest, reason)
		return &a
	}
	v := vendor{
		name: "webhook",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || (r.URL.Path != "/hook" && !strings.HasPrefix(r.URL.Path, "/hook/")) {
				a := textAnswer(http.StatusNotFound, "404 page not found")
				return Page{}, &a
			}
			if s.authorization != "" && r.Header.Get("Authorization") != s.authorization {
				a := textAnswer(http.StatusUnauthorized, "unauthorized")
				return Page{}, &a
			}
			if !isJSON(r) {
				return Page{}, bad("Content-Type must be application/json")
			}
			if s.anyJSON {
				return anyJSONPage(body)
			}
			m, reason := checkWebhook(body)
			if reason != "" {
				return Page{}, bad(reason)
			}
			return Page{
				Action: m.Status, Key: m.GroupKey, Title: m.CommonLabels["alertname"],
				Text: fmt.Sprintf("%d alerts", len(m.Alerts)), Resolved: m.Status == "resolved",
			}, nil
		},
		accepted: func(*http.Request, []byte, *Page) answer { return answer{status: http.StatusOK} },
		reject:   textAnswer(http.StatusBadRequest, "receiver refused the payload"),
		limit:    textAnswer(http.StatusTooManyRequests, "too many requests"),
		fail:     textAnswer(http.StatusInternalServerError, "internal server error"),
	}
	return newServer(v, "/hook", opts)
}

// anyJSONPage accepts a body that is one JSON value and nothing else; the
// page's title is its top-level "title", "summary" or "text" string.
func anyJSONPage(body []byte) (Page, *answer) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		a := textAnswer(http.StatusBadRequest, "bad payload: "+err.Error())
		return Page{}, &a
	}
	if _, err := dec.Token(); err != io.EOF {
		a := textAnswer(http.StatusBadRequest, "bad payload: more than one JSON value")
		return Page{}, &a
	}
	p := Page{Action: "post", Text: string(body)}
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"title", "summary", "text"} {
			if t, ok := m[k].(string); ok && p.Title == "" {
				p.Title = t
			}
		}
	}
	return p, nil
}

// webhookCheck mirrors WebhookMessage with pointers, so that one decode
// tells a missing key from an empty one.
type webhookCheck struct {
	Version            *string            `json:"version"`
	GroupKey           *string            `json:"groupKey"`
	TruncatedAlerts    *int               `json:"truncatedAlerts"`
	Status             *string            `json:"status"`
	Receiver           *string            `json:"receiver"`
	GroupLabels        *map[string]string `json:"groupLabels"`
	CommonLabels       *map[string]string `json:"commonLabels"`
	CommonAnnotations  *map[string]string `json:"commonAnnotations"`
	NotificationReason *string            `json:"notification_reason"`
	RouteLabels        *map[string]string `json:"routeLabels"`
	ExternalURL        *string            `json:"externalURL"`
	Alerts             *[]struct {
		Status       *string            `json:"status"`
		Labels       *map[string]string `json:"labels"`
		Annotations  *map[string]string `json:"annotations"`
		StartsAt     *time.Time         `json:"startsAt"`
		EndsAt       *time.Time         `json:"endsAt"`
		GeneratorURL *string            `json:"generatorURL"`
		Fingerprint  *string            `json:"fingerprint"`
	} `json:"alerts"`
}

func checkWebhook(body []byte) (*WebhookMessage, string) {
	var c webhookCheck
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, "bad payload: " + err.Error()
	}
	for _, k := range []struct {
		name    string
		present bool
	}{
		{"version", c.Version != nil}, {"groupKey", c.GroupKey != nil}, {"truncatedAlerts", c.TruncatedAlerts != nil},
		{"status", c.Status != nil}, {"receiver", c.Receiver != nil}, {"groupLabels", c.GroupLabels != nil},
		{"commonLabels", c.CommonLabels != nil}, {"commonAnnotations", c.CommonAnnotations != nil},
		{"notification_reason", c.NotificationReason != nil}, {"routeLabels", c.RouteLabels != nil},
		{"externalURL", c.ExternalURL != nil}, {"alerts", c.Alerts != nil},
	} {
		if !k.present {
			return nil, "missing key " + k.name
		}
	}
	m := &WebhookMessage{
		Version: *c.Version, GroupKey: *c.GroupKey, TruncatedAlerts: *c.TruncatedAlerts, Status: *c.Status,
		Receiver: *c.Receiver, GroupLabels: *c.GroupLabels, CommonLabels: *c.CommonLabels,
		CommonAnnotations: *c.CommonAnnotations, NotificationReason: *c.NotificationReason,
		RouteLabels: *c.RouteLabels, ExternalURL: *c.ExternalURL,
	}
	switch {
	case m.Version != "4":
		return nil, fmt.Sprintf("version must be \"4\", not %q", m.Version)
	case m.Status != "firing" && m.Status != "resolved":
		return nil, "status must be firing or resolved"
	case m.Receiver == "" || m.GroupKey == "":
		return nil, "receiver and groupKey must be set"
	case len(*c.Alerts) == 0:
		return nil, "alerts is empty"
	case m.TruncatedAlerts < 0:
		return nil, "truncatedAlerts is negative"
	}
	for i, a := range *c.Alerts {
		if a.Status == nil || a.Labels == nil || a.Annotations == nil || a.StartsAt == nil || a.EndsAt == nil || a.GeneratorURL == nil || a.Fingerprint == nil {
			return nil, fmt.Sprintf("alerts[%d]: missing one of %s", i, strings.Join(webhookAlertKeys, ", "))
		}
		if *a.Status != "firing" && *a.Status != "resolved" {
			return nil, fmt.Sprintf("alerts[%d]: bad status", i)
		}
		if a.StartsAt.IsZero() || *a.Fingerprint == "" {
			return nil, fmt.Sprintf("alerts[%d]: startsAt and fingerprint must be set", i)
		}
		m.Alerts = append(m.Alerts, WebhookAlert{
			Status: *a.Status, Labels: *a.Labels, Annotations: *a.Annotations, StartsAt: *a.StartsAt,
			EndsAt: *a.EndsAt, GeneratorURL: *a.GeneratorURL, Fingerprint: *a.Fingerprint,
		})
	}
	return m, ""
}

// DecodeWebhook decodes a request body recorded by the fake webhook receiver.
func DecodeWebhook(body []byte) (*WebhookMessage, error) {
	var m WebhookMessage
	err := json.Unmarshal(body, &m)
	return &m, err
}

// Teams accepts Adaptive Cards up to about 28 KB.
const msteamsPayloadMax = 28 << 10

// NewMSTeams starts a fake Power Automate Workflows webhook that takes an
// Adaptive Card, as Teams' "post to a channel when a webhook request is
// received" flow does. APIURL() carries the signature in its query, as the
// real URL does; a request without it is refused.
func NewMSTeams(opts ...Option) *Server {
	s := &settings{}
	for _, o := range opts {
		o(s)
	}
	sig := rand.Text()
	path := "/workflows/" + strings.ToLower(rand.Text()) + "/triggers/manual/paths/invoke"
	flowError := func(status int, code, msg string) *answer {
		a := jsonAnswer(status, fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, code, msg))
		return &a
	}
	v := vendor{
		name: "msteams",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != path {
				return Page{}, flowError(http.StatusNotFound, "WorkflowNotFound", "The workflow could not be found.")
			}
			if r.URL.Query().Get("sig") != sig {
				return Page{}, flowError(http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated.")
			}
			if s.authorization != "" && r.Header.Get("Authorization") != s.authorization {
				return Page{}, flowError(http.StatusUnauthorized, "Unauthorized", "Authorization header is missing or wrong.")
			}
			if !isJSON(r) {
				return Page{}, flowError(http.StatusBadRequest, "InvalidRequestContent", "The request content type must be application/json.")
			}
			if len(body) > msteamsPayloadMax {
				return Page{}, flowError(http.StatusRequestEntityTooLarge, "MessageSizeLimitExceeded", "The card is larger than 28 KB.")
			}
			title, text, reason := checkAdaptiveCard(body)
			if reason != "" {
				return Page{}, flowError(http.StatusBadRequest, "InvalidRequestContent", reason)
			}
			return Page{Action: "send", Title: title, Text: text, Resolved: resolvedTitle(title)}, nil
		},
		accepted: func(*http.Request, []byte, *Page) answer { return answer{status: http.StatusAccepted} },
		reject:   *flowError(http.StatusBadRequest, "WorkflowTriggerIsNotEnabled", "The workflow is turned off."),
		limit:    *flowError(http.StatusTooManyRequests, "TooManyRequests", "Rate limit is exceeded. Try again later."),
		fail:     *flowError(http.StatusBadGateway, "BadGateway", "The flow did not answer."),
	}
	return newServer(v, path+"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig="+sig, opts)
}

func checkAdaptiveCard(body []byte) (title, text, reason string) {
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     *struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return "", "", "The request body is not valid JSON."
	}
	if msg.Type != "message" {
		return "", "", `"type" must be "message".`
	}
	if len(msg.Attachments) == 0 {
		return "", "", "The message has no attachments."
	}
	a := msg.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content == nil {
		return "", "", "The attachment is not an Adaptive Card."
	}
	if a.Content.Type != "AdaptiveCard" || a.Content.Version == "" {
		return "", "", `The card needs "type": "AdaptiveCard" and a "version".`
	}
	if len(a.Content.Body) == 0 {
		return "", "", "The card body is empty."
	}
	var parts []string
	for _, b := range a.Content.Body {
		if b.Type == "" {
			return "", "", "Every card element needs a type."
		}
		if b.Type == "TextBlock" {
			if title == "" {
				title = b.Text
			} else {
				parts = append(parts, b.Text)
			}
		}
	}
	return title, strings.Join(parts, "\n"), ""
}
