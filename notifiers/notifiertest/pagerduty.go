package notifiertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// PagerDuty's documented Events API v2 limits.
const (
	pagerDutySummaryMax  = 1024
	pagerDutyDedupKeyMax = 255
	pagerDutyEventMax    = 512 << 10
)

type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client"`
	ClientURL   string            `json:"client_url"`
	Links       []json.RawMessage `json:"links"`
	Payload     *struct {
		Summary   string `json:"summary"`
		Source    string `json:"source"`
		Severity  string `json:"severity"`
		Timestamp string `json:"timestamp"`
	} `json:"payload"`
}

// NewPagerDuty starts a fake PagerDuty Events API v2 that accepts events
// for routingKey. Configure the integration's url with APIURL().
func NewPagerDuty(routingKey string, opts ...Option) *Server {
	invalid := func(reason string) *answer {
		a := jsonAnswer(http.StatusBadRequest, fmt.Sprintf(`{"status":"invalid event","message":"Event object is invalid","errors":[%q]}`, reason))
		return &a
	}
	v := vendor{
		name: "pagerduty",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
				a := jsonAnswer(http.StatusNotFound, `{"status":"not found","message":"Not Found"}`)
				return Page{}, &a
			}
			if !isJSON(r) {
				return Page{}, invalid("Content-Type must be application/json")
			}
			if len(body) > pagerDutyEventMax {
				return Page{}, invalid("Event object is larger than 512 KB")
			}
			var e pagerDutyEvent
			if err := json.Unmarshal(body, &e); err != nil {
				a := jsonAnswer(http.StatusBadRequest, `{"status":"invalid request","message":"Invalid JSON"}`)
				return Page{}, &a
			}
			if len(e.RoutingKey) != 32 {
				return Page{}, invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
			}
			if e.RoutingKey != routingKey {
				return Page{}, invalid("Invalid routing key")
			}
			if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, e.EventAction) {
				return Page{}, invalid("'event_action' is missing or invalid")
			}
			if len(e.DedupKey) > pagerDutyDedupKeyMax {
				return Page{}, invalid("'dedup_key' is too long")
			}
			if e.EventAction != "trigger" && e.DedupKey == "" {
				return Page{}, invalid("'dedup_key' is required for " + e.EventAction)
			}
			p := Page{Action: e.EventAction, Key: e.DedupKey, Resolved: e.EventAction == "resolve"}
			if e.EventAction == "trigger" {
				if e.Payload == nil {
					return Page{}, invalid("'payload' is missing")
				}
				switch {
				case strings.TrimSpace(e.Payload.Summary) == "":
					return Page{}, invalid("'payload.summary' is missing or blank")
				case utf8.RuneCountInString(e.Payload.Summary) > pagerDutySummaryMax:
					return Page{}, invalid("'payload.summary' is longer than 1024 characters")
				case strings.TrimSpace(e.Payload.Source) == "":
					return Page{}, invalid("'payload.source' is missing or blank")
				case !slices.Contains([]string{"critical", "error", "warning", "info"}, e.Payload.Severity):
					return Page{}, invalid("'payload.severity' must be critical, error, warning or info")
				}
				if e.Payload.Timestamp != "" {
					if _, err := time.Parse(time.RFC3339, e.Payload.Timestamp); err != nil {
						return Page{}, invalid("'payload.timestamp' is not ISO 8601")
					}
				}
				p.Title = e.Payload.Summary
			}
			for _, l := range e.Links {
				var link struct {
					Href string `json:"href"`
				}
				if json.Unmarshal(l, &link) != nil || link.Href == "" {
					return Page{}, invalid("'links' entries need an 'href'")
				}
			}
			return p, nil
		},
		accepted: func(_ *http.Request, _ []byte, p *Page) answer {
			return jsonAnswer(http.StatusAccepted, fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, p.Key))
		},
		reject: *invalid("Invalid routing key"),
		limit:  jsonAnswer(http.StatusTooManyRequests, `{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`),
		fail:   answer{status: http.StatusBadGateway, contentType: "text/html", body: "<html><body>502 Bad Gateway</body></html>"},
	}
	return newServer(v, "/v2/enqueue", opts)
}

func isJSON(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}
