package integrations_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Secrets every fake is set up with; none may show in an error or a log.
const (
	pdKey       = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
	slackToken  = "xoxb-secret-bot-token-4242"
	genieKey    = "genie-secret-0000-1111-2222"
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "twilio-secret-auth-token"
	smtpPass    = "smtp-secret-password"
)

// fake is one vendor's fake server with the receiver config that points at it.
type fake struct {
	name string
	// yaml is the receiver's integration section.
	yaml string
	// secrets that must never leak, besides the shared ones.
	secrets []string
	// reason is a piece of the vendor's own refusal, kept in the error.
	reason string
	// page reports the pages accepted; key tells whether it carries the dedup key.
	pages func() []notifiertest.Page
	key   bool
	// status is the status code of a refusal (Slack's Web API refuses with 200).
	status    int
	setMode   func(notifiertest.Mode)
	violation func() []string
	// noRetryAfter marks vendors without a Retry-After (SMTP).
	noRetryAfter bool
}

func fakes(t testing.TB) []fake {
	t.Helper()
	pd := notifiertest.NewPagerDuty(pdKey, notifiertest.WithRetryAfter("7"))
	sw := notifiertest.NewSlackWebhook(notifiertest.WithRetryAfter("7"))
	sa := notifiertest.NewSlackAPI(slackToken, notifiertest.WithRetryAfter("7"))
	og := notifiertest.NewOpsgenie(genieKey, notifiertest.WithRetryAfter("7"))
	wh := notifiertest.NewWebhook(notifiertest.WithRetryAfter("7"))
	mt := notifiertest.NewMSTeams(notifiertest.WithRetryAfter("7"))
	tw := notifiertest.NewTwilio(twilioSID, twilioToken, notifiertest.WithRetryAfter("7"))
	sm, err := notifiertest.NewSMTP(notifiertest.WithSMTPAuth("pager", smtpPass), notifiertest.WithSTARTTLS())
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, sm.CACert(), 0o600))
	for _, c := range []interface{ Close() }{pd, sw, sa, og, wh, mt, tw, sm} {
		t.Cleanup(c.Close)
	}
	secretPath := func(s *notifiertest.Server) string { return strings.TrimPrefix(s.APIURL(), s.URL()) }
	return []fake{
		{name: "pagerduty", yaml: fmt.Sprintf("pagerduty_configs: [{routing_key: %s, url: '%s'}]", pdKey, pd.APIURL()),
			reason: "Invalid routing key", pages: pd.Pages, key: true, status: 400, setMode: pd.SetMode, violation: pd.Violations},
		{name: "slack webhook", yaml: fmt.Sprintf("slack_configs: [{api_url: '%s'}]", sw.APIURL()), secrets: []string{secretPath(sw)},
			reason: "channel_not_found", pages: sw.Pages, status: 404, setMode: sw.SetMode, violation: sw.Violations},
		{name: "slack bot", yaml: fmt.Sprintf("slack_configs: [{token: %s, channel: '#oncall', api_url: '%s'}]", slackToken, sa.APIURL()),
			reason: "channel_not_found", pages: sa.Pages, status: 200, setMode: sa.SetMode, violation: sa.Violations},
		{name: "opsgenie", yaml: fmt.Sprintf("opsgenie_configs: [{api_key: %s, api_url: '%s'}]", genieKey, og.APIURL()),
			reason: "Team with name [oncall] does not exist", pages: og.Pages, key: true, status: 422, setMode: og.SetMode, violation: og.Violations},
		{name: "webhook", yaml: fmt.Sprintf("webhook_configs: [{url: '%s'}]", wh.APIURL()),
			reason: "receiver refused the payload", pages: wh.Pages, status: 400, setMode: wh.SetMode, violation: wh.Violations},
		{name: "msteams", yaml: fmt.Sprintf("msteams_configs: [{webhook_url: '%s'}]", mt.APIURL()), secrets: []string{secretPath(mt)},
			reason: "The workflow is turned off", pages: mt.Pages, status: 400, setMode: mt.SetMode, violation: mt.Violations},
		{name: "twilio", yaml: fmt.Sprintf("twilio_configs: [{account_sid: %s, auth_token: %s, from: '+15550000000', to: '+15551234567', api_url: '%s'}]", twilioSID, twilioToken, tw.APIURL()),
			reason: "21610: Attempt to send to unsubscribed recipient", pages: tw.Pages, status: 400, setMode: tw.SetMode, violation: tw.Violations},
		{name: "email", yaml: fmt.Sprintf("email_configs: [{to: oncall@example.com, from: tocsin@example.com, smarthost: '%s', auth_username: pager, auth_password: %s, tls_config: {ca_file: '%s'}}]", sm.Addr(), smtpPass, caFile),
			reason: "554 5.7.1 Message rejected", pages: func() []notifiertest.Page {
				var ps []notifiertest.Page
				for _, m := range sm.Messages() {
					ps = append(ps, notifiertest.Page{Vendor: "email", Title: m.Subject})
				}
				return ps
			}, status: 554, setMode: sm.SetMode, violation: sm.Violations, noRetryAfter: true},
	}
}

// receiver loads a config holding one receiver with the given integrations.
func receiver(t testing.TB, integration string, logs *bytes.Buffer) *notifiers.Receiver {
	t.Helper()
	yml := "global: {replica: test}\nroute: {receiver: r}\nreceivers:\n- name: r\n  " + integration + "\n"
	cfg, err := configs.Load("tocsin.yml", []byte(yml))
	require.NoError(t, err)
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{
		Logger:      slog.New(slog.NewTextHandler(syncWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug})),
		ExternalURL: "http://tocsin.example:9797",
	})
	require.NoError(t, err)
	require.Len(t, r.Integrations, 1)
	return r
}

// notification is a firing group of two alerts.
func notification(groupKey string, status model.AlertStatus) *notifiers.Notification {
	sum := sha256.Sum256([]byte(groupKey))
	start := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	alert := func(probe string) *model.Alert {
		a := &model.Alert{
			Labels:       model.LabelSet{"alertname": "ProbeFailing", "probe": model.LabelValue(probe), "severity": "critical", "service": "device-broker"},
			Annotations:  model.LabelSet{"summary": "messages no longer pass through the broker", "runbook_url": "https://runbooks.example/broker"},
			StartsAt:     start,
			GeneratorURL: "http://tocsin.example:9797/graph",
		}
		if status == model.AlertResolved {
			a.EndsAt = start.Add(10 * time.Minute)
		}
		return a
	}
	return &notifiers.Notification{
		Receiver: "r", GroupKey: groupKey, DedupKey: hex.EncodeToString(sum[:]), Status: status,
		GroupLabels:       model.LabelSet{"alertname": "ProbeFailing", "service": "device-broker"},
		CommonLabels:      model.LabelSet{"alertname": "ProbeFailing", "severity": "critical", "service": "device-broker"},
		CommonAnnotations: model.LabelSet{"runbook_url": "https://runbooks.example/broker"},
		Alerts:            []*model.Alert{alert("broker-roundtrip"), alert("broker-to-webhook")},
		ExternalURL:       "http://tocsin.example:9797",
	}
}

// TestEveryVendorEveryAnswer sends one notification through each
// integration for each kind of answer its fake vendor can give, and checks
// the retry decision, the vendor's reason and that no secret leaks.
func TestEveryVendorEveryAnswer(t *testing.T) {
	for _, f := range fakes(t) {
		t.Run(f.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := receiver(t, f.yaml, &logs)
			notifier := r.Integrations[0].Notifier
			n := notification(`{}:{alertname="ProbeFailing"}`, model.AlertFiring)
			var errs []error
			send := func(mode notifiertest.Mode, timeout time.Duration) (bool, error) {
				f.setMode(mode)
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				retry, err := notifier.Notify(ctx, n)
				errs = append(errs, err)
				return retry, err
			}

			retry, err := send(notifiertest.Accept, 10*time.Second)
			require.NoError(t, err)
			require.False(t, retry)
			pages := f.pages()
			require.Len(t, pages, 1)
			require.Contains(t, pages[0].Title, "ProbeFailing")
			if f.key {
				require.Equal(t, n.DedupKey, pages[0].Key, "the vendor's dedup key is the group's")
			}

			retry, err = send(notifiertest.Reject, 10*time.Second)
			var ve *notifiers.VendorError
			require.ErrorAs(t, err, &ve)
			require.False(t, retry, "a 4xx is permanent")
			require.Equal(t, f.status, ve.StatusCode)
			require.Contains(t, ve.Reason, f.reason, "the vendor's own reason is kept")

			retry, err = send(notifiertest.RateLimit, 10*time.Second)
			require.True(t, retry, "rate limited: %v", err)
			require.ErrorAs(t, err, &ve)
			if !f.noRetryAfter {
				require.Equal(t, http.StatusTooManyRequests, ve.StatusCode)
				require.Equal(t, 7*time.Second, ve.RetryAfter)
			}

			retry, err = send(notifiertest.Fail, 10*time.Second)
			require.Error(t, err)
			require.True(t, retry, "a 5xx is worth another attempt: %v", err)

			retry, err = send(notifiertest.Hang, 200*time.Millisecond)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.True(t, retry)

			retry, err = send(notifiertest.Reset, 10*time.Second)
			require.Error(t, err)
			require.True(t, retry, "a reset connection is worth another attempt: %v", err)

			require.Empty(t, f.violation(), "the integration keeps the vendor's contract")
			require.Len(t, f.pages(), 1, "only the accepted attempt was recorded")

			secrets := append([]string{pdKey, slackToken, genieKey, twilioToken, smtpPass}, f.secrets...)
			for _, err := range errs {
				if err == nil {
					continue
				}
				for _, s := range secrets {
					require.NotContains(t, err.Error(), s, "secret in error")
				}
			}
			for _, s := range secrets {
				require.NotContains(t, logs.String(), s, "secret in logs")
			}
		})
	}
}

// TestResolvedReachesEveryVendor checks the resolved form of each payload
// against the vendor's contract.
func TestResolvedReachesEveryVendor(t *testing.T) {
	for _, f := range fakes(t) {
		t.Run(f.name, func(t *testing.T) {
			r := receiver(t, f.yaml, &bytes.Buffer{})
			ctx := t.Context()
			firing := notification(`{}:{alertname="ProbeFailing"}`, model.AlertFiring)
			resolved := notification(`{}:{alertname="ProbeFailing"}`, model.AlertResolved)
			_, err := r.Integrations[0].Notifier.Notify(ctx, firing)
			require.NoError(t, err)
			_, err = r.Integrations[0].Notifier.Notify(ctx, resolved)
			require.NoError(t, err)
			require.Empty(t, f.violation())
			pages := f.pages()
			require.Len(t, pages, 2)
			if f.key {
				require.Equal(t, firing.DedupKey, pages[1].Key)
			}
		})
	}
}

func TestBuildKeepsTheOrderOfTheFile(t *testing.T) {
	yml := `
global: {replica: test}
route: {receiver: r}
receivers:
- name: r
  strategy: failover
  failover_after: 3s
  webhook_configs: [{url: 'http://127.0.0.1:1/b'}]
  opsgenie_configs: [{api_key: k}]
  pagerduty_configs: [{routing_key: ` + pdKey + `}]
  email_configs: [{to: a@example.com, from: b@example.com, smarthost: 'localhost:25'}]
  webhook_configs_are_not_merged: true
`
	_, err := configs.Load("tocsin.yml", []byte(yml))
	require.Error(t, err, "an unknown key is refused")

	yml = strings.Replace(yml, "  webhook_configs_are_not_merged: true\n", "", 1)
	cfg, err := configs.Load("tocsin.yml", []byte(yml))
	require.NoError(t, err)
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{})
	require.NoError(t, err)
	var names []string
	for _, i := range r.Integrations {
		names = append(names, i.Name)
	}
	require.Equal(t, []string{"webhook", "opsgenie", "pagerduty", "email"}, names)
	require.Equal(t, configs.StrategyFailover, r.Strategy)
	require.Equal(t, 3*time.Second, r.FailoverAfter)
	require.True(t, r.Integrations[0].SendResolved)
	require.False(t, r.Integrations[3].SendResolved, "email sends no resolved mail unless asked")
}

func TestAPIURLsDefaultToTheVendors(t *testing.T) {
	yml := `
global: {replica: test}
route: {receiver: r}
receivers:
- name: r
  pagerduty_configs: [{routing_key: ` + pdKey + `}]
  opsgenie_configs: [{api_key: k, region: eu}, {api_key: k}]
  twilio_configs: [{account_sid: ` + twilioSID + `, auth_token: t, from: '+15550000000', to: '+15551234567'}]
`
	cfg, err := configs.Load("tocsin.yml", []byte(yml))
	require.NoError(t, err)
	rc := cfg.Receivers[0]
	require.Equal(t, "https://events.pagerduty.com/v2/enqueue", rc.PagerDutyConfigs[0].URL)
	require.Equal(t, "https://api.eu.opsgenie.com/", rc.OpsgenieConfigs[0].OpsgenieBaseURL())
	require.Equal(t, "https://api.opsgenie.com/", rc.OpsgenieConfigs[1].OpsgenieBaseURL())
	require.Equal(t, "https://api.twilio.com", rc.TwilioConfigs[0].APIURL)
}

func TestNoSecretInTheErrorOfAnUnreachableVendor(t *testing.T) {
	// A webhook URL embeds its token; a failed dial must not print it.
	const token = "T0K3N-in-the-path"
	r := receiver(t, "slack_configs: [{api_url: 'http://127.0.0.1:1/services/"+token+"'}]", &bytes.Buffer{})
	retry, err := r.Integrations[0].Notifier.Notify(t.Context(), notification("g", model.AlertFiring))
	require.Error(t, err)
	require.True(t, retry)
	require.NotContains(t, err.Error(), token)
	require.False(t, errors.Is(err, context.Canceled))
}

// syncWriter makes a buffer safe for concurrent log writes.
func syncWriter(b *bytes.Buffer) *lockedWriter { return &lockedWriter{b: b} }

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestTimeoutBoundsEachCall: an integration's timeout ends a call to a
// vendor that never answers, as Alertmanager's timeout does, and the
// attempt is worth repeating.
func TestTimeoutBoundsEachCall(t *testing.T) {
	for _, f := range fakes(t) {
		t.Run(f.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := receiver(t, strings.Replace(f.yaml, "}]", ", timeout: 20ms}]", 1), &logs)
			f.setMode(notifiertest.Hang)
			defer f.setMode(notifiertest.Accept)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			retry, err := r.Integrations[0].Notifier.Notify(ctx, notification("g", model.AlertFiring))
			require.Error(t, err)
			require.True(t, retry)
			require.NoError(t, ctx.Err(), "the integration's own timeout ended the call, not the test's")
		})
	}
}
