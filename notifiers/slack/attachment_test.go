package slack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/slack"
)

// amSlackKeys is a slack_configs entry as Alertmanager users write it,
// with every attachment key.
const amSlackKeys = `
    channel: '#oncall'
    username: alertmanager
    icon_emoji: ':fire:'
    link_names: true
    send_resolved: true
    color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}'
    title_link: '{{ .ExternalURL }}/alerts'
    pretext: '{{ .CommonAnnotations.summary }}'
    text: '{{ range .Alerts }}{{ .Labels.probe }}{{ end }}'
    fallback: '{{ .CommonLabels.alertname }} is {{ .Status }}'
    footer: tocsin
    callback_id: '{{ .GroupLabels.alertname }}'
    image_url: 'https://grafana.example/render.png'
    thumb_url: 'https://grafana.example/thumb.png'
    mrkdwn_in: [text, pretext]
    short_fields: true
    fields:
    - {title: probe, value: '{{ .CommonLabels.probe }}'}
    - {title: runbook, value: 'https://runbooks.example/{{ .CommonLabels.alertname }}', short: false}
    actions:
    - type: button
      text: 'Runbook {{ .CommonLabels.alertname }}'
      url: 'https://runbooks.example/{{ .CommonLabels.alertname }}'
      style: primary
    - type: button
      text: Silence
      name: silence
      value: '{{ .GroupLabels.alertname }}'
      confirm: {text: 'Silence {{ .GroupLabels.alertname }}?', ok_text: 'Yes'}
`

func loadSlack(t *testing.T, connection string) *configs.SlackConfig {
	t.Helper()
	cfg, err := configs.Load("tocsin.yml", []byte(fmt.Sprintf(`global: {replica: eu-1}
route: {receiver: chat}
receivers:
- name: chat
  slack_configs:
  - %s%s`, connection, amSlackKeys)))
	require.NoError(t, err)
	return cfg.Receivers[0].SlackConfigs[0]
}

// TestAlertmanagersAttachmentKeysAreSent: a slack_configs written for
// Alertmanager is sent as Alertmanager sends it, one attachment, through
// an incoming webhook and with a bot token.
func TestAlertmanagersAttachmentKeysAreSent(t *testing.T) {
	webhook := notifiertest.NewSlackWebhook()
	defer webhook.Close()
	api := notifiertest.NewSlackAPI(token)
	defer api.Close()
	for _, tc := range []struct {
		name       string
		connection string
		fake       *notifiertest.Server
	}{
		{"incoming webhook", fmt.Sprintf("api_url: %q", webhook.APIURL()), webhook},
		{"bot", fmt.Sprintf("token: %q\n    api_url: %q", token, api.APIURL()), api},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := slack.New(loadSlack(t, tc.connection), notifiers.VendorOptions{})
			require.NoError(t, err)
			ctx := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
			_, err = n.Notify(ctx, notification("k", model.AlertFiring))
			require.NoError(t, err)
			_, err = n.Notify(ctx, notification("k", model.AlertResolved))
			require.NoError(t, err)
			require.Empty(t, tc.fake.Violations())
			reqs := tc.fake.Requests()
			firing, resolved := reqs[len(reqs)-2], reqs[len(reqs)-1]

			var msg map[string]any
			require.NoError(t, json.Unmarshal(firing.Body, &msg))
			require.Equal(t, "alertmanager", msg["username"])
			require.Equal(t, ":fire:", msg["icon_emoji"])
			require.Equal(t, true, msg["link_names"])
			require.NotContains(t, msg, "blocks", "an attachment, not Block Kit")
			require.NotContains(t, msg, "text", "no message_text, as in Alertmanager")
			att, err := json.Marshal(msg["attachments"])
			require.NoError(t, err)
			require.JSONEq(t, `[{
				"color": "danger",
				"title": "[FIRING] ProbeFailing",
				"title_link": "http://tocsin.example/alerts",
				"pretext": "no message passed",
				"text": "broker",
				"fallback": "ProbeFailing is firing",
				"footer": "tocsin",
				"callback_id": "ProbeFailing",
				"image_url": "https://grafana.example/render.png",
				"thumb_url": "https://grafana.example/thumb.png",
				"mrkdwn_in": ["text", "pretext"],
				"fields": [
					{"title": "probe", "value": "broker", "short": true},
					{"title": "runbook", "value": "https://runbooks.example/ProbeFailing", "short": false}],
				"actions": [
					{"type": "button", "text": "Runbook ProbeFailing", "url": "https://runbooks.example/ProbeFailing", "style": "primary", "name": ""},
					{"type": "button", "text": "Silence", "name": "silence", "value": "ProbeFailing", "confirm": {"text": "Silence ProbeFailing?", "ok_text": "Yes"}}]
			}]`, string(att))
			require.Equal(t, "[FIRING] ProbeFailing", firing.Page.Title)
			require.Contains(t, firing.Page.Text, "probe: broker")

			require.True(t, resolved.Page.Resolved)
			require.Contains(t, string(resolved.Body), `"color":"good"`)
		})
	}
}

func TestMessageTextGoesAboveTheAttachment(t *testing.T) {
	fake := notifiertest.NewSlackWebhook()
	defer fake.Close()
	n, err := slack.New(&configs.SlackConfig{APIURL: configsSecret(fake.APIURL()), Color: "warning", MessageText: "<!here> {{ .CommonLabels.alertname }}"}, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification("k", model.AlertFiring))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	var msg struct {
		Text        string
		Attachments []struct{ Title, Fallback, Color string }
	}
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &msg))
	require.Equal(t, "<!here> ProbeFailing", msg.Text)
	require.Equal(t, "[FIRING:1] ProbeFailing", msg.Attachments[0].Title, "tocsin's title by default")
	require.Equal(t, msg.Attachments[0].Title, msg.Attachments[0].Fallback, "the fallback is the title by default")
	require.Equal(t, "warning", msg.Attachments[0].Color)
}

// TestAlertmanagersAppTokenAndUpdateMessage: app_token and app_url are a
// bot token and chat.postMessage's URL; update_message edits the group's
// message on every later notification, and without it every notification
// is a new message, as in Alertmanager.
func TestAlertmanagersAppTokenAndUpdateMessage(t *testing.T) {
	for _, tc := range []struct {
		update string
		want   []string
	}{
		{"", []string{"chat.postMessage", "chat.postMessage", "chat.postMessage"}},
		{"update_message: true", []string{"chat.postMessage", "chat.update", "chat.update"}},
	} {
		t.Run(tc.update, func(t *testing.T) {
			fake := notifiertest.NewSlackAPI(token)
			defer fake.Close()
			cfg, err := configs.Load("tocsin.yml", []byte(fmt.Sprintf(`global: {replica: eu-1, slack_app_url: %q}
route: {receiver: chat}
receivers:
- name: chat
  slack_configs:
  - app_token: %s
    channel: '#oncall'
    send_resolved: true
    %s
`, fake.APIURL()+"chat.postMessage", token, tc.update)))
			require.NoError(t, err)
			n, err := slack.New(cfg.Receivers[0].SlackConfigs[0], notifiers.VendorOptions{})
			require.NoError(t, err)
			ctx := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
			for _, status := range []model.AlertStatus{model.AlertFiring, model.AlertFiring, model.AlertResolved} {
				_, err = n.Notify(ctx, notification("k", status))
				require.NoError(t, err)
			}
			require.Empty(t, fake.Violations())
			var got []string
			for _, r := range fake.Requests() {
				require.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
				got = append(got, strings.TrimPrefix(r.Path, "/api/"))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestAlertmanagersPostMessageURLIsABot: Alertmanager's way to post as a
// bot, api_url set to chat.postMessage with the token in http_config, is
// a bot: Slack's JSON refusal is an error, and update_message edits.
func TestAlertmanagersPostMessageURLIsABot(t *testing.T) {
	fake := notifiertest.NewSlackAPI(token)
	defer fake.Close()
	load := func(credentials string) *configs.SlackConfig {
		cfg, err := configs.Load("tocsin.yml", []byte(fmt.Sprintf(`global: {replica: eu-1}
route: {receiver: chat}
receivers:
- name: chat
  slack_configs:
  - api_url: %q
    http_config: {authorization: {credentials: %s}}
    channel: '#oncall'
    send_resolved: true
    update_message: true
`, fake.APIURL()+"chat.postMessage", credentials)))
		require.NoError(t, err)
		return cfg.Receivers[0].SlackConfigs[0]
	}
	n, err := slack.New(load(token), notifiers.VendorOptions{})
	require.NoError(t, err)
	ctx := notifiers.WithVendorState(t.Context(), new(notifiers.VendorState))
	for _, status := range []model.AlertStatus{model.AlertFiring, model.AlertResolved} {
		_, err = n.Notify(ctx, notification("k", status))
		require.NoError(t, err)
	}
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "/api/chat.postMessage", reqs[0].Path)
	require.Equal(t, "/api/chat.update", reqs[1].Path)
	require.Equal(t, "Bearer "+token, reqs[1].Header.Get("Authorization"), "http_config's authorization")

	wrong, err := slack.New(load("xoxb-wrong"), notifiers.VendorOptions{})
	require.NoError(t, err)
	retry, err := wrong.Notify(t.Context(), notification("k", model.AlertFiring))
	require.False(t, retry)
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve, "Slack's 200 with ok:false is no page sent")
	require.Equal(t, "chat.postMessage: invalid_auth", ve.Reason)
}

func TestAJSONRefusalToAWebhookPostIsAnError(t *testing.T) {
	fake := notifiertest.NewSlackAPI(token)
	defer fake.Close()
	// Another Web API URL in api_url: Slack answers 200 and ok:false.
	n, err := slack.New(&configs.SlackConfig{APIURL: configsSecret(fake.APIURL() + "chat.update"), Channel: "#oncall"}, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification("k", model.AlertFiring))
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "not_authed", ve.Reason)
}

// TestAnAttachmentPartThatRendersBadlyIsLeftOutNotThePage: a button whose
// URL comes from an annotation the alerts lack, an image URL that renders
// to no URL, or a template that fails on the real alerts, would make Slack
// refuse the message; those parts are left out and the page leaves.
func TestAnAttachmentPartThatRendersBadlyIsLeftOutNotThePage(t *testing.T) {
	fake := notifiertest.NewSlackWebhook()
	defer fake.Close()
	n, err := slack.New(&configs.SlackConfig{
		APIURL: configsSecret(fake.APIURL()), Color: "danger",
		ImageURL: "{{ .CommonAnnotations.nosuch }}graph.png",
		Footer:   `{{ (index .Alerts 1).Labels.alertname }}`, // the sample has two alerts, this group one
		Actions: []*configs.SlackAction{
			{Type: "button", Text: "Runbook", URL: "{{ .CommonAnnotations.runbook_link }}"},
			{Type: "button", Text: "Dashboard", URL: "https://grafana.example/d/{{ .CommonLabels.probe }}"},
		},
	}, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification("k", model.AlertFiring))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	var msg struct {
		Attachments []struct {
			ImageURL string `json:"image_url"`
			Footer   string
			Actions  []struct{ Text, URL string }
		}
	}
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &msg))
	att := msg.Attachments[0]
	require.Empty(t, att.ImageURL)
	require.Empty(t, att.Footer)
	require.Len(t, att.Actions, 1)
	require.Equal(t, "https://grafana.example/d/broker", att.Actions[0].URL)
}
