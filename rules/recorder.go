package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// Sample is one value of one series, as the recorder stores it.
type Sample struct {
	Labels labels.Labels
	Value  float64
	// Ref, when set, is the caller's place for this series' reference in
	// the recorder: Record reads it to skip looking the labels up and
	// fills it. One place stands for one label set and is given to one
	// Recorder only, as the scrape cache of Prometheus does with its
	// storage.
	Ref *atomic.Uint64
}

// Storage is what the evaluator needs from the local TSDB: it reads probe
// series and writes the ALERTS and ALERTS_FOR_STATE series back.
type Storage interface {
	storage.Queryable
	storage.AppendableV2
}

// RecorderOptions place the embedded TSDB.
type RecorderOptions struct {
	// Dir holds the TSDB (blocks and write-ahead log). Reopening the same
	// directory after a restart brings history and alert state back.
	Dir string
	// Retention is how long samples are kept; zero means 24h.
	Retention time.Duration
	// OutOfOrderWindow is how far behind the newest sample of a series a
	// late sample may still be stored. Probes of one series report in
	// order, so this only absorbs small clock steps; zero means 1m.
	OutOfOrderWindow time.Duration
	// Logger receives the TSDB's own logs; nil discards them.
	Logger *slog.Logger
	// Registerer, when set, receives the TSDB's metrics.
	Registerer prometheus.Registerer
	// WriteNotified, when set, is told after each write to the WAL, so
	// that readers of the WAL (remote_write's queues) need not poll it.
	WriteNotified wlog.WriteNotified
}

// The TSDB head's sizes (see OpenRecorder).
const (
	headStripeSize            = 1 << 10
	headChunksWriteBufferSize = 256 << 10
)

// Recorder owns the embedded Prometheus TSDB that probe results and rule
// state are written to. It is safe for concurrent use.
type Recorder struct {
	db *tsdb.DB
}

// OpenRecorder opens (or creates) the TSDB under opts.Dir.
func OpenRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.Dir == "" {
		return nil, errors.New("recorder: storage directory is empty")
	}
	if opts.Retention <= 0 {
		opts.Retention = 24 * time.Hour
	}
	if opts.OutOfOrderWindow <= 0 {
		opts.OutOfOrderWindow = time.Minute
	}
	logger := opts.Logger
	if logger == nil {
		logger = promslog.NewNopLogger()
	}
	to := tsdb.DefaultOptions()
	// Prometheus sizes its head for millions of series; tocsin writes a
	// dozen per probe. Fewer stripes of the series map and a smaller
	// buffer for chunks on their way to disk keep about 6 MiB less in memory.
	to.StripeSize = headStripeSize
	to.HeadChunksWriteBufferSize = headChunksWriteBufferSize
	to.RetentionDuration = opts.Retention.Milliseconds()
	to.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	if block := to.MinBlockDuration; block > to.RetentionDuration {
		// Blocks longer than the retention would keep data far too long.
		to.MinBlockDuration = max(to.RetentionDuration, int64(time.Minute/time.Millisecond))
		to.MaxBlockDuration = to.MinBlockDuration
	}
	db, err := tsdb.Open(opts.Dir, logger, opts.Registerer, to, nil)
	if err != nil {
		return nil, fmt.Errorf("recorder: open TSDB in %s: %w", opts.Dir, err)
	}
	if opts.WriteNotified != nil {
		db.SetWriteNotified(opts.WriteNotified)
	}
	return &Recorder{db: db}, nil
}

// Record stores samples taken at ts in one transaction. A sample the TSDB
// refuses (out of order, duplicate) does not stop the others from being
// stored; the refusals are returned together.
func (r *Recorder) Record(ts time.Time, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	app := r.db.AppenderV2(context.Background())
	t := ts.UnixMilli()
	var errs []error
	for _, s := range samples {
		var ref storage.SeriesRef
		if s.Ref != nil {
			ref = storage.SeriesRef(s.Ref.Load())
		}
		got, err := app.Append(ref, s.Labels, 0, t, s.Value, nil, nil, storage.AOptions{})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("record %s: %w", s.Labels, err))
		case s.Ref != nil && got != ref:
			s.Ref.Store(uint64(got))
		}
	}
	if err := app.Commit(); err != nil {
		errs = append(errs, fmt.Errorf("record: commit: %w", err))
	}
	return errors.Join(errs...)
}

// Querier implements storage.Queryable over the recorded series.
func (r *Recorder) Querier(mint, maxt int64) (storage.Querier, error) {
	return r.db.Querier(mint, maxt)
}

// AppenderV2 implements storage.AppendableV2; the evaluator writes the
// ALERTS and ALERTS_FOR_STATE series through it.
func (r *Recorder) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return r.db.AppenderV2(ctx)
}

// Delete drops every sample of the series that match ms, as Prometheus'
// delete_series API does: they are tombstoned at once and cleaned up at
// the next compaction.
func (r *Recorder) Delete(ctx context.Context, ms ...*labels.Matcher) error {
	if err := r.db.Delete(ctx, math.MinInt64, math.MaxInt64, ms...); err != nil {
		return fmt.Errorf("recorder: delete series: %w", err)
	}
	return nil
}

// Close flushes the write-ahead log and releases the directory lock.
func (r *Recorder) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("recorder: close TSDB: %w", err)
	}
	return nil
}

var _ Storage = (*Recorder)(nil)
