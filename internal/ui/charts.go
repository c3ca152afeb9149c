package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/tocsin-alerting/tocsin/internal/api"
)

// point is one step of a chart; OK is false where the TSDB has no sample.
type point struct {
	T  time.Time
	V  float64
	OK bool
}

// window is the time a chart covers, in steps.
type window struct {
	Start, End time.Time
	Step       time.Duration
}

func newWindow(end time.Time, span time.Duration, steps int) window {
	step := (span / time.Duration(steps)).Truncate(time.Second)
	step = max(step, time.Second)
	return window{Start: end.Add(-time.Duration(steps-1) * step), End: end, Step: step}
}

func (w window) steps() int { return int(w.End.Sub(w.Start)/w.Step) + 1 }

// history runs a range query over the window and returns each series'
// points by the value of label byLabel, one per step.
func (u *UI) history(ctx context.Context, expr, byLabel string, w window) (map[string][]point, error) {
	q := u.src.Queryable()
	if q == nil {
		return nil, nil
	}
	qry, err := u.api.Engine().NewRangeQuery(ctx, q, nil, expr, w.Start, w.End, w.Step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	m, ok := res.Value.(promql.Matrix)
	if !ok {
		return nil, fmt.Errorf("history: %s gave a %s, not a matrix", expr, res.Value.Type())
	}
	out := make(map[string][]point, len(m))
	n := w.steps()
	for _, s := range m {
		pts := make([]point, n)
		for i := range pts {
			pts[i].T = w.Start.Add(time.Duration(i) * w.Step)
		}
		for _, f := range s.Floats {
			i := int(time.UnixMilli(f.T).Sub(w.Start) / w.Step)
			if i >= 0 && i < n {
				pts[i].V, pts[i].OK = f.F, true
			}
		}
		out[s.Metric.Get(byLabel)] = pts
	}
	return out, nil
}

// Chart sizes in SVG user units; CSS scales them.
const (
	chartHeight = 24
	cellWidth   = 4
)

// successChart draws one cell per step: green where every run succeeded,
// red where one failed, grey where nothing ran. Neighbouring cells of one
// kind are drawn as one rectangle, so that a page of a thousand healthy
// probes stays small. Colour is never the only sign: the titles and the
// text beside it say the same.
func successChart(pts []point, label string) template.HTML {
	if len(pts) == 0 {
		return template.HTML(`<span class="muted">no history yet</span>`)
	}
	kind := func(p point) (string, string) {
		switch {
		case !p.OK:
			return "none", "no data"
		case p.V >= 1:
			return "ok", "all runs succeeded"
		}
		return "bad", "a run failed"
	}
	var b strings.Builder
	good, bad := 0, 0
	for i := 0; i < len(pts); {
		class, what := kind(pts[i])
		j := i + 1
		for j < len(pts) {
			if c, _ := kind(pts[j]); c != class {
				break
			}
			j++
		}
		switch class {
		case "ok":
			good += j - i
		case "bad":
			bad += j - i
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="0" width="%d" height="%d"><title>%s–%s: %s</title></rect>`,
			class, i*cellWidth, (j-i)*cellWidth-1, chartHeight, pts[i].T.UTC().Format("15:04"), pts[j-1].T.UTC().Format("15:04"), what)
		i = j
	}
	summary := fmt.Sprintf("%s: %d of %d steps good, %d failing", label, good, len(pts), bad)
	return template.HTML(fmt.Sprintf(`<svg class="chart success" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title>%s</svg>`,
		len(pts)*cellWidth, chartHeight, template.HTMLEscapeString(summary), template.HTMLEscapeString(summary), b.String()))
}

// latencyChart draws the run duration as a line scaled to its maximum,
// broken where nothing ran, with the maximum written beside it.
func latencyChart(pts []point, label string) template.HTML {
	peak := 0.0
	for _, p := range pts {
		if p.OK && p.V > peak {
			peak = p.V
		}
	}
	if len(pts) == 0 || peak == 0 {
		return template.HTML(`<span class="muted">no history yet</span>`)
	}
	width := len(pts) * cellWidth
	// A step line: each step's value held across its cell, so that a lone
	// sample shows as well as a run of them.
	var path strings.Builder
	pen := false
	for i, p := range pts {
		if !p.OK || math.IsNaN(p.V) {
			pen = false
			continue
		}
		y := chartHeight - 1 - (p.V/peak)*(chartHeight-3)
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%d %.1f H%d ", cmd, i*cellWidth, y, (i+1)*cellWidth)
		pen = true
	}
	summary := fmt.Sprintf("%s: peak %s", label, api.Seconds(peak))
	return template.HTML(fmt.Sprintf(`<svg class="chart latency" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title><path d="%s"/></svg><span class="peak">max %s</span>`,
		width, chartHeight, template.HTMLEscapeString(summary), template.HTMLEscapeString(summary), strings.TrimSpace(path.String()), api.Seconds(peak)))
}
