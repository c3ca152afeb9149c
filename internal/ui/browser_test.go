package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
)

// chromiumNames are the commands Debian and other distributions install
// Chromium as.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// browser starts a headless Chromium with a fresh profile for the test.
// Without Chromium the test is skipped, except under CI, where .ci/run
// installs it and a missing browser is a broken set-up.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "browser tests need Chromium (Debian: apt-get install chromium); none of " + strings.Join(chromiumNames, ", ") + " is on PATH"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

// browserWithoutScripts is browser with JavaScript turned off.
func browserWithoutScripts(t *testing.T) context.Context {
	t.Helper()
	ctx := browser(t)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	require.NoError(t, err)
	return ctx
}

// screenshot saves the whole page as name.png in the artefacts folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(artifactsDir(t), name+".png"), shot, 0o644))
}

// consoleErrors collects what the page reports as errors: console.error,
// uncaught exceptions, and the browser's own log (failed loads, blocked
// content).
type consoleErrors struct {
	mu   sync.Mutex
	errs []string
}

func (c *consoleErrors) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if msg != "" {
			c.mu.Lock()
			c.errs = append(c.errs, msg)
			c.mu.Unlock()
		}
	}))
	_, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
}

func (c *consoleErrors) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.errs
	c.errs = nil
	return out
}

// artifactsDir is where screenshots go: $TOCSIN_ARTIFACTS, else
// testdata/artifacts (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOCSIN_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	dir = filepath.Join(dir, "ui")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// Every page loads in a real browser without a console error, and a
// screenshot of each is kept for people to look at.
func TestPagesInBrowser(t *testing.T) {
	w := startWorld(t)
	ctx := browser(t)
	var errs consoleErrors
	errs.listen(t, ctx)

	pages := []struct {
		name, path, wait string
	}{
		{"overview", "/", "table.probes"},
		{"probe-down", "/probes/" + scenario.ProbeWatchdog, "pre.config"},
		{"probe-up", "/probes/" + scenario.ProbeBrokerRoundTrip + "?range=6h", "pre.config"},
		{"alerts", "/alerts", "table.alerts"},
		{"silences", "/silences", "form.silence"},
		{"receivers", "/receivers", "table.integrations"},
		{"rules", "/rules", "table.rules"},
		{"config", "/config", "pre.config"},
		{"not-found", "/no/such/page", "main"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(w.TocsinURL+p.path),
				chromedp.WaitVisible(chromedp.CSS(p.wait)),
			))
			screenshot(t, ctx, p.name)
			got := errs.take()
			if p.name == "not-found" {
				// The browser logs the page's own 404, which is the point.
				got = slices.DeleteFunc(got, func(e string) bool { return strings.Contains(e, "404") && strings.Contains(e, p.path) })
			}
			require.Empty(t, got, "console errors on %s", p.path)
		})
	}
}

// The overview names each configured probe with its state, in words as
// well as colour.
func TestOverviewShowsEveryProbeInBrowser(t *testing.T) {
	w := startWorld(t)
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("table.probes")),
	))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(
		[...document.querySelectorAll("table.probes tbody tr")].map(tr =>
			[tr.querySelector("a.name").textContent, tr.querySelector(".badge").textContent]))`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		scenario.ProbeBrokerRoundTrip: "✔ UP",
		scenario.ProbeDeviceToWebhook: "✔ UP",
		scenario.ProbeDeviceToEvents:  "✔ UP",
		scenario.ProbeFrontDoor:       "✔ UP",
		scenario.ProbeWatchdog:        "✖ DOWN",
	}, rows)
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".banner")))
	require.NoError(t, err)
	require.Contains(t, banner, "1 probe down")
}

// With JavaScript off the pages say the same.
func TestPagesWithoutJavaScript(t *testing.T) {
	w := startWorld(t)
	ctx := browserWithoutScripts(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/probes/"+scenario.ProbeWatchdog),
		chromedp.WaitVisible(chromedp.CSS("pre.config")),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	require.Contains(t, text, "DOWN")
	require.Contains(t, text, "heartbeat_missing")
	screenshot(t, ctx, "probe-down-no-js")
}

// With every probe up, the overview says so in green and in words.
func TestHealthyOverviewInBrowser(t *testing.T) {
	w := startHealthyWorld(t)
	ctx := browser(t)
	var errs consoleErrors
	errs.listen(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.TocsinURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("table.probes")),
	))
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".banner.ok")))
	require.NoError(t, err)
	require.Contains(t, banner, "All good: 4 of 4 probes up")
	screenshot(t, ctx, "overview-healthy")
	require.Empty(t, errs.take())
}
