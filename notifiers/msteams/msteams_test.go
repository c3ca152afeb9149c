package msteams_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/msteams"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAdaptiveCard(t *testing.T) {
	fake := notifiertest.NewMSTeams()
	defer fake.Close()
	n, err := msteams.New(&configs.MSTeamsConfig{WebhookURL: config.Secret(fake.APIURL()), Title: `{{ template "tocsin.title" . }} on {{ .CommonLabels.replica }}`}, notifiers.VendorOptions{})
	require.NoError(t, err)
	a := &model.Alert{
		Labels:   model.LabelSet{"alertname": "ProbeFailing", "replica": "eu-1", "probe": "broker"},
		StartsAt: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), GeneratorURL: "http://tocsin.example/probes/broker",
	}
	notif := &notifiers.Notification{
		Receiver: "teams", Status: model.AlertFiring, GroupLabels: model.LabelSet{"alertname": "ProbeFailing"}, CommonLabels: a.Labels,
		CommonAnnotations: model.LabelSet{"runbook_url": "https://runbooks.example"}, Alerts: []*model.Alert{a}, ExternalURL: "http://tocsin.example",
	}
	_, err = n.Notify(t.Context(), notif)
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	pages := fake.Pages()
	require.Len(t, pages, 1)
	require.Equal(t, "[FIRING:1] ProbeFailing on eu-1", pages[0].Title)

	var msg msteams.Message
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &msg))
	card := msg.Attachments[0].Content
	require.Equal(t, "AdaptiveCard", card.Type)
	require.Equal(t, "attention", card.Body[0].Color)
	require.Equal(t, "FactSet", card.Body[2].Type)
	require.Equal(t, []msteams.Action{
		{Type: "Action.OpenUrl", Title: "Open tocsin", URL: "http://tocsin.example"},
		{Type: "Action.OpenUrl", Title: "Open probe broker", URL: "http://tocsin.example/probes/broker"},
		{Type: "Action.OpenUrl", Title: "Runbook", URL: "https://runbooks.example"},
	}, card.Actions)
}

func TestMissingSignatureIsPermanentAndHidden(t *testing.T) {
	fake := notifiertest.NewMSTeams()
	defer fake.Close()
	n, err := msteams.New(&configs.MSTeamsConfig{WebhookURL: config.Secret(fake.URL() + "/workflows/x/triggers/manual/paths/invoke?sig=forged-sig")}, notifiers.VendorOptions{})
	require.NoError(t, err)
	retry, err := n.Notify(t.Context(), &notifiers.Notification{Status: model.AlertFiring, Alerts: []*model.Alert{{Labels: model.LabelSet{"alertname": "A"}}}})
	require.False(t, retry)
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "WorkflowNotFound: The workflow could not be found.", ve.Reason)
	require.NotContains(t, err.Error(), "forged-sig")
}

// TestAlertmanagersMSTeamsV2ConfigsPage: Alertmanager's msteamsv2_configs,
// pasted unchanged, is tocsin's msteams_configs and pages the workflow.
func TestAlertmanagersMSTeamsV2ConfigsPage(t *testing.T) {
	fake := notifiertest.NewMSTeams()
	defer fake.Close()
	cfg := loadTeams(t, `  msteamsv2_configs:
  - webhook_url: '`+fake.APIURL()+`'
    title: '{{ .CommonLabels.alertname }} is {{ .Status }}'
    send_resolved: false
`)
	require.Len(t, cfg.Receivers[0].MSTeamsConfigs, 1)
	c := cfg.Receivers[0].MSTeamsConfigs[0]
	require.False(t, c.SendsResolved())
	n, err := msteams.New(c, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), &notifiers.Notification{Receiver: "teams", Status: model.AlertFiring,
		CommonLabels: model.LabelSet{"alertname": "ProbeFailing"}, Alerts: []*model.Alert{{Labels: model.LabelSet{"alertname": "ProbeFailing"}}}})
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	require.Equal(t, "ProbeFailing is firing", fake.Pages()[0].Title)
}

// TestAlertmanagersMSTeamsConfigsPostAMessageCard: Alertmanager's
// msteams_configs, pasted unchanged with an Office 365 connector URL,
// posts the MessageCard Alertmanager posts, and check config warns that
// Microsoft has retired connectors, at the URL's line.
func TestAlertmanagersMSTeamsConfigsPostAMessageCard(t *testing.T) {
	fake := notifiertest.NewMSTeamsConnector()
	defer fake.Close()
	cfg := loadTeams(t, `  msteams_configs:
  - webhook_url: '`+fake.APIURL()+`'
    title: '{{ .CommonLabels.alertname }} is {{ .Status }}'
    summary: '{{ .CommonLabels.alertname }}'
    text: '{{ range .Alerts }}{{ .Labels.probe }}
      {{ end }}'
`)
	require.Len(t, cfg.Warnings(), 1)
	require.Contains(t, cfg.Warnings()[0].Error(), "tocsin.yml:6:18: warning: webhook_url is an Office 365 connector")
	require.NotContains(t, cfg.Warnings()[0].Error(), fake.APIURL())
	n, err := msteams.New(cfg.Receivers[0].MSTeamsConfigs[0], notifiers.VendorOptions{})
	require.NoError(t, err)
	labels := model.LabelSet{"alertname": "ProbeFailing", "probe": "broker"}
	for _, status := range []model.AlertStatus{model.AlertFiring, model.AlertResolved} {
		retry, err := n.Notify(t.Context(), &notifiers.Notification{Receiver: "teams", Status: status, CommonLabels: labels,
			Alerts: []*model.Alert{{Labels: labels, StartsAt: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)}}})
		require.NoError(t, err)
		require.False(t, retry)
	}
	require.Empty(t, fake.Violations())
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	firing, err := notifiertest.DecodeConnectorCard(reqs[0].Body)
	require.NoError(t, err)
	require.Equal(t, notifiertest.ConnectorCard{Type: "MessageCard", Context: "http://schema.org/extensions", ThemeColor: "8C1A1A",
		Title: "ProbeFailing is firing", Summary: "ProbeFailing", Text: "broker"}, *firing)
	resolved, err := notifiertest.DecodeConnectorCard(reqs[1].Body)
	require.NoError(t, err)
	require.Equal(t, "2DC72D", resolved.ThemeColor)
	require.True(t, fake.Pages()[1].Resolved)
}

// TestConnectorAnswers: a connector's 200 without "1" is a failure,
// retried as the status it names would be; its 429 and 5xx are retried.
func TestConnectorAnswers(t *testing.T) {
	notif := &notifiers.Notification{Status: model.AlertFiring, Alerts: []*model.Alert{{Labels: model.LabelSet{"alertname": "A"}}}}
	for name, c := range map[string]struct {
		title  string
		mode   notifiertest.Mode
		retry  bool
		reason string
	}{
		"card too large":  {title: strings.Repeat("x", 30000), retry: false, reason: "HTTP 200: Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413"},
		"rate limited":    {mode: notifiertest.RateLimit, retry: true, reason: "HTTP 429: Microsoft Teams endpoint returned HTTP error 429"},
		"server error":    {mode: notifiertest.Fail, retry: true, reason: "HTTP 500:"},
		"removed webhook": {mode: notifiertest.Reject, retry: false, reason: "HTTP 400: Bad payload"},
	} {
		t.Run(name, func(t *testing.T) {
			fake := notifiertest.NewMSTeamsConnector(notifiertest.WithMode(c.mode))
			defer fake.Close()
			n, err := msteams.New(&configs.MSTeamsConfig{WebhookURL: config.Secret(fake.APIURL()), Title: c.title}, notifiers.VendorOptions{})
			require.NoError(t, err)
			retry, err := n.Notify(t.Context(), notif)
			require.Equal(t, c.retry, retry)
			require.ErrorContains(t, err, "msteams: "+c.reason)
			require.NotContains(t, err.Error(), fake.APIURL())
			require.Empty(t, fake.Requests())
		})
	}
}

// TestTheURLChoosesTheCard: msteams_configs posts an Adaptive Card to a
// Workflows URL and warns that summary shows nowhere there;
// msteamsv2_configs posts an Adaptive Card whatever the URL.
func TestTheURLChoosesTheCard(t *testing.T) {
	flow := notifiertest.NewMSTeams()
	defer flow.Close()
	connector := notifiertest.NewMSTeamsConnector()
	defer connector.Close()
	cfg := loadTeams(t, `  msteams_configs:
  - webhook_url: '`+flow.APIURL()+`'
    summary: not shown
  msteamsv2_configs:
  - webhook_url: '`+connector.APIURL()+`'
`)
	warnings := cfg.Warnings().Error()
	require.Contains(t, warnings, "tocsin.yml:7:14: warning: summary is shown only by the MessageCard")
	require.Contains(t, warnings, "tocsin.yml:9:18: warning: webhook_url is an Office 365 connector")
	notif := &notifiers.Notification{Status: model.AlertFiring, Alerts: []*model.Alert{{Labels: model.LabelSet{"alertname": "A"}}}}
	for _, c := range cfg.Receivers[0].MSTeamsConfigs {
		n, err := msteams.New(c, notifiers.VendorOptions{})
		require.NoError(t, err)
		_, _ = n.Notify(t.Context(), notif)
	}
	require.Len(t, flow.Requests(), 1)
	require.Empty(t, flow.Violations())
	require.Equal(t, []string{"POST " + strings.TrimPrefix(connector.APIURL(), connector.URL()) + ": 400 The card has no @type."}, connector.Violations())
}

// loadTeams loads a config whose one receiver, teams, has the given
// integrations, from line 5 on.
func loadTeams(t *testing.T, integrations string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load("tocsin.yml", []byte("global: {replica: eu-1}\nroute: {receiver: teams}\nreceivers:\n- name: teams\n"+integrations))
	require.NoError(t, err)
	return cfg
}
