package slack_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/slack"
)

func TestAReceiverWrittenForAlertmanagerPages(t *testing.T) {
	fake := notifiertest.NewSlackWebhook()
	defer fake.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "team.tmpl")
	require.NoError(t, os.WriteFile(file, []byte(`{{ define "slack.team.text" }}{{ range .Alerts }}*{{ .Labels.alertname }}*: {{ .Annotations.summary }}{{ end }}{{ end }}`), 0o600))
	ts, err := notifiers.NewTemplates([]string{file}, nil)
	require.NoError(t, err)
	n, err := slack.New(&configs.SlackConfig{
		APIURL: configsSecret(fake.APIURL()),
		Title:  `{{ template "slack.default.title" . }}`,
		Text:   `{{ template "slack.team.text" . }}`,
	}, notifiers.VendorOptions{Templates: ts})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification("k", model.AlertFiring))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text *struct{ Text string }
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(fake.Requests()[0].Body, &msg))
	require.Equal(t, "[FIRING:1] ProbeFailing (broker)", msg.Text)
	require.Equal(t, "*ProbeFailing*: no message passed", msg.Blocks[1].Text.Text)
}
