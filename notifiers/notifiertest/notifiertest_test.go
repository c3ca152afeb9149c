package notifiertest_test

import (
	"context"
	"io"
	"net/http"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const pdKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"

func post(t *testing.T, url, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFakesEnforceTheContract sends requests that break each vendor's
// documented rules and expects the vendor's own refusal.
func TestFakesEnforceTheContract(t *testing.T) {
	pd := notifiertest.NewPagerDuty(pdKey)
	defer pd.Close()
	sw := notifiertest.NewSlackWebhook()
	defer sw.Close()
	sa := notifiertest.NewSlackAPI("xoxb-1")
	defer sa.Close()
	og := notifiertest.NewOpsgenie("k")
	defer og.Close()
	wh := notifiertest.NewWebhook()
	defer wh.Close()
	wp := notifiertest.NewWebhook(notifiertest.WithAnyJSON())
	defer wp.Close()
	mt := notifiertest.NewMSTeams()
	defer mt.Close()
	mc := notifiertest.NewMSTeamsConnector()
	defer mc.Close()
	card := func(typ, context, summary, text, color string) string {
		return `{"@type":"` + typ + `","@context":"` + context + `","themeColor":"` + color + `","title":"t","summary":"` + summary + `","text":"` + text + `"}`
	}
	tw := notifiertest.NewTwilio("AC0123456789abcdef0123456789abcdef", "tok")
	defer tw.Close()
	const js = "application/json"
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct {
		name       string
		srv        *notifiertest.Server
		url        string
		ct         string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"pagerduty short routing key", pd, pd.APIURL(), js, `{"routing_key":"abc","event_action":"trigger"}`, nil, 400, "Length of 'routing_key' is incorrect"},
		{"pagerduty summary too long", pd, pd.APIURL(), js, `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"` + long + `","source":"s","severity":"critical"}}`, nil, 400, "longer than 1024"},
		{"pagerduty bad severity", pd, pd.APIURL(), js, `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"s","source":"s","severity":"high"}}`, nil, 400, "payload.severity"},
		{"pagerduty resolve without dedup key", pd, pd.APIURL(), js, `{"routing_key":"` + pdKey + `","event_action":"resolve"}`, nil, 400, "'dedup_key' is required"},
		{"pagerduty not JSON", pd, pd.APIURL(), "text/plain", `{}`, nil, 400, "Content-Type"},
		{"slack webhook no text", sw, sw.APIURL(), js, `{}`, nil, 400, "no_text"},
		{"slack webhook bad JSON", sw, sw.APIURL(), js, `{`, nil, 400, "invalid_payload"},
		{"slack webhook header too long", sw, sw.APIURL(), js, `{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`, nil, 400, "invalid_blocks"},
		{"slack webhook wrong path", sw, sw.URL() + "/services/x", js, `{"text":"t"}`, nil, 404, "no_service"},
		{"slack api no token", sa, sa.APIURL() + "chat.postMessage", js, `{"channel":"#c","text":"t"}`, nil, 200, `"error":"not_authed"`},
		{"slack api wrong token", sa, sa.APIURL() + "chat.postMessage", js, `{"channel":"#c","text":"t"}`, map[string]string{"Authorization": "Bearer nope"}, 200, `"error":"invalid_auth"`},
		{"slack api no channel", sa, sa.APIURL() + "chat.postMessage", js, `{"text":"t"}`, map[string]string{"Authorization": "Bearer xoxb-1"}, 200, `"error":"channel_not_found"`},
		{"slack api update of unknown message", sa, sa.APIURL() + "chat.update", js, `{"channel":"#c","ts":"1.2","text":"t"}`, map[string]string{"Authorization": "Bearer xoxb-1"}, 200, `"error":"message_not_found"`},
		{"opsgenie no GenieKey", og, og.APIURL() + "v2/alerts", js, `{"message":"m"}`, map[string]string{"Authorization": "Bearer k"}, 401, "Could not authenticate"},
		{"opsgenie message too long", og, og.APIURL() + "v2/alerts", js, `{"message":"` + strings.Repeat("m", 131) + `"}`, map[string]string{"Authorization": "GenieKey k"}, 422, "130 characters"},
		{"opsgenie close without identifierType", og, og.APIURL() + "v2/alerts/abc/close", js, `{}`, map[string]string{"Authorization": "GenieKey k"}, 422, "identifierType=alias"},
		{"webhook missing keys", wh, wh.APIURL(), js, `{"version":"4"}`, nil, 400, "missing key groupKey"},
		{"webhook payload not JSON", wp, wp.APIURL(), js, `{"a":`, nil, 400, "bad payload"},
		{"webhook payload two values", wp, wp.APIURL(), js, `{} {}`, nil, 400, "more than one JSON value"},
		{"webhook payload not sent as JSON", wp, wp.APIURL(), "text/plain", `{}`, nil, 400, "Content-Type"},
		{"msteams not a card", mt, mt.APIURL(), js, `{"type":"message","attachments":[{"contentType":"text/plain"}]}`, nil, 400, "not an Adaptive Card"},
		{"msteams connector adaptive card", mc, mc.APIURL(), js, `{"type":"message","attachments":[]}`, nil, 400, "The card has no @type."},
		{"msteams connector wrong type", mc, mc.APIURL(), js, card("AdaptiveCard", "https://schema.org/extensions", "s", "x", "8C1A1A"), nil, 400, `"@type" must be "MessageCard"`},
		{"msteams connector wrong context", mc, mc.APIURL(), js, card("MessageCard", "https://adaptivecards.io", "s", "x", "8C1A1A"), nil, 400, `"@context"`},
		{"msteams connector no summary nor text", mc, mc.APIURL(), js, card("MessageCard", "http://schema.org/extensions", "", "", "8C1A1A"), nil, 400, "Summary or Text is required."},
		{"msteams connector bad color", mc, mc.APIURL(), js, card("MessageCard", "http://schema.org/extensions", "s", "x", "red"), nil, 400, "themeColor"},
		{"msteams connector card too large", mc, mc.APIURL(), js, card("MessageCard", "http://schema.org/extensions", "s", strings.Repeat("x", 29<<10), "8C1A1A"), nil, 200, "HTTP error 413"},
		{"msteams connector wrong path", mc, mc.URL() + "/webhookb2/x", js, card("MessageCard", "http://schema.org/extensions", "s", "x", "8C1A1A"), nil, 404, "Webhook not found."},
		{"msteams without signature", mt, strings.Split(mt.APIURL(), "?")[0], js, `{}`, nil, 401, "DirectApiAuthorizationRequired"},
		{"twilio no auth", tw, tw.APIURL() + "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json", "application/x-www-form-urlencoded", "To=%2B15551234567&From=x&Body=b", nil, 401, `"code":20003`},
		{"twilio body too long", tw, tw.APIURL() + "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json", "application/x-www-form-urlencoded", "To=%2B15551234567&From=x&Body=" + strings.Repeat("b", 1601), map[string]string{"Authorization": "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0b2s="}, 400, `"code":21617`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.srv.Violations())
			status, body := post(t, tc.url, tc.ct, tc.body, tc.header)
			require.Equal(t, tc.wantStatus, status)
			require.Contains(t, body, tc.wantBody)
			require.Len(t, tc.srv.Violations(), before+1)
			require.Empty(t, tc.srv.Requests())
		})
	}
}

func TestOnPageAndModes(t *testing.T) {
	pages := make(chan notifiertest.Page, 1)
	wh := notifiertest.NewWebhook(notifiertest.OnPage(func(p notifiertest.Page) { pages <- p }), notifiertest.WithMode(notifiertest.Fail))
	defer wh.Close()
	body := `{"version":"4","groupKey":"g","truncatedAlerts":0,"status":"firing","receiver":"r","groupLabels":{},"commonLabels":{"alertname":"A"},"commonAnnotations":{},"notification_reason":"new alerts","routeLabels":{},"externalURL":"","alerts":[{"status":"firing","labels":{},"annotations":{},"startsAt":"2026-11-26T05:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f"}]}`
	status, _ := post(t, wh.APIURL(), "application/json", body, nil)
	require.Equal(t, 500, status)
	wh.SetMode(notifiertest.RateLimit)
	wh.SetRetryAfter("Thu, 26 Nov 2026 05:00:00 GMT")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, wh.APIURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "Thu, 26 Nov 2026 05:00:00 GMT", resp.Header.Get("Retry-After"))
	wh.SetMode(notifiertest.Accept)
	status, _ = post(t, wh.APIURL(), "application/json", body, nil)
	require.Equal(t, 200, status)
	p := <-pages
	require.Equal(t, notifiertest.Page{Vendor: "webhook", Action: "firing", Key: "g", Title: "A", Text: "1 alerts"}, p)
	require.Equal(t, 3, wh.Attempts())
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	pd := notifiertest.NewPagerDuty(pdKey, notifiertest.WithMode(notifiertest.Hang))
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, pd.APIURL(), strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return pd.Attempts() == 1 }, 5*time.Second, time.Millisecond)
	pd.Close()
	require.Error(t, <-done, "the hanging request ends when the server closes")
	http.DefaultClient.CloseIdleConnections()
}

func TestSMTPTakesAMessage(t *testing.T) {
	srv, err := notifiertest.NewSMTP()
	require.NoError(t, err)
	defer srv.Close()
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\nMessage-Id: <1@example.com>\r\n\r\n.dot-stuffed line\r\nbody\r\n"
	require.NoError(t, smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(msg)))
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "hello", msgs[0].Subject)
	require.Equal(t, ".dot-stuffed line\nbody\n", msgs[0].Text)
	require.Empty(t, srv.Violations())

	// A message without the headers every mail needs is refused.
	err = smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte("Subject: x\r\n\r\nbody\r\n"))
	require.ErrorContains(t, err, "554")
	require.Len(t, srv.Violations(), 1)
}

func TestSMTPHangEndsOnClose(t *testing.T) {
	srv, err := notifiertest.NewSMTP(notifiertest.WithMode(notifiertest.Hang))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte("x"))
	}()
	require.Eventually(t, func() bool { return srv.Attempts() == 1 }, 5*time.Second, time.Millisecond)
	srv.Close()
	require.Error(t, <-done)
}
