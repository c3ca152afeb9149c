package notifiertest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Twilio's documented limit on one message's body.
const twilioBodyMax = 1600

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NewTwilio starts a fake Twilio Messages API for one account. Configure
// api_url with APIURL().
func NewTwilio(accountSID, authToken string, opts ...Option) *Server {
	twilioError := func(status, code int, msg string) *answer {
		a := jsonAnswer(status, fmt.Sprintf(`{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status))
		return &a
	}
	path := "/2010-04-01/Accounts/" + accountSID + "/Messages.json"
	seq := 0
	v := vendor{
		name: "twilio",
		check: func(r *http.Request, body []byte) (Page, *answer) {
			user, pass, ok := r.BasicAuth()
			if !ok || user != accountSID || pass != authToken {
				return Page{}, twilioError(http.StatusUnauthorized, 20003, "Authenticate")
			}
			if r.Method != http.MethodPost || r.URL.Path != path {
				return Page{}, twilioError(http.StatusNotFound, 20404, "The requested resource was not found")
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				return Page{}, twilioError(http.StatusBadRequest, 21602, "Message body is required (form-encoded)")
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return Page{}, twilioError(http.StatusBadRequest, 21602, "Message body is required (form-encoded)")
			}
			to, from, text := form.Get("To"), form.Get("From"), form.Get("Body")
			switch {
			case !e164.MatchString(to):
				return Page{}, twilioError(http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
			case from == "":
				return Page{}, twilioError(http.StatusBadRequest, 21603, "A 'From' phone number is required.")
			case strings.TrimSpace(text) == "":
				return Page{}, twilioError(http.StatusBadRequest, 21602, "Message body is required.")
			case utf8.RuneCountInString(text) > twilioBodyMax:
				return Page{}, twilioError(http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
			}
			return Page{Action: "send", Title: text, Resolved: resolvedTitle(text)}, nil
		},
		accepted: func(_ *http.Request, body []byte, p *Page) answer {
			seq++
			p.Key = fmt.Sprintf("SM%032x", seq)
			form, _ := url.ParseQuery(string(body))
			return jsonAnswer(http.StatusCreated, fmt.Sprintf(`{"sid":%q,"status":"queued","to":%q,"from":%q,"body":%q}`,
				p.Key, form.Get("To"), form.Get("From"), form.Get("Body")))
		},
		reject: *twilioError(http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient"),
		limit:  *twilioError(http.StatusTooManyRequests, 20429, "Too Many Requests"),
		fail:   *twilioError(http.StatusInternalServerError, 20500, "Internal Server Error"),
	}
	return newServer(v, "", opts)
}
