package notifiertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Opsgenie's documented Alert API v2 limits.
const (
	opsgenieMessageMax     = 130
	opsgenieAliasMax       = 512
	opsgenieDescriptionMax = 15000
	opsgenieRespondersMax  = 50
	opsgenieTagsMax        = 20
	opsgenieTagMax         = 50
	opsgenieSourceMax      = 100
	opsgenieEntityMax      = 512
	opsgenieActionsMax     = 10
	opsgenieActionMax      = 50
	opsgenieNoteMax        = 25000
)

var (
	opsgenieClosePath  = regexp.MustCompile(`^/v2/alerts/([^/]+)/close$`)
	opsgenieUpdatePath = regexp.MustCompile(`^/v2/alerts/([^/]+)/(message|description)$`)
)

type opsgenieAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Responders  []json.RawMessage `json:"responders"`
	Tags        []string          `json:"tags"`
	Actions     []string          `json:"actions"`
	Note        string            `json:"note"`
	Details     map[string]string `json:"details"`
	Entity      string            `json:"entity"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

// NewOpsgenie starts a fake Opsgenie Alert API v2 that accepts apiKey.
// Configure api_url with APIURL().
func NewOpsgenie(apiKey string, opts ...Option) *Server {
	unprocessable := func(field, reason string) *answer {
		a := jsonAnswer(http.StatusUnprocessableEntity, fmt.Sprintf(`{"message":"Request body is not processable. Please check the errors.","errors":{%q:%q},"took":0.001,"requestId":"fake"}`, field, reason))
		return &a
	}
	v := vendor{
		name: "opsgenie",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			update := opsgenieUpdatePath.FindStringSubmatch(r.URL.Path)
			if r.Method != http.MethodPost && (r.Method != http.MethodPut || update == nil) {
				a := jsonAnswer(http.StatusMethodNotAllowed, `{"message":"Method Not Allowed","took":0.0,"requestId":"fake"}`)
				return Page{}, &a
			}
			if r.Header.Get("Authorization") != "GenieKey "+apiKey {
				a := jsonAnswer(http.StatusUnauthorized, `{"message":"Could not authenticate","took":0.0,"requestId":"fake"}`)
				return Page{}, &a
			}
			if !isJSON(r) {
				a := jsonAnswer(http.StatusUnsupportedMediaType, `{"message":"Content-Type must be application/json","took":0.0,"requestId":"fake"}`)
				return Page{}, &a
			}
			if r.URL.Path == "/v2/alerts" {
				return checkOpsgenieCreate(body, unprocessable)
			}
			if update != nil && r.Method == http.MethodPut {
				return checkOpsgenieUpdate(r, body, update[1], update[2], unprocessable)
			}
			if m := opsgenieClosePath.FindStringSubmatch(r.URL.Path); m != nil {
				if it := r.URL.Query().Get("identifierType"); it != "" && !slices.Contains([]string{"id", "alias", "tiny"}, it) {
					return Page{}, unprocessable("identifierType", "must be id, alias or tiny")
				}
				if r.URL.Query().Get("identifierType") != "alias" {
					return Page{}, unprocessable("identifierType", "closing by alias needs identifierType=alias")
				}
				if len(body) > 0 && !json.Valid(body) {
					return Page{}, unprocessable("body", "is not valid JSON")
				}
				return Page{Action: "close", Key: m[1], Resolved: true}, nil
			}
			a := jsonAnswer(http.StatusNotFound, `{"message":"Not Found","took":0.0,"requestId":"fake"}`)
			return Page{}, &a
		},
		accepted: func(*http.Request, []byte, *Page) answer {
			return jsonAnswer(http.StatusAccepted, `{"result":"Request will be processed","took":0.107,"requestId":"fake"}`)
		},
		reject: *unprocessable("responders", "Team with name [oncall] does not exist"),
		limit:  jsonAnswer(http.StatusTooManyRequests, `{"message":"You are making too many requests! To avoid errors, we recommend you limit requests.","took":0.0,"requestId":"fake"}`),
		fail:   jsonAnswer(http.StatusServiceUnavailable, `{"message":"Service Unavailable","took":0.0,"requestId":"fake"}`),
	}
	return newServer(v, "/", opts)
}

func checkOpsgenieCreate(body []byte, bad func(field, reason string) *answer) (Page, *answer) {
	var a opsgenieAlert
	if err := json.Unmarshal(body, &a); err != nil {
		return Page{}, bad("body", "is not valid JSON")
	}
	runes := utf8.RuneCountInString
	switch {
	case strings.TrimSpace(a.Message) == "":
		return Page{}, bad("message", "Message can not be empty.")
	case runes(a.Message) > opsgenieMessageMax:
		return Page{}, bad("message", "Message can not be longer than 130 characters.")
	case runes(a.Alias) > opsgenieAliasMax:
		return Page{}, bad("alias", "Alias can not be longer than 512 characters.")
	case runes(a.Description) > opsgenieDescriptionMax:
		return Page{}, bad("description", "Description can not be longer than 15000 characters.")
	case len(a.Responders) > opsgenieRespondersMax:
		return Page{}, bad("responders", "Too many responders.")
	case len(a.Tags) > opsgenieTagsMax:
		return Page{}, bad("tags", "Too many tags.")
	case runes(a.Source) > opsgenieSourceMax:
		return Page{}, bad("source", "Source can not be longer than 100 characters.")
	case runes(a.Entity) > opsgenieEntityMax:
		return Page{}, bad("entity", "Entity can not be longer than 512 characters.")
	case a.Priority != "" && !slices.Contains([]string{"P1", "P2", "P3", "P4", "P5"}, a.Priority):
		return Page{}, bad("priority", "Priority should be one of P1, P2, P3, P4, P5.")
	}
	for _, t := range a.Tags {
		if runes(t) > opsgenieTagMax {
			return Page{}, bad("tags", "Tags can not be longer than 50 characters.")
		}
	}
	if len(a.Actions) > opsgenieActionsMax {
		return Page{}, bad("actions", "Too many actions.")
	}
	for _, act := range a.Actions {
		if runes(act) > opsgenieActionMax {
			return Page{}, bad("actions", "Actions can not be longer than 50 characters.")
		}
	}
	if runes(a.Note) > opsgenieNoteMax {
		return Page{}, bad("note", "Note can not be longer than 25000 characters.")
	}
	for _, raw := range a.Responders {
		var r struct{ ID, Name, Username, Type string }
		if json.Unmarshal(raw, &r) != nil || !slices.Contains([]string{"team", "user", "escalation", "schedule"}, r.Type) || (r.ID == "" && r.Name == "" && r.Username == "") {
			return Page{}, bad("responders", "Responder must have a type and an id, name or username.")
		}
	}
	return Page{Action: "create", Key: a.Alias, Title: a.Message, Text: a.Description}, nil
}

// checkOpsgenieUpdate checks PUT /v2/alerts/{alias}/message or
// /description, which update an open alert's message or description.
func checkOpsgenieUpdate(r *http.Request, body []byte, alias, field string, bad func(field, reason string) *answer) (Page, *answer) {
	if r.URL.Query().Get("identifierType") != "alias" {
		return Page{}, bad("identifierType", "updating by alias needs identifierType=alias")
	}
	var u map[string]string
	if json.Unmarshal(body, &u) != nil {
		return Page{}, bad("body", "is not valid JSON")
	}
	v, limit := u[field], opsgenieDescriptionMax
	if field == "message" {
		limit = opsgenieMessageMax
	}
	switch {
	case strings.TrimSpace(v) == "":
		return Page{}, bad(field, "can not be empty.")
	case utf8.RuneCountInString(v) > limit:
		return Page{}, bad(field, fmt.Sprintf("can not be longer than %d characters.", limit))
	}
	p := Page{Action: "update-" + field, Key: alias}
	if field == "message" {
		p.Title = v
	} else {
		p.Text = v
	}
	return p, nil
}
