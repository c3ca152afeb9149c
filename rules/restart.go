package rules

import (
	"context"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// After a restart on the same storage, the TSDB still holds the samples of
// the previous life. A probe result from before the restart says nothing
// about the target now: the alert it would raise may have resolved while
// tocsin was down, and a probe that simply has not reported yet since the
// start looks "missing". So rule queries see only samples taken since the
// start (sinceStart), while the `for` state of alerts comes back from the
// ALERTS_FOR_STATE samples written before it (beforeStart).

// sinceStart is q without the samples older than start, for rule queries.
func sinceStart(q storage.Queryable, start time.Time) storage.Queryable {
	return clampQueryable(q, start.UnixMilli(), 1<<63-1)
}

// beforeStart is q without the samples written since start, for restoring
// the `for` state an alert had before the restart.
func beforeStart(q storage.Queryable, start time.Time) storage.Queryable {
	return clampQueryable(q, -1<<63, start.UnixMilli()-1)
}

// clampQueryable limits every querier of q to [mint, maxt]. The TSDB takes
// the range of a select from its hints when there are any, so those are
// clamped too.
func clampQueryable(q storage.Queryable, mint, maxt int64) storage.Queryable {
	return storage.QueryableFunc(func(qmint, qmaxt int64) (storage.Querier, error) {
		qmint, qmaxt = max(qmint, mint), min(qmaxt, maxt)
		if qmint > qmaxt {
			return storage.NoopQuerier(), nil
		}
		inner, err := q.Querier(qmint, qmaxt)
		if err != nil {
			return nil, err
		}
		return clampedQuerier{Querier: inner, mint: qmint, maxt: qmaxt}, nil
	})
}

type clampedQuerier struct {
	storage.Querier
	mint, maxt int64
}

func (q clampedQuerier) Select(ctx context.Context, sorted bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if hints != nil {
		h := *hints
		h.Start, h.End = max(h.Start, q.mint), min(h.End, q.maxt)
		if h.Start > h.End {
			return storage.EmptySeriesSet()
		}
		hints = &h
	}
	return q.Querier.Select(ctx, sorted, hints, ms...)
}

// restoreForState gives the alerts that became active for the first time
// since the start the `for` state they had before it, as Prometheus does
// once after a restart. tocsin does it on every evaluation within the
// restore window, because rules see no sample from before the start and an
// alert becomes active only when its probe has reported again. It reports
// whether any alert's active time changed, so that the caller evaluates
// again and an alert that was firing fires now.
func (g *group) restoreForState(ts time.Time) bool {
	if g.restored == nil {
		g.restored = map[uint64]struct{}{}
	}
	rules := g.g.AlertingRules()
	before := map[*promrules.Alert]time.Time{}
	for _, r := range rules {
		r.ForEachActiveAlert(func(a *promrules.Alert) { before[a] = a.ActiveAt })
	}
	if len(before) == 0 {
		for _, r := range rules {
			r.SetRestored(true) // nothing to restore: write ALERTS from now on
		}
		return false
	}
	g.g.RestoreForState(ts)
	changed := false
	for _, r := range rules {
		r.ForEachActiveAlert(func(a *promrules.Alert) {
			h := a.Labels.Hash()
			if _, done := g.restored[h]; done {
				// Restored earlier: restoring again would count the time
				// since then as downtime.
				a.ActiveAt = before[a]
				return
			}
			g.restored[h] = struct{}{}
			if !a.ActiveAt.Equal(before[a]) {
				changed = true
			}
		})
	}
	return changed
}
