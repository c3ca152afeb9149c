package notifiertest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// connectorContextID is the tail Teams puts on a connector's failure texts.
const connectorContextID = " with ContextId tcid=0,server=msgapi-production-weu-azsc2-1-42,cv=fake.0"

// NewMSTeamsConnector starts a fake Office 365 connector (a Teams channel's
// "Incoming Webhook"), which takes the legacy MessageCard. APIURL() has
// the connector's path, /webhookb2/GROUP@TENANT/IncomingWebhook/ID/OWNER/
// TOKEN, which is its only credential. It answers 200 with the body "1"
// when it posts the card; a card over 28 KB gets 200 with Teams' text
// about a 413, as the real connector answers, which a client must read as
// a failure; a bad card gets 400 with Teams' reason in plain text.
func NewMSTeamsConnector(opts ...Option) *Server {
	s := &settings{}
	for _, o := range opts {
		o(s)
	}
	guid := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	path := "/webhookb2/" + guid() + "@" + guid() + "/IncomingWebhook/" + hex.EncodeToString(id) + "/" + guid() + "/V2" + rand.Text()
	v := vendor{
		name: "msteams",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != path {
				a := textAnswer(http.StatusNotFound, "Webhook not found.")
				return Page{}, &a
			}
			if s.authorization != "" && r.Header.Get("Authorization") != s.authorization {
				a := textAnswer(http.StatusUnauthorized, "Unauthorized")
				return Page{}, &a
			}
			if !isJSON(r) {
				a := textAnswer(http.StatusBadRequest, "Bad payload received by generic incoming webhook.")
				return Page{}, &a
			}
			if len(body) > msteamsPayloadMax {
				a := textAnswer(http.StatusOK, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413"+connectorContextID)
				return Page{}, &a
			}
			card, reason := checkMessageCard(body)
			if reason != "" {
				a := textAnswer(http.StatusBadRequest, reason)
				return Page{}, &a
			}
			return Page{Action: "send", Title: card.Title, Text: card.Text, Resolved: card.ThemeColor == "2DC72D" || resolvedTitle(card.Title)}, nil
		},
		accepted: func(*http.Request, []byte, *Page) answer { return textAnswer(http.StatusOK, "1") },
		reject:   textAnswer(http.StatusBadRequest, "Bad payload received by generic incoming webhook."),
		limit:    textAnswer(http.StatusTooManyRequests, "Microsoft Teams endpoint returned HTTP error 429"+connectorContextID),
		fail:     textAnswer(http.StatusInternalServerError, "Microsoft Teams endpoint returned HTTP error 500"+connectorContextID),
	}
	return newServer(v, path, opts)
}

// ConnectorCard is a MessageCard as the fake connector reads it.
type ConnectorCard struct {
	Type       string `json:"@type"`
	Context    string `json:"@context"`
	ThemeColor string `json:"themeColor"`
	Title      string `json:"title"`
	Summary    string `json:"summary"`
	Text       string `json:"text"`
}

var hexColor = regexp.MustCompile(`^#?[0-9A-Fa-f]{6}$`)

// checkMessageCard enforces the MessageCard reference: "@type" is
// MessageCard, "@context" is schema.org's extensions, and a card without
// text needs a summary (Teams' own words when both are missing). tocsin
// and Alertmanager always send title, summary, text and themeColor, so the
// fake requires all four, and a themeColor that is a hex color.
func checkMessageCard(body []byte) (*ConnectorCard, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, "Bad payload received by generic incoming webhook."
	}
	for _, k := range []string{"@type", "@context", "themeColor", "title", "summary", "text"} {
		if _, ok := fields[k]; !ok {
			return nil, "The card has no " + k + "."
		}
	}
	var c ConnectorCard
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, "Bad payload received by generic incoming webhook."
	}
	switch {
	case c.Type != "MessageCard":
		return nil, `"@type" must be "MessageCard".`
	case strings.TrimPrefix(strings.TrimPrefix(c.Context, "https:"), "http:") != "//schema.org/extensions":
		return nil, `"@context" must be "https://schema.org/extensions".`
	case c.Summary == "" && c.Text == "":
		return nil, "Summary or Text is required."
	case !hexColor.MatchString(c.ThemeColor):
		return nil, `"themeColor" must be a hex color such as 0076D7.`
	}
	return &c, ""
}

// DecodeConnectorCard decodes a request body recorded by the fake connector.
func DecodeConnectorCard(body []byte) (*ConnectorCard, error) {
	var c ConnectorCard
	err := json.Unmarshal(body, &c)
	return &c, err
}
