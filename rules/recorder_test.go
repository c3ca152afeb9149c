package rules

import (
	"context"
	"path/filepath"
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

func TestOpenRecorderNeedsDir(t *testing.T) {
	t.Parallel()
	_, err := OpenRecorder(RecorderOptions{})
	require.Error(t, err)
}
