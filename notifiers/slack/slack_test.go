package slack_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/slack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "xoxb-test-token"

func notification(dedup string, status model.AlertStatus) *notifiers.Notification {
	a := &model.Alert{
		Labels:      model.LabelSet{"alertname": "ProbeFailing", "probe": "broker"},
		Annotations: model.LabelSet{"summary": "no message passed"},
		StartsAt:    time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC),
	}
	if status == model.AlertResolved {
		a.EndsAt = a.StartsAt.Add(time.Minute)
	}
	return &notifiers.Notification{
		Receiver: "chat", DedupKey: dedup, Status: status,
		GroupLabels: model.LabelSet{"alertname": "ProbeFailing"}, CommonLabels: a.Labels,
		Alerts: []*model.Alert{a}, ExternalURL: "http://tocsin.example",
	}
}

func bot(t *testing.T) (*notifiertest.Server, *slack.Notifier) {
	t.Helper()
	fake := notifiertest.NewSlackAPI(token)
	t.Cleanup(fake.Close)
	n, err := slack.New(&configs.SlackConfig{Token: token, Channel: "#oncall", APIURL: configsSecret(fake.APIURL())}, notifiers.VendorOptions{})
	require.NoError(t, err)
	return fake, n
}

func TestBotUpdatesTheOriginalMessageOnResolve(t *testing.T) {
	fake, n := bot(t)
	// Each group's message is kept in its own vendor state, as the
	// notification log keeps it.
	ctx1 := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
	ctx2 := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
	_, err := n.Notify(ctx1, notification("k1", model.AlertFiring))
	require.NoError(t, err)
	_, err = n.Notify(ctx2, notification("k2", model.AlertFiring))
	require.NoError(t, err)
	_, err = n.Notify(ctx1, notification("k1", model.AlertResolved))
	require.NoError(t, err)

	reqs := fake.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, "/api/chat.postMessage", reqs[0].Path)
	require.Equal(t, "Bearer "+token, reqs[0].Header.Get("Authorization"))
	require.Equal(t, "/api/chat.update", reqs[2].Path)
	require.Equal(t, reqs[0].Page.Key, reqs[2].Page.Key, "the resolve updates the first group's message")
	require.Contains(t, reqs[2].Page.Title, "[RESOLVED]")
	var upd struct{ Channel, TS string }
	require.NoError(t, json.Unmarshal(reqs[2].Body, &upd))
	require.Equal(t, "C00000001", upd.Channel, "the update goes to the channel id Slack answered with")
	require.Empty(t, fake.Violations())

	// Without the kept state there is no message to update: it is posted.
	_, err = n.Notify(t.Context(), notification("k1", model.AlertResolved))
	require.NoError(t, err)
	require.Equal(t, "/api/chat.postMessage", fake.Requests()[3].Path)
}

func TestBotPostsWhenTheMessageIsGone(t *testing.T) {
	first := notifiertest.NewSlackAPI(token)
	defer first.Close()
	second := notifiertest.NewSlackAPI(token)
	defer second.Close()
	// The same API URL leads first to one fake, then to another that has
	// never seen the message, as if someone deleted it.
	target := first.URL()
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		u, _ := url.Parse(target)
		r.URL.Host = u.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
	n, err := slack.New(&configs.SlackConfig{Token: token, Channel: "#oncall", APIURL: configsSecret(first.APIURL())}, notifiers.VendorOptions{HTTPClient: client})
	require.NoError(t, err)
	ctx := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
	_, err = n.Notify(ctx, notification("k1", model.AlertFiring))
	require.NoError(t, err)
	target = second.URL()
	_, err = n.Notify(ctx, notification("k1", model.AlertResolved))
	require.NoError(t, err)
	require.Len(t, second.Violations(), 1)
	require.Contains(t, second.Violations()[0], "message_not_found")
	reqs := second.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/api/chat.postMessage", reqs[0].Path)
	require.Contains(t, reqs[0].Page.Title, "[RESOLVED]")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWebhookLayoutInBlockKit(t *testing.T) {
	fake := notifiertest.NewSlackWebhook()
	defer fake.Close()
	n, err := slack.New(&configs.SlackConfig{APIURL: configsSecret(fake.APIURL()), Username: "tocsin"}, notifiers.VendorOptions{})
	require.NoError(t, err)
	notif := notification("k", model.AlertFiring)
	for i := range 200 {
		notif.Alerts = append(notif.Alerts, &model.Alert{
			Labels:   model.LabelSet{"alertname": "ProbeFailing", "probe": model.LabelValue(strings.Repeat("p", 300) + string(rune('a'+i%26)))},
			StartsAt: notif.Alerts[0].StartsAt,
		})
	}
	_, err = n.Notify(t.Context(), notif)
	require.NoError(t, err)
	require.Empty(t, fake.Violations(), "a long text is split into sections within Slack's limits")
	var msg struct {
		Text     string `json:"text"`
		Username string `json:"username"`
		Blocks   []struct {
			Type string `json:"type"`
			Text *struct{ Type, Text string }
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &msg))
	require.Equal(t, "[FIRING:201] ProbeFailing", msg.Text)
	require.Equal(t, "tocsin", msg.Username)
	require.Equal(t, "header", msg.Blocks[0].Type)
	require.Equal(t, "section", msg.Blocks[1].Type)
	require.Equal(t, "mrkdwn", msg.Blocks[1].Text.Type)
	require.Equal(t, "context", msg.Blocks[len(msg.Blocks)-1].Type)
	require.Greater(t, len(msg.Blocks), 3)
}

func TestWebhookKeepsSlacksErrorCode(t *testing.T) {
	fake := notifiertest.NewSlackWebhook()
	defer fake.Close()
	// A URL the fake does not know answers no_service, as Slack does.
	n, err := slack.New(&configs.SlackConfig{APIURL: configsSecret(fake.URL() + "/services/T/B/wrong")}, notifiers.VendorOptions{})
	require.NoError(t, err)
	retry, err := n.Notify(t.Context(), notification("k", model.AlertFiring))
	require.False(t, retry)
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "no_service", ve.Reason)
	require.NotContains(t, err.Error(), "wrong")
}
