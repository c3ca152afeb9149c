package msteams_test

import (
	"encoding/json"
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
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: eu-1}
route: {receiver: teams}
receivers:
- name: teams
  msteamsv2_configs:
  - webhook_url: '`+fake.APIURL()+`'
    title: '{{ .CommonLabels.alertname }} is {{ .Status }}'
    send_resolved: false
`))
	require.NoError(t, err)
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
