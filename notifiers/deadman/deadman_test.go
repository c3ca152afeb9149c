package deadman_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/deadman"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ogKey = "00000000-0000-4000-8000-0000000000aa"

// load builds the notifier of one deadman_configs entry, written as in
// tocsin.yml, through the config loader.
func load(t *testing.T, entry string) *deadman.Notifier {
	t.Helper()
	cfg, err := configs.Load("tocsin.yml", []byte("global: {replica: test}\nroute: {receiver: deadman}\nreceivers:\n- name: deadman\n  deadman_configs:\n  - "+entry+"\n"))
	require.NoError(t, err)
	n, err := deadman.New(cfg.Receivers[0].DeadmanConfigs[0], notifiers.VendorOptions{ExternalURL: "http://tocsin.example"})
	require.NoError(t, err)
	return n
}

func watchdog() *notifiers.Notification {
	a := &model.Alert{Labels: model.LabelSet{"alertname": "Watchdog"}, StartsAt: time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)}
	return &notifiers.Notification{Receiver: "deadman", Status: model.AlertFiring, Alerts: []*model.Alert{a}}
}

func TestPingsEachKind(t *testing.T) {
	og := notifiertest.NewOpsgenieHeartbeat(ogKey, "tocsin prod")
	defer og.Close()
	hc := notifiertest.NewPingURL()
	defer hc.Close()
	hook := notifiertest.NewHTTPPing(http.MethodPut, notifiertest.WithAuthorization("Bearer s3cret"))
	defer hook.Close()

	for _, tc := range []struct {
		name       string
		fake       *notifiertest.Server
		entry      string
		wantMethod string
		wantBody   string
	}{
		{"opsgenie heartbeat", og, fmt.Sprintf("opsgenie: {name: 'tocsin prod', api_key: %q, api_url: %q}", ogKey, og.APIURL()), http.MethodGet, ""},
		{"ping url, GET by default", hc, fmt.Sprintf("ping: {url: %q}", hc.APIURL()), http.MethodGet, ""},
		{"ping url, HEAD", hc, fmt.Sprintf("ping: {url: %q, method: head}", hc.APIURL()), http.MethodHead, ""},
		{"ping url, POST says who pings", hc, fmt.Sprintf("ping: {url: %q, method: POST}", hc.APIURL()), http.MethodPost, "tocsin: the alerting pipeline works end to end (http://tocsin.example)"},
		{"generic http", hook, fmt.Sprintf("http: {url: %q, method: PUT, headers: {Authorization: 'Bearer s3cret'}, body: alive}", hook.APIURL()), http.MethodPut, "alive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.fake.Requests())
			n := load(t, tc.entry)
			retry, err := n.Notify(t.Context(), watchdog())
			require.NoError(t, err)
			require.False(t, retry)
			require.Empty(t, tc.fake.Violations())
			reqs := tc.fake.Requests()
			require.Len(t, reqs, before+1)
			got := reqs[before]
			require.Equal(t, tc.wantMethod, got.Method)
			require.Equal(t, tc.wantBody, string(got.Body))
			require.Equal(t, "ping", got.Page.Action)
		})
	}
	require.Equal(t, "tocsin prod", og.Pages()[0].Key)
}

// TestResolvedNeverPings: the Watchdog alert resolves only when the rules
// stopped saying it; the vendor must then hear nothing, so that it pages.
func TestResolvedNeverPings(t *testing.T) {
	hc := notifiertest.NewPingURL()
	defer hc.Close()
	n := load(t, fmt.Sprintf("ping: {url: %q}", hc.APIURL()))
	notif := watchdog()
	notif.Status = model.AlertResolved
	notif.Alerts[0].EndsAt = notif.Alerts[0].StartsAt.Add(time.Minute)
	_, err := n.Notify(t.Context(), notif)
	require.NoError(t, err)
	require.Zero(t, hc.Attempts())
}

// TestVendorAnswers covers each class of answer: permanent refusals keep
// the vendor's reason, 429 and 5xx retry, and no error shows a secret.
func TestVendorAnswers(t *testing.T) {
	og := notifiertest.NewOpsgenieHeartbeat(ogKey, "tocsin")
	defer og.Close()
	hc := notifiertest.NewPingURL()
	defer hc.Close()
	for _, tc := range []struct {
		name       string
		fake       *notifiertest.Server
		mode       notifiertest.Mode
		entry      string
		wantRetry  bool
		wantReason string
		secret     string
	}{
		{"wrong opsgenie key", og, notifiertest.Accept, fmt.Sprintf("opsgenie: {name: tocsin, api_key: wrong-key, api_url: %q}", og.APIURL()), false, "Could not authenticate", "wrong-key"},
		{"unknown heartbeat", og, notifiertest.Accept, fmt.Sprintf("opsgenie: {name: other, api_key: %q, api_url: %q}", ogKey, og.APIURL()), false, "Heartbeat with name [other] does not exist", ogKey},
		{"opsgenie rate limit", og, notifiertest.RateLimit, fmt.Sprintf("opsgenie: {name: tocsin, api_key: %q, api_url: %q}", ogKey, og.APIURL()), true, "too many requests", ogKey},
		{"unknown ping URL", hc, notifiertest.Accept, fmt.Sprintf("ping: {url: %q}", hc.URL()+"/ping/not-the-token"), false, "not found", "not-the-token"},
		{"ping URL down", hc, notifiertest.Fail, fmt.Sprintf("ping: {url: %q}", hc.APIURL()), true, "internal server error", hc.APIURL()},
		{"ping URL resets", hc, notifiertest.Reset, fmt.Sprintf("ping: {url: %q}", hc.APIURL()), true, "", hc.APIURL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fake.SetMode(tc.mode)
			defer tc.fake.SetMode(notifiertest.Accept)
			retry, err := load(t, tc.entry).Notify(t.Context(), watchdog())
			require.Error(t, err)
			require.Equal(t, tc.wantRetry, retry)
			require.NotContains(t, err.Error(), tc.secret)
			if tc.wantReason != "" {
				var ve *notifiers.VendorError
				require.ErrorAs(t, err, &ve)
				require.Contains(t, strings.ToLower(ve.Reason), strings.ToLower(tc.wantReason))
			}
		})
	}
}

// TestHangingVendorRetries: a ping that gets no answer ends with the
// attempt's deadline and is worth another try.
func TestHangingVendorRetries(t *testing.T) {
	hc := notifiertest.NewPingURL(notifiertest.WithMode(notifiertest.Hang))
	defer hc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	retry, err := load(t, fmt.Sprintf("ping: {url: %q}", hc.APIURL())).Notify(ctx, watchdog())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, retry)
	require.NotContains(t, err.Error(), hc.APIURL())
}
