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
	Images      []json.RawMessage `json:"images"`
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
	v := vendor{
		name: "pagerduty",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
				return Page{}, pagerDutyNotFound()
			}
			if !isJSON(r) {
				return Page{}, pagerDutyInvalid("Content-Type must be application/json")
			}
			if len(body) > pagerDutyEventMax {
				return Page{}, pagerDutyInvalid("Event object is larger than 512 KB")
			}
			var e pagerDutyEvent
			if err := json.Unmarshal(body, &e); err != nil {
				a := jsonAnswer(http.StatusBadRequest, `{"status":"invalid request","message":"Invalid JSON"}`)
				return Page{}, &a
			}
			if len(e.RoutingKey) != 32 {
				return Page{}, pagerDutyInvalid("Length of 'routing_key' is incorrect (should be 32 characters)")
			}
			if e.RoutingKey != routingKey {
				return Page{}, pagerDutyInvalid("Invalid routing key")
			}
			if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, e.EventAction) {
				return Page{}, pagerDutyInvalid("'event_action' is missing or invalid")
			}
			if len(e.DedupKey) > pagerDutyDedupKeyMax {
				return Page{}, pagerDutyInvalid("'dedup_key' is too long")
			}
			if e.EventAction != "trigger" && e.DedupKey == "" {
				return Page{}, pagerDutyInvalid("'dedup_key' is required for " + e.EventAction)
			}
			p := Page{Action: e.EventAction, Key: e.DedupKey, Resolved: e.EventAction == "resolve"}
			if e.EventAction == "trigger" {
				if e.Payload == nil {
					return Page{}, pagerDutyInvalid("'payload' is missing")
				}
				switch {
				case strings.TrimSpace(e.Payload.Summary) == "":
					return Page{}, pagerDutyInvalid("'payload.summary' is missing or blank")
				case utf8.RuneCountInString(e.Payload.Summary) > pagerDutySummaryMax:
					return Page{}, pagerDutyInvalid("'payload.summary' is longer than 1024 characters")
				case strings.TrimSpace(e.Payload.Source) == "":
					return Page{}, pagerDutyInvalid("'payload.source' is missing or blank")
				case !slices.Contains([]string{"critical", "error", "warning", "info"}, e.Payload.Severity):
					return Page{}, pagerDutyInvalid("'payload.severity' must be critical, error, warning or info")
				}
				if e.Payload.Timestamp != "" {
					if _, err := time.Parse(time.RFC3339, e.Payload.Timestamp); err != nil {
						return Page{}, pagerDutyInvalid("'payload.timestamp' is not ISO 8601")
					}
				}
				p.Title = e.Payload.Summary
			}
			for _, l := range e.Links {
				var link struct {
					Href string `json:"href"`
				}
				if json.Unmarshal(l, &link) != nil || link.Href == "" {
					return Page{}, pagerDutyInvalid("'links' entries need an 'href'")
				}
			}
			for _, img := range e.Images {
				var image struct {
					Src string `json:"src"`
				}
				if json.Unmarshal(img, &image) != nil || !strings.HasPrefix(image.Src, "https://") {
					return Page{}, pagerDutyInvalid("'images' entries need a 'src' served over HTTPS")
				}
			}
			return p, nil
		},
		accepted: func(_ *http.Request, _ []byte, p *Page) answer {
			return jsonAnswer(http.StatusAccepted, fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, p.Key))
		},
		reject: *pagerDutyInvalid("Invalid routing key"),
		limit:  jsonAnswer(http.StatusTooManyRequests, `{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`),
		fail:   answer{status: http.StatusBadGateway, contentType: "text/html", body: "<html><body>502 Bad Gateway</body></html>"},
	}
	return newServer(v, "/v2/enqueue", opts)
}

// pagerDutyV1Event is an Events API v1 event.
type pagerDutyV1Event struct {
	ServiceKey  string          `json:"service_key"`
	EventType   string          `json:"event_type"`
	IncidentKey string          `json:"incident_key"`
	Description string          `json:"description"`
	Details     json.RawMessage `json:"details"`
}

// NewPagerDutyV1 starts a fake PagerDuty Events API v1 (generic
// create_event) that accepts events for serviceKey. Configure the
// integration's url with APIURL(). Like PagerDuty's v1, it answers 403
// when it rate-limits.
func NewPagerDutyV1(serviceKey string, opts ...Option) *Server {
	const path = "/generic/2010-04-15/create_event.json"
	v := vendor{
		name: "pagerduty",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != path {
				return Page{}, pagerDutyNotFound()
			}
			var e pagerDutyV1Event
			if !isJSON(r) || json.Unmarshal(body, &e) != nil {
				a := jsonAnswer(http.StatusBadRequest, `{"status":"invalid request","message":"Invalid JSON"}`)
				return Page{}, &a
			}
			switch {
			case len(body) > pagerDutyEventMax:
				return Page{}, pagerDutyInvalid("Event object is larger than 512 KB")
			case len(e.ServiceKey) != 32:
				return Page{}, pagerDutyInvalid("Service key is the wrong length (should be 32 characters)")
			case e.ServiceKey != serviceKey:
				return Page{}, pagerDutyInvalid("Service key is invalid")
			case !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, e.EventType):
				return Page{}, pagerDutyInvalid("Event type is invalid")
			case e.EventType != "trigger" && e.IncidentKey == "":
				return Page{}, pagerDutyInvalid("Incident key is required for " + e.EventType)
			case e.EventType == "trigger" && strings.TrimSpace(e.Description) == "":
				return Page{}, pagerDutyInvalid("Description is missing or blank")
			case utf8.RuneCountInString(e.Description) > pagerDutySummaryMax:
				return Page{}, pagerDutyInvalid("Description is longer than 1024 characters")
			case len(e.Details) > 0 && e.Details[0] != '{':
				return Page{}, pagerDutyInvalid("Details must be an object")
			}
			return Page{Action: e.EventType, Key: e.IncidentKey, Title: e.Description, Resolved: e.EventType == "resolve"}, nil
		},
		accepted: func(_ *http.Request, _ []byte, p *Page) answer {
			return jsonAnswer(http.StatusOK, fmt.Sprintf(`{"status":"success","message":"Event processed","incident_key":%q}`, p.Key))
		},
		reject: *pagerDutyInvalid("Service key is invalid"),
		limit:  jsonAnswer(http.StatusForbidden, `{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`),
		fail:   answer{status: http.StatusInternalServerError, contentType: "text/html", body: "<html><body>500 Internal Server Error</body></html>"},
	}
	return newServer(v, path, opts)
}

// pagerDutyInvalid is PagerDuty's answer to an event it refuses.
func pagerDutyInvalid(reason string) *answer {
	a := jsonAnswer(http.StatusBadRequest, fmt.Sprintf(`{"status":"invalid event","message":"Event object is invalid","errors":[%q]}`, reason))
	return &a
}

func pagerDutyNotFound() *answer {
	a := jsonAnswer(http.StatusNotFound, `{"status":"not found","message":"Not Found"}`)
	return &a
}

func isJSON(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}
