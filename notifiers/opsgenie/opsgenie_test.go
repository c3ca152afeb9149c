package opsgenie_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/opsgenie"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const apiKey = "genie-key"

func notification(alertname string, status model.AlertStatus) *notifiers.Notification {
	a := &model.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(alertname), "service": "broker"}, StartsAt: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)}
	if status == model.AlertResolved {
		a.EndsAt = a.StartsAt.Add(time.Minute)
	}
	return &notifiers.Notification{
		Receiver: "oncall", DedupKey: strings.Repeat("0f", 32), Status: status,
		GroupLabels: model.LabelSet{"alertname": model.LabelValue(alertname)}, CommonLabels: a.Labels, Alerts: []*model.Alert{a},
	}
}

func TestCreateThenCloseByAlias(t *testing.T) {
	fake := notifiertest.NewOpsgenie(apiKey)
	defer fake.Close()
	n, err := opsgenie.New(&configs.OpsgenieConfig{
		APIKey: apiKey, APIURL: fake.APIURL(), Priority: "P1", Tags: "tocsin, broker ,",
		Responders: []configs.OpsgenieResponder{{Name: "oncall", Type: "team"}},
	}, notifiers.VendorOptions{})
	require.NoError(t, err)

	long := strings.Repeat("VeryLongAlertName", 20)
	firing := notification(long, model.AlertFiring)
	_, err = n.Notify(t.Context(), firing)
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification(long, model.AlertResolved))
	require.NoError(t, err)
	require.Empty(t, fake.Violations())

	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "GenieKey "+apiKey, reqs[0].Header.Get("Authorization"))
	var create struct {
		Message, Alias, Priority, Source string
		Tags                             []string
		Details                          map[string]string
		Responders                       []map[string]string
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &create))
	require.Equal(t, firing.DedupKey, create.Alias)
	require.Equal(t, 130, utf8.RuneCountInString(create.Message), "the message is cut to Opsgenie's limit")
	require.Equal(t, "P1", create.Priority)
	require.Equal(t, []string{"tocsin", "broker"}, create.Tags)
	require.Equal(t, "broker", create.Details["service"])
	require.Equal(t, "team", create.Responders[0]["type"])

	require.Equal(t, "/v2/alerts/"+firing.DedupKey+"/close", reqs[1].Path)
	require.Equal(t, "alias", reqs[1].Query.Get("identifierType"))
	require.Equal(t, firing.DedupKey, reqs[1].Page.Key)
	require.True(t, reqs[1].Page.Resolved)
}

func TestWrongKeyIsPermanent(t *testing.T) {
	fake := notifiertest.NewOpsgenie(apiKey)
	defer fake.Close()
	n, err := opsgenie.New(&configs.OpsgenieConfig{APIKey: "wrong-key", APIURL: fake.APIURL()}, notifiers.VendorOptions{})
	require.NoError(t, err)
	retry, err := n.Notify(t.Context(), notification("X", model.AlertFiring))
	require.False(t, retry)
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 401, ve.StatusCode)
	require.Equal(t, "Could not authenticate", ve.Reason)
	require.NotContains(t, err.Error(), "wrong-key")
}

// TestAlertmanagersActionsNoteAndUpdateAlerts: actions and note go with
// the alert, and update_alerts sets the message and description of the
// open alert after creating it, as in Alertmanager.
func TestAlertmanagersActionsNoteAndUpdateAlerts(t *testing.T) {
	for _, update := range []bool{false, true} {
		t.Run(fmt.Sprintf("update_alerts=%v", update), func(t *testing.T) {
			fake := notifiertest.NewOpsgenie(apiKey)
			defer fake.Close()
			n, err := opsgenie.New(&configs.OpsgenieConfig{
				APIKey: apiKey, APIURL: fake.APIURL(), UpdateAlerts: update,
				Message: "{{ .CommonLabels.alertname }} down", Description: "{{ len .Alerts.Firing }} firing",
				Actions: "Restart {{ .CommonLabels.service }}, Ping, ", Note: "paged by {{ .Receiver }}",
			}, notifiers.VendorOptions{})
			require.NoError(t, err)
			firing := notification("BrokerDown", model.AlertFiring)
			_, err = n.Notify(t.Context(), firing)
			require.NoError(t, err)
			require.Empty(t, fake.Violations())

			reqs := fake.Requests()
			var create struct {
				Actions []string
				Note    string
			}
			require.NoError(t, json.Unmarshal(reqs[0].Body, &create))
			require.Equal(t, []string{"Restart broker", "Ping"}, create.Actions)
			require.Equal(t, "paged by oncall", create.Note)
			if !update {
				require.Len(t, reqs, 1)
				return
			}
			require.Len(t, reqs, 3)
			require.Equal(t, []string{"PUT", "/v2/alerts/" + firing.DedupKey + "/message"}, []string{reqs[1].Method, reqs[1].Path})
			require.Equal(t, "BrokerDown down", reqs[1].Page.Title)
			require.Equal(t, "/v2/alerts/"+firing.DedupKey+"/description", reqs[2].Path)
			require.Equal(t, "1 firing", reqs[2].Page.Text)
			require.Equal(t, "alias", reqs[2].Query.Get("identifierType"))
		})
	}
}
