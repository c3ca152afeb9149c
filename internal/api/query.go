package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Limits of the query endpoints, as in Prometheus.
const (
	// maxPoints is the most points a range query may return per series.
	maxPoints = 11000
	// maxFormBytes bounds a POSTed form (Grafana POSTs its queries).
	maxFormBytes = 1 << 20
)

// Prometheus' sentinels for "no bound", which clients send as they are.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// registerQuery mounts Prometheus' query endpoints over the local TSDB, with
// Prometheus' parameters and response format, so that Grafana and
// Prometheus' own client can use tocsin as a data source.
func (a *API) registerQuery(mux *http.ServeMux) {
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /api/v1/query", a.query)
		mux.HandleFunc(m+" /api/v1/query_range", a.queryRange)
		mux.HandleFunc(m+" /api/v1/series", a.series)
		mux.HandleFunc(m+" /api/v1/labels", a.labelNames)
	}
	mux.HandleFunc("GET /api/v1/label/{name}/values", a.labelValues)
	mux.HandleFunc("GET /api/v1/status/buildinfo", a.buildInfo)
}

// queryData is the data of a query answer.
type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

func (a *API) query(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	ts, err := timeParam(r, "time", a.now())
	if err != nil {
		writeError(w, errBadData, err.Error())
		return
	}
	a.runQuery(w, r, func(ctx context.Context, q storage.Queryable) (promql.Query, error) {
		return a.Engine().NewInstantQuery(ctx, q, nil, r.FormValue("query"), ts)
	})
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	start, err := timeParam(r, "start", time.Time{})
	if err == nil {
		var end time.Time
		if end, err = timeParam(r, "end", time.Time{}); err == nil {
			var step time.Duration
			if step, err = stepParam(r, start, end); err == nil {
				a.runQuery(w, r, func(ctx context.Context, q storage.Queryable) (promql.Query, error) {
					return a.Engine().NewRangeQuery(ctx, q, nil, r.FormValue("query"), start, end, step)
				})
				return
			}
		}
	}
	writeError(w, errBadData, err.Error())
}

// stepParam checks a range query's bounds and step as Prometheus does.
func stepParam(r *http.Request, start, end time.Time) (time.Duration, error) {
	if start.IsZero() || end.IsZero() {
		return 0, errors.New("start and end are required")
	}
	if end.Before(start) {
		return 0, errors.New("end timestamp must not be before start time")
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return 0, fmt.Errorf("invalid parameter \"step\": %w", err)
	}
	if step <= 0 {
		return 0, errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	if end.Sub(start)/step > maxPoints {
		return 0, fmt.Errorf("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", maxPoints)
	}
	return step, nil
}

// runQuery builds a query with build, runs it and writes the answer.
func (a *API) runQuery(w http.ResponseWriter, r *http.Request, build func(context.Context, storage.Queryable) (promql.Query, error)) {
	q := a.src.Queryable()
	if q == nil {
		writeError(w, errUnavailable, "tocsin has no configuration yet")
		return
	}
	ctx := r.Context()
	if t := r.FormValue("timeout"); t != "" {
		d, err := parseDuration(t)
		if err != nil {
			writeError(w, errBadData, "invalid parameter \"timeout\": "+err.Error())
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	qry, err := build(ctx, q)
	if err != nil {
		writeError(w, errBadData, "invalid parameter \"query\": "+err.Error())
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		writeError(w, queryErrorType(res.Err), res.Err.Error())
		return
	}
	warnings, infos := res.Warnings.AsStrings(r.FormValue("query"), 10, 10)
	writeJSON(w, http.StatusOK, response{
		Status: "success", Warnings: nonEmpty(warnings), Infos: nonEmpty(infos),
		Data: queryData{ResultType: string(res.Value.Type()), Result: res.Value},
	})
}

func queryErrorType(err error) errorType {
	switch {
	case errors.As(err, new(promql.ErrQueryCanceled)), errors.Is(err, context.Canceled):
		return errCanceled
	case errors.As(err, new(promql.ErrQueryTimeout)), errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.As(err, new(promql.ErrStorage)):
		return errInternal
	}
	return errExec
}

func (a *API) series(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if len(r.Form["match[]"]) == 0 {
		writeError(w, errBadData, "no match[] parameter provided")
		return
	}
	a.withQuerier(w, r, func(ctx context.Context, q storage.Querier, hints *storage.SelectHints, sets [][]*labels.Matcher) {
		var all []storage.SeriesSet
		for _, ms := range sets {
			all = append(all, q.Select(ctx, len(sets) > 1, hints, ms...))
		}
		set := storage.NewMergeSeriesSet(all, 0, storage.ChainedSeriesMerge)
		out := []labels.Labels{}
		for set.Next() {
			out = append(out, set.At().Labels())
		}
		if err := set.Err(); err != nil {
			writeError(w, errExec, err.Error())
			return
		}
		writeLabelsAnswer(w, out, set.Warnings())
	})
}

func (a *API) labelNames(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	a.withQuerier(w, r, func(ctx context.Context, q storage.Querier, hints *storage.SelectHints, sets [][]*labels.Matcher) {
		names, warns, err := unionOver(sets, func(ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
			return q.LabelNames(ctx, &storage.LabelHints{}, ms...)
		})
		if err != nil {
			writeError(w, errExec, err.Error())
			return
		}
		writeLabelsAnswer(w, names, warns)
	})
}

func (a *API) labelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !model.UTF8Validation.IsValidLabelName(name) {
		writeError(w, errBadData, fmt.Sprintf("invalid label name: %q", name))
		return
	}
	if !parseForm(w, r) {
		return
	}
	a.withQuerier(w, r, func(ctx context.Context, q storage.Querier, hints *storage.SelectHints, sets [][]*labels.Matcher) {
		values, warns, err := unionOver(sets, func(ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
			return q.LabelValues(ctx, name, &storage.LabelHints{}, ms...)
		})
		if err != nil {
			writeError(w, errExec, err.Error())
			return
		}
		writeLabelsAnswer(w, values, warns)
	})
}

// unionOver runs f once per matcher set (once without matchers when there
// are none) and returns the sorted union of the answers.
func unionOver(sets [][]*labels.Matcher, f func([]*labels.Matcher) ([]string, annotations.Annotations, error)) ([]string, annotations.Annotations, error) {
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	var warns annotations.Annotations
	for _, ms := range sets {
		vals, w, err := f(ms)
		if err != nil {
			return nil, nil, err
		}
		warns.Merge(w)
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, warns, nil
}

// withQuerier parses start, end and match[] and opens a querier over that range.
func (a *API) withQuerier(w http.ResponseWriter, r *http.Request, f func(context.Context, storage.Querier, *storage.SelectHints, [][]*labels.Matcher)) {
	start, err := timeParam(r, "start", minTime)
	if err != nil {
		writeError(w, errBadData, err.Error())
		return
	}
	end, err := timeParam(r, "end", maxTime)
	if err != nil {
		writeError(w, errBadData, err.Error())
		return
	}
	sets, err := a.parser.ParseMetricSelectors(r.Form["match[]"])
	if err != nil {
		writeError(w, errBadData, err.Error())
		return
	}
	qa := a.src.Queryable()
	if qa == nil {
		writeError(w, errUnavailable, "tocsin has no configuration yet")
		return
	}
	mint, maxt := clampMillis(start), clampMillis(end)
	q, err := qa.Querier(mint, maxt)
	if err != nil {
		writeError(w, errExec, err.Error())
		return
	}
	defer q.Close()
	f(r.Context(), q, &storage.SelectHints{Start: mint, End: maxt, Func: "series"}, sets)
}

func writeLabelsAnswer[T any](w http.ResponseWriter, data T, warns annotations.Annotations) {
	warnings, infos := warns.AsStrings("", 10, 10)
	writeJSON(w, http.StatusOK, response{Status: "success", Data: data, Warnings: nonEmpty(warnings), Infos: nonEmpty(infos)})
}

func (a *API) buildInfo(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]string{
		"version": version.Version, "revision": version.Revision, "branch": version.Branch,
		"buildUser": version.BuildUser, "buildDate": version.BuildDate, "goVersion": version.GoVersion,
	})
}

// parseForm reads query parameters and a POSTed form, bounded in size.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, response{Status: "error", ErrorType: errBadData.name, Error: "request body too large"})
			return false
		}
		writeError(w, errBadData, "cannot parse the form: "+err.Error())
		return false
	}
	return true
}

func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid parameter %q: %w", name, err)
	}
	return t, nil
}

// parseTime accepts what Prometheus accepts: Unix seconds with a fraction,
// or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000)*float64(time.Millisecond))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTime.Format(time.RFC3339Nano):
		return minTime, nil
	case maxTime.Format(time.RFC3339Nano):
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration accepts seconds with a fraction, or a Prometheus duration.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

func clampMillis(t time.Time) int64 {
	switch {
	case !t.After(minTime):
		return math.MinInt64
	case !t.Before(maxTime):
		return math.MaxInt64
	}
	return t.UnixMilli()
}

func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
