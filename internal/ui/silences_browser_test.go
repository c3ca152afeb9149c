package ui_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
	"github.com/tocsin-alerting/tocsin/internal/api"
	"github.com/tocsin-alerting/tocsin/internal/silences"
)

// watchedSilences is the scenario's real silence store, with a record of
// the alerts the dispatcher left out because a silence muted them.
type watchedSilences struct {
	*silences.Store
	w     *world
	mu    sync.Mutex
	muted map[model.LabelValue]int // by probe
}

func (s *watchedSilences) Mutes(ctx context.Context, ls model.LabelSet) bool {
	m := s.Store.Mutes(ctx, ls)
	if m {
		s.mu.Lock()
		s.muted[ls["probe"]]++
		s.mu.Unlock()
		s.w.poke()
	}
	return m
}

func (s *watchedSilences) mutedTimes(probe string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.muted[model.LabelValue(probe)]
}

// pagedAbout tells whether PagerDuty was told of a firing alert about the
// probe.
func (w *world) pagedAbout(probe string) bool {
	for _, r := range w.PagerDuty.Requests() {
		body := string(r.Body)
		if strings.Contains(body, `"event_action":"trigger"`) && strings.Contains(body, probe) {
			return true
		}
	}
	return false
}

// A silence made with the page's form mutes an alert end to end: while it
// is active the vendor hears of the alerts beside it but not of the
// silenced one; once it is expired with the page's button, the vendor is
// paged for it.
func TestSilenceFormMutesAlertInBrowser(t *testing.T) {
	watched := &watchedSilences{muted: map[model.LabelValue]int{}}
	w := waitHealthy(t, launch(t, 0, func(w *world, o *scenario.Options) {
		watched.w = w
		watched.Store = silences.New(silences.Options{})
		o.Silences = watched.Store
		o.Dispatcher.Silences = watched
	}))
	ctx := browser(t)
	var errs consoleErrors
	errs.listen(t, ctx)
	const silenced = scenario.ProbeDeviceToWebhook

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/silences"),
		chromedp.WaitVisible(chromedp.CSS("form.silence")),
	))
	screenshot(t, ctx, "silences-empty")

	// A matcher that does not parse is shown back with the reason.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#matchers"), `{probe=~"("}`),
		chromedp.SetValue(chromedp.CSS("#created_by"), "ana"),
		chromedp.SetValue(chromedp.CSS("#comment"), "webhook relay maintenance at the device cloud"),
		chromedp.Click(chromedp.CSS(`form.silence button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".form-error")),
	))
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".form-error")))
	require.NoError(t, err)
	require.Contains(t, msg, "The silence was not created")
	screenshot(t, ctx, "silences-form-error")
	// The browser logs the refusal's own 400, which is the point.
	got := slices.DeleteFunc(errs.take(), func(e string) bool { return strings.Contains(e, "400") && strings.Contains(e, "/silences") })
	require.Empty(t, got)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#matchers"), `{alertname="ProbeFailing", probe="`+silenced+`"}`),
		chromedp.SetValue(chromedp.CSS("#duration"), "1h"),
		chromedp.Click(chromedp.CSS(`form.silence button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
	))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.silences tbody tr.active").length`))
	require.NoError(t, err)
	require.Equal(t, 1, rows)

	// The relay breaks: three probes fail, one of them silenced.
	w.Cloud.BreakRelay()
	w.until(t, "the unsilenced alerts to page and the silenced one to be left out twice", func(api.Status) bool {
		return w.pagedAbout(scenario.ProbeBrokerRoundTrip) && w.pagedAbout(scenario.ProbeDeviceToEvents) &&
			watched.mutedTimes(silenced) >= 2
	})
	require.False(t, w.pagedAbout(silenced), "PagerDuty was paged for a silenced alert")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/alerts"),
		chromedp.WaitVisible(chromedp.CSS("table.alerts")),
	))
	marked, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.alerts tr.silenced a[href*='/probes/']")].map(a => a.textContent)`))
	require.NoError(t, err)
	require.Equal(t, []string{"probe " + silenced}, marked)
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".banner")))
	require.NoError(t, err)
	require.Contains(t, banner, "3 alerts firing (1 silenced)")
	screenshot(t, ctx, "alerts-silenced")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/silences"),
		chromedp.WaitVisible(chromedp.CSS("table.silences")),
	))
	mutes, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.silences tr.active ul.mutes")))
	require.NoError(t, err)
	require.Contains(t, mutes, silenced)
	screenshot(t, ctx, "silences-active")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("table.silences tr.active button.expire")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.notice")))
	require.NoError(t, err)
	require.Contains(t, notice, "expired")
	w.until(t, "PagerDuty to be paged for the alert once its silence is expired", func(api.Status) bool {
		return w.pagedAbout(silenced)
	})
	screenshot(t, ctx, "silences-expired")
	require.Empty(t, errs.take())
}

// With JavaScript off the form still creates and expires a silence.
func TestSilenceFormWithoutJavaScript(t *testing.T) {
	w := startHealthyWorld(t)
	ctx := browserWithoutScripts(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/silences"),
		chromedp.SetValue(chromedp.CSS("#matchers"), `probe="`+scenario.ProbeFrontDoor+`"`),
		chromedp.SetValue(chromedp.CSS("#created_by"), "ana"),
		chromedp.SetValue(chromedp.CSS("#comment"), "front door redeploy"),
		chromedp.Click(chromedp.CSS(`form.silence button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.silences tr.active")),
	))
	sils, err := w.Silences.Query(context.Background())
	require.NoError(t, err)
	require.Len(t, sils, 1)
	require.Equal(t, "front door redeploy", sils[0].Comment)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("table.silences tr.active button.expire")),
		chromedp.WaitVisible(chromedp.CSS("table.silences tr.expired")),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.notice")))
	require.NoError(t, err)
	require.Contains(t, text, "Silence "+sils[0].Id+" expired.")
}
