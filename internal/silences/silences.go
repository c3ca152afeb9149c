// Package silences keeps Alertmanager silences for tocsin: the silence
// package of Alertmanager decides what a silence mutes and when, and this
// package makes each change durable before the API answers.
package silences

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// File is the name of the silences snapshot under storage.path. It holds
// Alertmanager's own snapshot format, so a cluster can replicate it.
const File = "silences"

// DefaultRetention is how long an expired silence is kept, as
// Alertmanager's --data.retention.
const DefaultRetention = 120 * time.Hour

// DefaultGCInterval is how often expired silences past retention go.
const DefaultGCInterval = 15 * time.Minute

// Options configure a Store.
type Options struct {
	// Retention keeps expired silences this long (default DefaultRetention).
	Retention  time.Duration
	GCInterval time.Duration
	Logger     *slog.Logger
	// Registerer receives Alertmanager's silence metrics; nil registers
	// nothing.
	Registerer prometheus.Registerer
}

// Store holds the silences. Alertmanager's silence package snapshots on
// a timer (15 minutes by default), so a crash would forget every silence
// made since: a silenced alert would page again after a restart, and an
// expired one would stay muted. Store writes the package's snapshot to a
// temporary file, syncs it and renames it over the last one after every
// change, before the caller hears of success.
//
// A Store is made before the config is read, so that the dispatcher can
// be built with it, and opened once storage.path is known; until then it
// mutes nothing.
type Store struct {
	opts     Options
	path     string
	logger   *slog.Logger
	silences *silence.Silences
	silencer *silence.Silencer

	// mu orders changes and their snapshots, so that the file on disk
	// never goes back to an older state.
	mu sync.Mutex
}

// New returns a Store that holds no silences until Open.
func New(opts Options) *Store {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.GCInterval <= 0 {
		opts.GCInterval = DefaultGCInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	return &Store{opts: opts, logger: opts.Logger}
}

// Open loads the silences from dir, or starts with none. It is called
// once, before the store is shared with other goroutines.
func (s *Store) Open(dir string) error {
	if s.silences != nil {
		return errors.New("silences: already open")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	path := filepath.Join(dir, File)
	sils, err := silence.New(silence.Options{
		SnapshotFile: path,
		Retention:    s.opts.Retention,
		Logger:       s.logger,
		Metrics:      s.opts.Registerer,
	})
	if err != nil {
		return fmt.Errorf("silences %s: %w", path, err)
	}
	s.path, s.silences = path, sils
	s.silencer = silence.NewSilencer(sils, s.logger, eventrecorder.NopRecorder())
	return nil
}

// errNotOpen refuses changes before Open.
var errNotOpen = errors.New("silences are not loaded yet")

// Mutes reports whether an active silence matches the labels; the
// dispatcher's silence stage asks it (notifiers.Silencer).
func (s *Store) Mutes(ctx context.Context, lset model.LabelSet) bool {
	if s.silencer == nil {
		return false
	}
	return s.silencer.Mutes(ctx, lset)
}

// AnyActive reports whether any silence is active now (or whether that
// cannot be told), so that the dispatcher's silence stage asks about each
// alert of a notification only when some silence could mute it.
func (s *Store) AnyActive(ctx context.Context) bool {
	if s.silences == nil {
		return false
	}
	n, err := s.silences.CountState(ctx, silence.SilenceStateActive)
	return err != nil || n > 0
}

// MutedBy returns the IDs of the active silences that match the labels.
func (s *Store) MutedBy(ctx context.Context, lset model.LabelSet) ([]string, error) {
	if s.silences == nil {
		return nil, nil
	}
	sils, _, err := s.silences.Query(ctx, silence.QState(silence.SilenceStateActive), silence.QMatches(lset))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(sils))
	for i, sil := range sils {
		ids[i] = sil.Id
	}
	return ids, nil
}

// Query returns the silences that match params, as the silence package
// queries them.
func (s *Store) Query(ctx context.Context, params ...silence.QueryParam) ([]*silencepb.Silence, error) {
	if s.silences == nil {
		return nil, errNotOpen
	}
	sils, _, err := s.silences.Query(ctx, params...)
	return sils, err
}

// Set creates a silence, or updates the one with sil.Id, and returns once
// the change is on disk. sil.Id holds the silence's ID afterwards.
func (s *Store) Set(ctx context.Context, sil *silencepb.Silence) error {
	return s.change(func(sils *silence.Silences) error { return sils.Set(ctx, sil) })
}

// Expire ends the silence with this ID now and returns once the change is
// on disk. An unknown ID is silence.ErrNotFound.
func (s *Store) Expire(ctx context.Context, id string) error {
	return s.change(func(sils *silence.Silences) error { return sils.Expire(ctx, id) })
}

// change applies f and writes the snapshot, under the lock that keeps
// changes and snapshots in order.
func (s *Store) change(f func(*silence.Silences) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.silences == nil {
		return errNotOpen
	}
	if err := f(s.silences); err != nil {
		return err
	}
	return s.persistLocked()
}

// Run drops expired silences after their retention, every GCInterval,
// until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.GC(); err != nil {
				s.logger.Error("silences garbage collection failed", "err", err)
			}
		}
	}
}

// GC drops expired silences past retention and writes the snapshot when
// it dropped any.
func (s *Store) GC() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.silences == nil {
		return nil
	}
	n, err := s.silences.GC()
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return s.persistLocked()
}

// persistLocked writes the snapshot atomically: a synced temporary file
// renamed over the old one, then the directory synced so that the rename
// survives a crash.
func (s *Store) persistLocked() error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), File+".tmp*")
	if err != nil {
		return fmt.Errorf("write silences: %w", err)
	}
	_, err = s.silences.Snapshot(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write silences %s: %w", s.path, err)
	}
	return syncDir(filepath.Dir(s.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write silences: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("write silences: sync %s: %w", dir, err)
	}
	return nil
}
