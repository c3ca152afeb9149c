package rules

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

func TestRecorderKeepsSamplesAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tsdb")
	ls := labels.FromStrings("__name__", "probe_success", "probe", "api", "kind", "http", "replica", "eu-1")

	rec, err := OpenRecorder(RecorderOptions{Dir: dir, Retention: time.Hour})
	require.NoError(t, err)
	require.NoError(t, rec.Record(t0, []Sample{{Labels: ls, Value: 1}}))
	require.NoError(t, rec.Record(t0.Add(2*time.Second), []Sample{{Labels: ls, Value: 0}}))
	// Later than the out-of-order window: refused, and said so.
	require.Error(t, rec.Record(t0.Add(-time.Hour), []Sample{{Labels: ls, Value: 1}}))
	require.NoError(t, rec.Record(t0, nil))
	require.NoError(t, rec.Close())

	rec, err = OpenRecorder(RecorderOptions{Dir: dir, Retention: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, rec.Close()) }()
	q, err := rec.Querier(t0.Add(-time.Minute).UnixMilli(), t0.Add(time.Minute).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "probe", "api"))
	require.True(t, ss.Next())
	require.Equal(t, ls, ss.At().Labels())
	it := ss.At().Iterator(nil)
	var got []float64
	for it.Next() == chunkenc.ValFloat {
		_, v := it.At()
		got = append(got, v)
	}
	require.Equal(t, []float64{1, 0}, got)
	require.False(t, ss.Next())
}

// TestRecorderKeepsSeriesRefs: a sample's Ref is filled on the first
// record and used afterwards; a reference the storage does not know falls
// back to the labels.
func TestRecorderKeepsSeriesRefs(t *testing.T) {
	t.Parallel()
	rec, err := OpenRecorder(RecorderOptions{Dir: filepath.Join(t.TempDir(), "tsdb"), Retention: time.Hour})
	require.NoError(t, err)
	defer func() { require.NoError(t, rec.Close()) }()
	a := labels.FromStrings("__name__", "probe_success", "probe", "a")
	b := labels.FromStrings("__name__", "probe_success", "probe", "b")
	var refA, refB atomic.Uint64
	require.NoError(t, rec.Record(t0, []Sample{{Labels: a, Value: 1, Ref: &refA}, {Labels: b, Value: 1, Ref: &refB}}))
	require.NotZero(t, refA.Load())
	require.NotEqual(t, refA.Load(), refB.Load())
	first := refA.Load()
	require.NoError(t, rec.Record(t0.Add(time.Second), []Sample{{Labels: a, Value: 0, Ref: &refA}}))
	require.Equal(t, first, refA.Load())
	refB.Store(1 << 40) // no such series
	require.NoError(t, rec.Record(t0.Add(time.Second), []Sample{{Labels: b, Value: 0, Ref: &refB}}))
	require.NotEqual(t, uint64(1<<40), refB.Load())

	q, err := rec.Querier(t0.UnixMilli(), t0.Add(time.Minute).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	for _, want := range []labels.Labels{a, b} {
		ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "probe", want.Get("probe")))
		require.True(t, ss.Next())
		require.Equal(t, want, ss.At().Labels())
		var got []float64
		it := ss.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			_, v := it.At()
			got = append(got, v)
		}
		require.Equal(t, []float64{1, 0}, got)
		require.False(t, ss.Next())
	}
}

func TestOpenRecorderNeedsDir(t *testing.T) {
	t.Parallel()
	_, err := OpenRecorder(RecorderOptions{})
	require.Error(t, err)
}
