package notifiertest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// pingBodyMax is the largest ping body the fake ping URLs take;
// healthchecks.io keeps at most 100 kB of a ping's body.
const pingBodyMax = 100 << 10

// NewOpsgenieHeartbeat starts a fake Opsgenie Heartbeat API that knows one
// heartbeat, name, pinged with apiKey: GET or POST (PUT and PATCH too, as
// Opsgenie allows) on /v2/heartbeats/<name>/ping with
// `Authorization: GenieKey <apiKey>`. Configure api_url with APIURL().
func NewOpsgenieHeartbeat(apiKey, name string, opts ...Option) *Server {
	ogError := func(status int, msg string) *answer {
		a := jsonAnswer(status, fmt.Sprintf(`{"message":%q,"took":0.001,"requestId":"fake"}`, msg))
		return &a
	}
	v := vendor{
		name: "opsgenie-heartbeat",
		check: func(r *http.Request, _ []byte) (Page, *answer) {
			if !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch}, r.Method) {
				return Page{}, ogError(http.StatusMethodNotAllowed, "Method Not Allowed")
			}
			if r.Header.Get("Authorization") != "GenieKey "+apiKey {
				return Page{}, ogError(http.StatusUnauthorized, "Could not authenticate")
			}
			hb, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v2/heartbeats/")
			hb, ok2 := strings.CutSuffix(hb, "/ping")
			if !ok || !ok2 || strings.Contains(hb, "/") {
				return Page{}, ogError(http.StatusNotFound, "Not Found")
			}
			if got, err := url.PathUnescape(hb); err != nil || got != name {
				return Page{}, ogError(http.StatusNotFound, fmt.Sprintf("Heartbeat with name [%s] does not exist", got))
			}
			return Page{Action: "ping", Key: name, Title: "heartbeat " + name}, nil
		},
		accepted: func(*http.Request, []byte, *Page) answer {
			return jsonAnswer(http.StatusAccepted, `{"result":"PONG - Heartbeat received","took":0.006,"requestId":"fake"}`)
		},
		reject: *ogError(http.StatusForbidden, "The heartbeat is disabled"),
		limit:  *ogError(http.StatusTooManyRequests, "You are making too many requests! To avoid errors, we recommend you limit requests."),
		fail:   *ogError(http.StatusInternalServerError, "Internal Server Error"),
	}
	return newServer(v, "/", opts)
}

// NewPingURL starts a fake ping URL as healthchecks.io gives one (and
// Better Stack, Cronitor and Dead Man's Snitch alike): a secret token in
// the path, HEAD, GET or POST with a body of at most 100 kB, "OK" back.
// APIURL() is the whole ping URL; any other path is unknown.
func NewPingURL(opts ...Option) *Server {
	return newPing("ping", []string{http.MethodHead, http.MethodGet, http.MethodPost}, opts)
}

// NewHTTPPing starts a fake heartbeat endpoint that takes only method at
// its secret APIURL(), and with WithAuthorization only that header: the
// generic HTTP ping's counterpart.
func NewHTTPPing(method string, opts ...Option) *Server {
	return newPing("http-ping", []string{method}, opts)
}

func newPing(name string, methods []string, opts []Option) *Server {
	s := &settings{}
	for _, o := range opts {
		o(s)
	}
	path := "/ping/" + strings.ToLower(rand.Text())
	v := vendor{
		name: name,
		check: func(r *http.Request, body []byte) (Page, *answer) {
			if r.URL.Path != path {
				a := textAnswer(http.StatusNotFound, "not found")
				return Page{}, &a
			}
			if !slices.Contains(methods, r.Method) {
				a := textAnswer(http.StatusMethodNotAllowed, "method not allowed")
				return Page{}, &a
			}
			if s.authorization != "" && r.Header.Get("Authorization") != s.authorization {
				a := textAnswer(http.StatusUnauthorized, "unauthorized")
				return Page{}, &a
			}
			if len(body) > pingBodyMax {
				a := textAnswer(http.StatusRequestEntityTooLarge, "request body too large")
				return Page{}, &a
			}
			return Page{Action: "ping", Title: r.Method + " ping", Text: string(body)}, nil
		},
		accepted: func(*http.Request, []byte, *Page) answer { return textAnswer(http.StatusOK, "OK") },
		reject:   textAnswer(http.StatusBadRequest, "check is paused"),
		limit:    textAnswer(http.StatusTooManyRequests, "rate limited"),
		fail:     textAnswer(http.StatusInternalServerError, "internal server error"),
	}
	return newServer(v, path, opts)
}
