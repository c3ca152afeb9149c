package slack_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
	"github.com/tocsin-alerting/tocsin/notifiers/slack"
)

// runDispatcher runs a dispatcher that posts to fake through a bot token,
// with its state in dir, until the returned function stops it.
func runDispatcher(t *testing.T, fake *notifiertest.Server, dir string) (*notifiers.Dispatcher, *prometheus.Registry, func()) {
	t.Helper()
	zero, second, hour := model.Duration(0), model.Duration(time.Second), model.Duration(time.Hour)
	route, err := notifiers.NewRoute(&configs.Route{Receiver: "chat", GroupBy: []model.LabelName{"alertname"}, GroupWait: &zero, GroupInterval: &second, RepeatInterval: &hour})
	require.NoError(t, err)
	n, err := slack.New(&configs.SlackConfig{Token: token, Channel: "#oncall", APIURL: configsSecret(fake.APIURL())}, notifiers.VendorOptions{})
	require.NoError(t, err)
	state, err := notifiers.OpenState(dir, 0)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{{Name: "chat", Strategy: configs.StrategyAll,
		Integrations: []notifiers.Integration{{Name: "slack", Notifier: n, SendResolved: true}}}}, notifiers.Options{State: state, Registerer: reg})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	return d, reg, func() {
		cancel()
		<-done
		require.NoError(t, state.Close())
	}
}

// The message a group was announced in is kept in the notification state,
// so the resolve after a restart updates it instead of posting anew.
func TestResolveAfterARestartUpdatesTheMessage(t *testing.T) {
	fake := notifiertest.NewSlackAPI(token)
	defer fake.Close()
	dir := t.TempDir()
	now := time.Now()
	a := &model.Alert{Labels: model.LabelSet{"alertname": "ProbeFailing", "probe": "broker"}, StartsAt: now, EndsAt: now.Add(time.Hour)}

	d, reg, stop := runDispatcher(t, fake, dir)
	d.Send(a)
	// Accepted counts once the message is on disk with its ts.
	require.Eventually(t, func() bool { return accepted(t, reg) == 1 }, 10*time.Second, 5*time.Millisecond)
	stop()

	d, _, stop = runDispatcher(t, fake, dir)
	defer stop()
	resolved := *a
	resolved.EndsAt = time.Now()
	d.Send(&resolved)
	require.Eventually(t, func() bool { return len(fake.Requests()) == 2 }, 10*time.Second, 5*time.Millisecond)
	reqs := fake.Requests()
	require.Equal(t, "/api/chat.postMessage", reqs[0].Path)
	require.Equal(t, "/api/chat.update", reqs[1].Path, "the restarted tocsin updates the message")
	require.Contains(t, reqs[1].Page.Title, "[RESOLVED]")
	require.Empty(t, fake.Violations())
}

// accepted sums tocsin_notifications_total{outcome="accepted"}.
func accepted(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "tocsin_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "accepted" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
