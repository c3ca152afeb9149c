package twilio_test

import (
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
	"github.com/tocsin-alerting/tocsin/notifiers/twilio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "auth-token"
)

func notification(summary string) *notifiers.Notification {
	a := &model.Alert{
		Labels:      model.LabelSet{"alertname": "ProbeFailing", "probe": "broker"},
		Annotations: model.LabelSet{"summary": model.LabelValue(summary), "runbook_url": "https://rb.example/b"},
		StartsAt:    time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC),
	}
	return &notifiers.Notification{Status: model.AlertFiring, GroupLabels: model.LabelSet{"alertname": "ProbeFailing"}, CommonLabels: a.Labels, Alerts: []*model.Alert{a}}
}

func TestSMSFitsItsLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		max  int
	}{
		{name: "default text is one segment", max: 160},
		{name: "own text up to Twilio's limit", text: `{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}`, max: 1600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := notifiertest.NewTwilio(sid, token)
			defer fake.Close()
			n, err := twilio.New(&configs.TwilioConfig{AccountSID: sid, AuthToken: token, From: "+15550000000", To: "+15551234567", APIURL: fake.APIURL(), Text: tc.text}, notifiers.VendorOptions{})
			require.NoError(t, err)
			_, err = n.Notify(t.Context(), notification(strings.Repeat("the broker relays nothing ", 100)))
			require.NoError(t, err)
			require.Empty(t, fake.Violations())
			req := fake.Requests()[0]
			body := req.Page.Title
			require.Equal(t, tc.max, utf8.RuneCountInString(body))
			require.True(t, strings.HasPrefix(body, "[FIRING:1] ProbeFailing") || tc.text != "")
			user, _, ok := basicAuth(req.Header.Get("Authorization"))
			require.True(t, ok)
			require.Equal(t, sid, user)
		})
	}
}

func TestShortDefaultText(t *testing.T) {
	fake := notifiertest.NewTwilio(sid, token)
	defer fake.Close()
	n, err := twilio.New(&configs.TwilioConfig{AccountSID: sid, AuthToken: token, From: "+15550000000", To: "+15551234567", APIURL: fake.APIURL()}, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, err = n.Notify(t.Context(), notification("no message passed"))
	require.NoError(t, err)
	require.Equal(t, "[FIRING:1] ProbeFailing: no message passed since 2026-11-26 05:00:00 UTC https://rb.example/b", fake.Pages()[0].Title)
}

func TestBadTokenIsPermanent(t *testing.T) {
	fake := notifiertest.NewTwilio(sid, token)
	defer fake.Close()
	n, err := twilio.New(&configs.TwilioConfig{AccountSID: sid, AuthToken: "other-token", From: "+15550000000", To: "+15551234567", APIURL: fake.APIURL()}, notifiers.VendorOptions{})
	require.NoError(t, err)
	retry, err := n.Notify(t.Context(), notification("x"))
	require.False(t, retry)
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "20003: Authenticate", ve.Reason)
	require.NotContains(t, err.Error(), "other-token")
}
