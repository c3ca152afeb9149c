package email_test

import (
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/email"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const password = "mail-s3cret"

func notification() *notifiers.Notification {
	a := &model.Alert{
		Labels:      model.LabelSet{"alertname": "ProbeFailing", "probe": "broker"},
		Annotations: model.LabelSet{"summary": "no <b>message</b> passed", "runbook_url": "https://rb.example/b"},
		StartsAt:    time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC),
	}
	return &notifiers.Notification{Receiver: "mail", Status: model.AlertFiring, GroupLabels: model.LabelSet{"alertname": "ProbeFailing"}, CommonLabels: a.Labels, Alerts: []*model.Alert{a}, ExternalURL: "http://tocsin.example"}
}

func newNotifier(t *testing.T, c *configs.EmailConfig) *email.Notifier {
	t.Helper()
	c.To, c.From = "oncall@example.com, sre@example.com", "tocsin@example.com"
	n, err := email.New(c, notifiers.VendorOptions{Now: func() time.Time { return time.Date(2026, 11, 26, 5, 1, 0, 0, time.UTC) }})
	require.NoError(t, err)
	return n
}

func TestMailOverSTARTTLSWithAuth(t *testing.T) {
	srv, err := notifiertest.NewSMTP(notifiertest.WithSTARTTLS(), notifiertest.WithSMTPAuth("pager", password))
	require.NoError(t, err)
	defer srv.Close()
	n := newNotifier(t, &configs.EmailConfig{
		Smarthost: srv.Addr(), AuthUsername: "pager", AuthPassword: password, RequireTLS: configs.TLSMandatory,
		TLSConfig: config.TLSConfig{CA: string(srv.CACert())},
		Headers:   map[string]string{"X-Tocsin-Receiver": "{{ .Receiver }}"},
	})
	_, err = n.Notify(t.Context(), notification())
	require.NoError(t, err)
	require.Empty(t, srv.Violations())
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.True(t, m.TLS)
	require.Equal(t, "pager", m.AuthUser)
	require.Equal(t, []string{"oncall@example.com", "sre@example.com"}, m.To)
	require.Equal(t, "[FIRING:1] ProbeFailing", m.Subject)
	require.Equal(t, "mail", m.Header.Get("X-Tocsin-Receiver"))
	require.Contains(t, m.Text, "runbook: https://rb.example/b")
	require.Contains(t, m.HTML, "no &lt;b&gt;message&lt;/b&gt; passed")
	require.Contains(t, m.HTML, `<a href="https://rb.example/b">runbook</a>`)
}

func TestTLSPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startTLS bool
		policy   configs.TLSPolicy
		wantTLS  bool
		refused  bool
	}{
		{name: "mandatory without STARTTLS is refused for good", policy: configs.TLSMandatory, refused: true},
		{name: "opportunistic without STARTTLS sends in clear", policy: configs.TLSOpportunistic},
		{name: "opportunistic with STARTTLS encrypts", startTLS: true, policy: configs.TLSOpportunistic, wantTLS: true},
		{name: "none never encrypts", startTLS: true, policy: configs.TLSNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []notifiertest.Option
			if tc.startTLS {
				opts = append(opts, notifiertest.WithSTARTTLS())
			}
			srv, err := notifiertest.NewSMTP(opts...)
			require.NoError(t, err)
			defer srv.Close()
			n := newNotifier(t, &configs.EmailConfig{Smarthost: srv.Addr(), RequireTLS: tc.policy, TLSConfig: config.TLSConfig{CA: string(srv.CACert())}})
			retry, err := n.Notify(t.Context(), notification())
			if tc.refused {
				require.Error(t, err)
				require.False(t, retry)
				require.Empty(t, srv.Messages())
				return
			}
			require.NoError(t, err)
			require.Len(t, srv.Messages(), 1)
			require.Equal(t, tc.wantTLS, srv.Messages()[0].TLS)
		})
	}
}

func TestWrongPasswordIsPermanentAndHidden(t *testing.T) {
	srv, err := notifiertest.NewSMTP(notifiertest.WithSMTPAuth("pager", password), notifiertest.WithSTARTTLS())
	require.NoError(t, err)
	defer srv.Close()
	n := newNotifier(t, &configs.EmailConfig{Smarthost: srv.Addr(), AuthUsername: "pager", AuthPassword: "wrong-s3cret", TLSConfig: config.TLSConfig{CA: string(srv.CACert())}})
	retry, err := n.Notify(t.Context(), notification())
	require.Error(t, err)
	require.False(t, retry, "%v", err)
	require.NotContains(t, err.Error(), "wrong-s3cret")
	var ve *notifiers.VendorError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 535, ve.StatusCode)
}

func TestNoPlainPasswordOverAClearConnection(t *testing.T) {
	srv, err := notifiertest.NewSMTP(notifiertest.WithSMTPAuth("pager", password))
	require.NoError(t, err)
	defer srv.Close()
	n := newNotifier(t, &configs.EmailConfig{Smarthost: srv.Addr(), AuthUsername: "pager", AuthPassword: password, RequireTLS: configs.TLSNone})
	retry, err := n.Notify(t.Context(), notification())
	require.Error(t, err)
	require.False(t, retry)
	require.Contains(t, err.Error(), "plain passwords need TLS")
	require.Empty(t, srv.Messages())
}

// TestAlertmanagersAuthAndTLSKeys: auth_secret authenticates with
// CRAM-MD5, auth_identity is PLAIN's identity, and force_implicit_tls
// speaks TLS from the start on any port, as in Alertmanager.
func TestAlertmanagersAuthAndTLSKeys(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name           string
		server         []notifiertest.Option
		conf           configs.EmailConfig
		mech, identity string
		overTLS        bool
	}{
		{"auth_secret is CRAM-MD5, even in clear", []notifiertest.Option{notifiertest.WithCRAMMD5("pager", "cram-secret")},
			configs.EmailConfig{AuthUsername: "pager", AuthSecret: "cram-secret", RequireTLS: configs.TLSNone}, "CRAM-MD5", "", false},
		{"auth_identity is PLAIN's identity", []notifiertest.Option{notifiertest.WithSTARTTLS(), notifiertest.WithSMTPAuth("pager", password)},
			configs.EmailConfig{AuthUsername: "pager", AuthPassword: password, AuthIdentity: "team-x"}, "PLAIN", "team-x", true},
		{"force_implicit_tls on a port other than 465", []notifiertest.Option{notifiertest.WithImplicitTLS(), notifiertest.WithSMTPAuth("pager", password)},
			configs.EmailConfig{AuthUsername: "pager", AuthPassword: password, ForceImplicitTLS: &yes}, "PLAIN", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := notifiertest.NewSMTP(tc.server...)
			require.NoError(t, err)
			defer srv.Close()
			c := tc.conf
			c.Smarthost, c.TLSConfig = srv.Addr(), config.TLSConfig{CA: string(srv.CACert())}
			if c.RequireTLS == "" {
				c.RequireTLS = configs.TLSMandatory
			}
			_, err = newNotifier(t, &c).Notify(t.Context(), notification())
			require.NoError(t, err)
			require.Empty(t, srv.Violations())
			m := srv.Messages()[0]
			require.Equal(t, "pager", m.AuthUser)
			require.Equal(t, tc.mech, m.AuthMechanism)
			require.Equal(t, tc.identity, m.AuthIdentity)
			require.Equal(t, tc.overTLS, m.TLS)
		})
	}
}

// TestThreadingAsInAlertmanager: with threading, a group's mails refer to
// one made-up root message, a new one each day unless thread_by_date is
// none, so that mail clients show them as one thread.
func TestThreadingAsInAlertmanager(t *testing.T) {
	for _, tc := range []struct{ by, want string }{
		{"", "<alert-0123456789abcdef-2026-11-26@alertmanager>"},
		{"none", "<alert-0123456789abcdef-@alertmanager>"},
	} {
		t.Run("thread_by_date="+tc.by, func(t *testing.T) {
			srv, err := notifiertest.NewSMTP()
			require.NoError(t, err)
			defer srv.Close()
			n := newNotifier(t, &configs.EmailConfig{Smarthost: srv.Addr(), RequireTLS: configs.TLSNone,
				Threading: configs.EmailThreading{Enabled: true, ThreadByDate: tc.by}})
			notif := notification()
			notif.DedupKey = "0123456789abcdef0123456789abcdef"
			for range 2 {
				_, err = n.Notify(t.Context(), notif)
				require.NoError(t, err)
			}
			require.Empty(t, srv.Violations())
			for _, m := range srv.Messages() {
				require.Equal(t, tc.want, m.Header.Get("References"))
				require.Equal(t, tc.want, m.Header.Get("In-Reply-To"))
			}
		})
	}
}
