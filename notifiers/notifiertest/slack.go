package notifiertest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Slack's documented Block Kit and message limits.
const (
	slackBlocksMax      = 50
	slackHeaderMax      = 150
	slackSectionTextMax = 3000
	slackFieldsMax      = 10
	slackFieldMax       = 2000
	slackContextMax     = 10
	slackTextMax        = 40000
	slackAttachmentsMax = 100
	slackActionsMax     = 5
)

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text"`
	Fields   []slackText `json:"fields"`
	Elements []slackText `json:"elements"`
}

// slackAttachment is a legacy message attachment.
type slackAttachment struct {
	Title     string `json:"title"`
	TitleLink string `json:"title_link"`
	Pretext   string `json:"pretext"`
	Text      string `json:"text"`
	Fallback  string `json:"fallback"`
	Footer    string `json:"footer"`
	Fields    []struct {
		Title string `json:"title"`
		Value string `json:"value"`
	} `json:"fields"`
	Actions []struct {
		Type, Text, URL, Name string
		Confirm               *struct{ Text string } `json:"confirm"`
	} `json:"actions"`
	ImageURL string `json:"image_url"`
	ThumbURL string `json:"thumb_url"`
}

type slackMessage struct {
	Channel     string            `json:"channel"`
	TS          string            `json:"ts"`
	Text        string            `json:"text"`
	Blocks      []slackBlock      `json:"blocks"`
	Attachments []slackAttachment `json:"attachments"`
}

// checkSlackMessage applies the rules shared by webhooks and chat.postMessage;
// it returns Slack's error code or "".
func checkSlackMessage(m *slackMessage) string {
	if strings.TrimSpace(m.Text) == "" && len(m.Blocks) == 0 && len(m.Attachments) == 0 {
		return "no_text"
	}
	if code := checkSlackAttachments(m.Attachments); code != "" {
		return code
	}
	if utf8.RuneCountInString(m.Text) > slackTextMax {
		return "msg_too_long"
	}
	if len(m.Blocks) > slackBlocksMax {
		return "invalid_blocks"
	}
	for _, b := range m.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > slackHeaderMax {
				return "invalid_blocks"
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				return "invalid_blocks"
			}
			if b.Text != nil && (b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > slackSectionTextMax) {
				return "invalid_blocks"
			}
			if len(b.Fields) > slackFieldsMax {
				return "invalid_blocks"
			}
			for _, f := range b.Fields {
				if f.Text == "" || utf8.RuneCountInString(f.Text) > slackFieldMax {
					return "invalid_blocks"
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > slackContextMax {
				return "invalid_blocks"
			}
		case "divider":
		default:
			return "invalid_blocks"
		}
	}
	return ""
}

// checkSlackAttachments applies the rules of legacy attachments: at most
// 100, each with something to show, and buttons of type button with a
// text, a URL or a name, and a confirm text when they ask to confirm.
func checkSlackAttachments(atts []slackAttachment) string {
	if len(atts) > slackAttachmentsMax {
		return "too_many_attachments"
	}
	for _, a := range atts {
		if a.Fallback == "" && a.Text == "" && a.Title == "" && a.Pretext == "" && len(a.Fields) == 0 && a.ImageURL == "" {
			return "invalid_attachments"
		}
		if len(a.Actions) > slackActionsMax {
			return "invalid_attachments"
		}
		for _, act := range a.Actions {
			if act.Type != "button" || act.Text == "" || (act.URL == "" && act.Name == "") || (act.Confirm != nil && act.Confirm.Text == "") {
				return "invalid_attachments"
			}
		}
		for _, u := range []string{a.TitleLink, a.ImageURL, a.ThumbURL} {
			if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				return "invalid_attachments"
			}
		}
	}
	return ""
}

func slackPage(m *slackMessage, action string) Page {
	title := m.Text
	var parts []string
	for _, a := range m.Attachments {
		if title == "" {
			title = a.Title
		}
		for _, s := range []string{a.Pretext, a.Text} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		for _, f := range a.Fields {
			parts = append(parts, f.Title+": "+f.Value)
		}
		if a.Footer != "" {
			parts = append(parts, a.Footer)
		}
	}
	for _, b := range m.Blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
		for _, f := range b.Fields {
			parts = append(parts, f.Text)
		}
		for _, e := range b.Elements {
			parts = append(parts, e.Text)
		}
	}
	return Page{Action: action, Title: title, Text: strings.Join(parts, "\n"), Resolved: resolvedTitle(title)}
}

// resolvedTitle tells a recovery message from its title, for vendors whose
// payload carries no status of its own.
func resolvedTitle(title string) bool {
	return strings.Contains(strings.ToUpper(title), "RESOLVED")
}

// NewSlackWebhook starts a fake Slack incoming webhook. APIURL() is the
// webhook URL, secret path included; Slack answers errors in plain text.
func NewSlackWebhook(opts ...Option) *Server {
	path := "/services/T0TOCSIN0/B0TOCSIN0/" + rand.Text()
	v := vendor{
		name: "slack",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.Method != http.MethodPost || r.URL.Path != path {
				a := textAnswer(http.StatusNotFound, "no_service")
				return Page{}, &a
			}
			var m slackMessage
			if !isJSON(r) || json.Unmarshal(body, &m) != nil {
				a := textAnswer(http.StatusBadRequest, "invalid_payload")
				return Page{}, &a
			}
			if code := checkSlackMessage(&m); code != "" {
				a := textAnswer(http.StatusBadRequest, code)
				return Page{}, &a
			}
			return slackPage(&m, "post"), nil
		},
		accepted: func(*http.Request, []byte, *Page) answer { return textAnswer(http.StatusOK, "ok") },
		reject:   textAnswer(http.StatusNotFound, "channel_not_found"),
		limit:    textAnswer(http.StatusTooManyRequests, "rate_limited"),
		fail:     textAnswer(http.StatusInternalServerError, "rollup_error"),
	}
	return newServer(v, path, opts)
}

// NewSlackAPI starts a fake Slack Web API serving chat.postMessage and
// chat.update for a bot token. Configure api_url with APIURL(). Like Slack,
// it answers 200 with {"ok":false,"error":...} when it refuses a call.
func NewSlackAPI(token string, opts ...Option) *Server {
	st := &slackState{channels: map[string]string{}, messages: map[string]bool{}}
	refuse := func(code string) *answer {
		a := jsonAnswer(http.StatusOK, fmt.Sprintf(`{"ok":false,"error":%q}`, code))
		return &a
	}
	v := vendor{
		name: "slack",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			method := strings.TrimPrefix(r.URL.Path, "/api/")
			if r.Method != http.MethodPost || (method != "chat.postMessage" && method != "chat.update") {
				return Page{}, refuse("unknown_method")
			}
			auth := r.Header.Get("Authorization")
			switch {
			case auth == "":
				return Page{}, refuse("not_authed")
			case auth != "Bearer "+token:
				return Page{}, refuse("invalid_auth")
			}
			var m slackMessage
			if !isJSON(r) || json.Unmarshal(body, &m) != nil {
				return Page{}, refuse("invalid_json")
			}
			if m.Channel == "" {
				return Page{}, refuse("channel_not_found")
			}
			if code := checkSlackMessage(&m); code != "" {
				return Page{}, refuse(code)
			}
			if method == "chat.update" {
				if m.TS == "" || !st.known(m.Channel, m.TS) {
					return Page{}, refuse("message_not_found")
				}
				p := slackPage(&m, "update")
				p.Key = m.TS
				return p, nil
			}
			return slackPage(&m, "post"), nil
		},
		accepted: func(_ *http.Request, body []byte, p *Page) answer {
			ch, ts := st.record(body, p)
			return jsonAnswer(http.StatusOK, fmt.Sprintf(`{"ok":true,"channel":%q,"ts":%q}`, ch, ts))
		},
		reject: *refuse("channel_not_found"),
		limit:  jsonAnswer(http.StatusTooManyRequests, `{"ok":false,"error":"ratelimited"}`),
		fail:   textAnswer(http.StatusServiceUnavailable, "service unavailable"),
	}
	return newServer(v, "/api/", opts)
}

// slackState remembers posted messages, so that chat.update of a message
// that was never posted is refused as Slack refuses it. It is only used
// under the server's lock.
type slackState struct {
	channels map[string]string // name or id → id
	messages map[string]bool   // id + ts
	seq      int
}

func (st *slackState) id(channel string) string {
	if id, ok := st.channels[channel]; ok {
		return id
	}
	id := fmt.Sprintf("C%08d", len(st.channels)/2+1)
	st.channels[channel], st.channels[id] = id, id
	return id
}

func (st *slackState) known(channel, ts string) bool {
	id, ok := st.channels[channel]
	return ok && st.messages[id+"/"+ts]
}

func (st *slackState) record(body []byte, p *Page) (string, string) {
	var m slackMessage
	_ = json.Unmarshal(body, &m)
	id := st.id(m.Channel)
	if p.Action == "update" {
		return id, p.Key
	}
	st.seq++
	ts := fmt.Sprintf("1700000000.%06d", st.seq)
	st.messages[id+"/"+ts] = true
	p.Key = ts
	return id, ts
}
