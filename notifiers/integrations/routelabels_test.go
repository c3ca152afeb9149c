package integrations_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	amalert "github.com/prometheus/alertmanager/alert"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	amnotify "github.com/prometheus/alertmanager/notify"
	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/notifiers/notifiertest"
)

// routeLabelsRoute has labels on the top-level route and on a child: one
// rendered from the group's common labels, others from other route labels
// with routeLabels, and one the child overrides.
const routeLabelsRoute = `route:
  receiver: chat
  group_by: [alertname]
  group_wait: 0s
  group_interval: 50ms
  labels:
    team: '{{ .CommonLabels.service }}-team'
    owner: 'owner of {{ routeLabels "team" }}'
  routes:
  - matchers: ['severity="critical"']
    labels:
      team: '{{ .CommonLabels.service }}-oncall'
      tier: '{{ routeLabels "owner" }}, tier 1'
`

// TestRouteLabelsAndReasonReachTheMessage sends a group down a route with
// labels to a Slack webhook whose title shows them and the notification
// reason: the first notification and the resolve each say why they left,
// and the labels are rendered against the group's alerts.
func TestRouteLabelsAndReasonReachTheMessage(t *testing.T) {
	pages := make(chan notifiertest.Page, 10)
	slack := notifiertest.NewSlackWebhook(notifiertest.OnPage(func(p notifiertest.Page) { pages <- p }))
	t.Cleanup(slack.Close)
	yml := "global: {replica: test}\n" + routeLabelsRoute + fmt.Sprintf(`receivers:
- name: chat
  slack_configs:
  - api_url: '%s'
    send_resolved: true
    title: '{{ .NotificationReason }}: team={{ .RouteLabels.team }} owner={{ routeLabels "owner" }} tier={{ routeLabels "tier" }}'
`, slack.APIURL())
	cfg, err := configs.Load("tocsin.yml", []byte(yml))
	require.NoError(t, err)
	require.Empty(t, notifiers.CheckTemplates(cfg))
	route, err := notifiers.NewRouteFromConfig(cfg)
	require.NoError(t, err)
	ts, err := notifiers.TemplatesFromConfig(cfg, nil)
	require.NoError(t, err)
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{ExternalURL: "http://tocsin.example:9797", Templates: ts})
	require.NoError(t, err)
	// The delivery's budget is not the short group_interval, so that a
	// slow machine does not cut the call to the fake short.
	d := runDispatcher(t, route, r, notifiers.Options{MaxDeliveryTime: time.Minute})

	labels := model.LabelSet{"alertname": "BrokerDown", "service": "broker", "severity": "critical"}
	start := time.Now()
	d.Send(&model.Alert{Labels: labels, StartsAt: start, EndsAt: start.Add(time.Hour)})
	page := nextPage(t, pages)
	const rendered = "team=broker-oncall owner=owner of broker-oncall tier=owner of broker-oncall, tier 1"
	require.Equal(t, "first notification: "+rendered, page.Title)

	d.Send(&model.Alert{Labels: labels, StartsAt: start, EndsAt: time.Now().Add(-time.Millisecond)})
	page = nextPage(t, pages)
	require.Equal(t, "all alerts resolved: "+rendered, page.Title)
	require.Empty(t, slack.Violations())

	// The group in the API shows the labels rendered as the message did.
	require.Eventually(t, func() bool { return len(d.AlertGroups()) == 0 }, 10*time.Second, 10*time.Millisecond, "the resolved group leaves")
	d.Send(&model.Alert{Labels: labels, StartsAt: start, EndsAt: time.Now().Add(time.Hour)})
	groups := d.AlertGroups()
	require.Len(t, groups, 1)
	require.Equal(t, model.LabelSet{"team": "broker-oncall", "owner": "owner of broker-oncall", "tier": "owner of broker-oncall, tier 1"}, groups[0].RouteLabels)
}

// runDispatcher runs a dispatcher until the test ends.
func runDispatcher(t *testing.T, route *notifiers.Route, r *notifiers.Receiver, opts notifiers.Options) *notifiers.Dispatcher {
	t.Helper()
	d, err := notifiers.NewDispatcher(route, []*notifiers.Receiver{r}, opts)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(t.Context())
	}()
	t.Cleanup(func() { <-done })
	return d
}

func nextPage(t *testing.T, pages <-chan notifiertest.Page) notifiertest.Page {
	t.Helper()
	select {
	case p := <-pages:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no page arrived")
		return notifiertest.Page{}
	}
}

// TestRouteLabelsAsAlertmanagerRendersThem loads the same route into
// Alertmanager's config and dispatch packages and renders its labels as
// Alertmanager's dispatcher does: the labels each route ends up with, and
// their values, are tocsin's.
func TestRouteLabelsAsAlertmanagerRendersThem(t *testing.T) {
	amCfg, err := amconfig.Load(routeLabelsRoute + "receivers: [{name: chat}]\n")
	require.NoError(t, err)
	amRoute := dispatch.NewRoute(amCfg.Route, nil)
	cfg, err := configs.Load("tocsin.yml", []byte("global: {replica: test}\n"+routeLabelsRoute+"receivers: [{name: chat}]\n"))
	require.NoError(t, err)
	route, err := notifiers.NewRouteFromConfig(cfg)
	require.NoError(t, err)

	tmpl, err := amtemplate.FromGlobs(nil)
	require.NoError(t, err)
	tmpl.ExternalURL, _ = url.Parse("http://tocsin.example:9797")
	for _, labels := range []model.LabelSet{
		{"alertname": "BrokerDown", "service": "broker", "severity": "critical"},
		{"alertname": "BrokerSlow", "service": "broker", "severity": "warning"},
	} {
		t.Run(string(labels["alertname"]), func(t *testing.T) {
			am := amRoute.Match(labels)
			ours := route.Match(labels)
			require.Len(t, ours, len(am))
			require.Equal(t, am[0].RouteOpts.Labels, ours[0].Labels, "merged, unrendered")

			alert := &amalert.Alert{Alert: model.Alert{Labels: labels, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)}}
			data := tmpl.Data("chat", model.LabelSet{"alertname": labels["alertname"]}, am[0].RouteOpts.Labels, amnotify.ReasonUnknown.String(), alert)
			render := tmpl.RouteLabelRenderer(data)
			want := model.LabelSet{}
			for name := range am[0].RouteOpts.Labels {
				v, err := render(string(name))
				require.NoError(t, err)
				want[name] = model.LabelValue(v)
			}
			got := routeLabelsOf(t, route, labels)
			require.Equal(t, want, got)
		})
	}
}

// routeLabelsOf sends one alert through a dispatcher on route and returns
// the rendered route labels of its group, as the API shows them.
func routeLabelsOf(t *testing.T, route *notifiers.Route, labels model.LabelSet) model.LabelSet {
	t.Helper()
	d := runDispatcher(t, route, &notifiers.Receiver{Name: "chat", Strategy: configs.StrategyAll}, notifiers.Options{})
	d.Send(&model.Alert{Labels: labels, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)})
	groups := d.AlertGroups()
	require.Len(t, groups, 1)
	return groups[0].RouteLabels
}
