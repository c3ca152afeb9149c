package ui

import (
	"context"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/internal/api"
)

// Chart windows: the overview shows the last hour; a probe's page can show more.
const (
	overviewSpan  = time.Hour
	chartSteps    = 60
	refreshPeriod = 15 // seconds between reloads of the overview
)

// probeSpans are the windows a probe's page offers.
var probeSpans = []string{"1h", "6h", "24h"}

// Queries behind the charts: the worst run of each step, so that a single
// failed run shows even when the step spans several runs.
const (
	successExpr = `min by (probe) (min_over_time(probe_success%s[%s]))`
	latencyExpr = `max by (probe) (max_over_time(probe_duration_seconds%s[%s]))`
)

// probeRow is a probe with its charts.
type probeRow struct {
	api.Probe
	Success, Latency template.HTML
}

// charts draws the success and latency history of every probe (or of
// those with the given name) over w.
func (u *UI) charts(ctx context.Context, w window, ps []api.Probe, name string) []probeRow {
	rng := fmt.Sprintf("%ds", int(w.Step.Seconds()))
	sel := ""
	if name != "" {
		sel = fmt.Sprintf("{probe=%q}", name)
	}
	succ, err := u.history(ctx, fmt.Sprintf(successExpr, sel, rng), "probe", w)
	if err != nil {
		u.logger.Warn("status page: success history", "err", err)
	}
	lat, err := u.history(ctx, fmt.Sprintf(latencyExpr, sel, rng), "probe", w)
	if err != nil {
		u.logger.Warn("status page: latency history", "err", err)
	}
	rows := make([]probeRow, len(ps))
	for i, p := range ps {
		rows[i] = probeRow{
			Probe:   p,
			Success: successChart(succ[p.Name], "success of "+p.Name),
			Latency: latencyChart(lat[p.Name], "run duration of "+p.Name),
		}
	}
	return rows
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	st := api.NewStatus(u.src.Snapshot(), u.now())
	rows := u.charts(r.Context(), newWindow(st.Now, overviewSpan, chartSteps), api.ByAttention(st.Probes), "")
	u.render(w, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Status: st, Data: rows, Refresh: refreshPeriod})
}

// probePage is the data of /probes/<name>.
type probePage struct {
	api.ProbeDetail
	Row   probeRow
	Span  string
	Spans []string
}

func (u *UI) probe(w http.ResponseWriter, r *http.Request) {
	snap := u.src.Snapshot()
	now := u.now()
	d, ok := api.ProbeDetailOf(snap, r.PathValue("name"), now)
	if !ok {
		u.render(w, http.StatusNotFound, "notfound", page{Title: "Not found", Data: r.URL.Path})
		return
	}
	span := r.URL.Query().Get("range")
	if !slices.Contains(probeSpans, span) {
		span = probeSpans[0]
	}
	dur, _ := time.ParseDuration(span)
	rows := u.charts(r.Context(), newWindow(now, dur, chartSteps*2), []api.Probe{d.Probe}, d.Name)
	u.render(w, http.StatusOK, "probe", page{
		Title: d.Name, Nav: "overview", Status: api.NewStatus(snap, now),
		Data: probePage{ProbeDetail: d, Row: rows[0], Span: span, Spans: probeSpans},
	})
}

func (u *UI) alerts(w http.ResponseWriter, _ *http.Request) {
	st := api.NewStatus(u.src.Snapshot(), u.now())
	u.render(w, http.StatusOK, "alerts", page{Title: "Alerts", Nav: "alerts", Status: st, Data: st.Alerts, Refresh: refreshPeriod})
}

func (u *UI) receivers(w http.ResponseWriter, _ *http.Request) {
	st := api.NewStatus(u.src.Snapshot(), u.now())
	u.render(w, http.StatusOK, "receivers", page{Title: "Receivers", Nav: "receivers", Status: st, Data: st.Integrations, Refresh: refreshPeriod})
}

func (u *UI) rules(w http.ResponseWriter, _ *http.Request) {
	snap := u.src.Snapshot()
	u.render(w, http.StatusOK, "rules", page{Title: "Rules", Nav: "rules", Status: api.NewStatus(snap, u.now()), Data: api.RuleGroupsOf(snap)})
}

func (u *UI) config(w http.ResponseWriter, _ *http.Request) {
	snap := u.src.Snapshot()
	file := ""
	if snap.Config != nil {
		file = snap.Config.File
	}
	u.render(w, http.StatusOK, "config", page{Title: "Configuration", Nav: "config", Status: api.NewStatus(snap, u.now()),
		Data: map[string]string{"File": file, "YAML": api.ConfigOf(snap)}})
}

// funcs are the template helpers.
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		// link makes a path relative to the route prefix into a link.
		"link": func(p string) string { return u.prefix + p },
		"probeLink": func(name string) string {
			return u.prefix + PathProbes + url.PathEscape(name)
		},
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":     func(now, t time.Time) string { return api.Ago(now.Sub(t)) },
		"seconds": api.Seconds,
		// duration writes an interval in seconds as Prometheus writes durations.
		"duration": func(s float64) string {
			return model.Duration(time.Duration(s * float64(time.Second))).String()
		},
		"sortedKeys": func(m map[string]string) []string {
			return slices.Sorted(maps.Keys(m))
		},
		"stateText": stateText,
		"silencedBy": func(lbls map[string]string) []string {
			return u.silencedBy(context.Background(), lbls)
		},
		"silenceLink": u.silenceLink,
		"canSilence":  func() bool { return u.sils != nil },
		"silenceRows": func(rows []silenceRow, csrf string, now time.Time) map[string]any {
			return map[string]any{"Rows": rows, "CSRF": csrf, "Now": now}
		},
		"alertsAt": func(alerts []api.Alert, now time.Time) api.Status {
			return api.Status{Alerts: alerts, Now: now}
		},
	}
}

// stateText is the word shown in a state badge; the colour repeats it.
func stateText(state string) string {
	switch state {
	case api.StateUp:
		return "✔ UP"
	case api.StateDown:
		return "✖ DOWN"
	case api.StateStale:
		return "⚠ STALE"
	case "firing":
		return "✖ FIRING"
	case "pending":
		return "… PENDING"
	case "silenced":
		return "⊘ SILENCED"
	case "active":
		return "⊘ ACTIVE"
	case "expired":
		return "– EXPIRED"
	case "unused":
		return "– NOT USED YET"
	}
	return "? " + strings.ToUpper(state)
}
