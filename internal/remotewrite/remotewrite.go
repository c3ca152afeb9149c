// Package remotewrite sends the local TSDB's series (probe series, ALERTS
// and ALERTS_FOR_STATE) to Prometheus remote-write endpoints such as
// Prometheus, Mimir, Thanos or Cortex.
//
// It is Prometheus' own remote storage: each remote_write entry gets a
// queue manager that tails the TSDB's write-ahead log, so samples written
// while an endpoint is down are sent, in order, once it answers again, as
// long as the WAL still holds them. Prometheus' prometheus_remote_storage_*
// and prometheus_wal_watcher_* metrics come with it.
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"

	"github.com/tocsin-alerting/tocsin/configs"
)

// DefaultFlushDeadline bounds how long a queue that is stopped (at
// shutdown, or when a reload changes its entry) keeps trying to send what
// it holds. Prometheus waits a minute; tocsin waits less, because a stop
// must not hold up a shutdown or a reload while an endpoint is down, and the
// samples stay in the local TSDB.
const DefaultFlushDeadline = 10 * time.Second

// Options place the TSDB whose write-ahead log is sent.
type Options struct {
	// Dir is the TSDB's directory (storage.path); its wal/ is read.
	Dir string
	// FlushDeadline replaces DefaultFlushDeadline when positive.
	FlushDeadline time.Duration
	// Logger receives the queues' logs, with passwords in URLs hidden; nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives Prometheus' remote storage metrics.
	Registerer prometheus.Registerer
}

// Writer sends the series of one TSDB to the remote_write entries of the
// configuration in force. It starts nothing until an entry is configured,
// and it is safe for concurrent use.
type Writer struct {
	opts Options
	// notified holds one pending WAL write notice; see Notify.
	notified chan struct{}

	// live is storage for the paths that must never wait (Appended).
	live atomic.Pointer[remote.Storage]

	mu      sync.Mutex
	storage *remote.Storage
	stop    chan struct{}
	done    sync.WaitGroup
	closed  bool
}

// New returns a Writer for the TSDB in opts.Dir.
func New(opts Options) *Writer {
	if opts.FlushDeadline <= 0 {
		opts.FlushDeadline = DefaultFlushDeadline
	}
	if opts.Logger == nil {
		opts.Logger = promslog.NewNopLogger()
	}
	opts.Logger = slog.New(redactingHandler{opts.Logger.Handler()})
	return &Writer{opts: opts, notified: make(chan struct{}, 1)}
}

// Check builds the HTTP client of every remote_write entry of cfg without
// changing anything, so that Apply cannot fail halfway on an entry whose
// TLS files or credentials are unusable.
func Check(cfg *configs.Config) error {
	for i, rw := range cfg.RemoteWrite {
		if _, err := remote.NewWriteClient("check", clientConfig(rw)); err != nil {
			return fmt.Errorf("remote_write entry %d (%s): %w", i+1, rw.URL.Redacted(), redactedError{err})
		}
	}
	return nil
}

// Apply switches the queues to the remote_write entries of cfg. Queues of
// unchanged entries carry on with their position in the WAL (their client
// is rebuilt, so a rotated password takes effect); queues of changed or
// removed entries stop, after up to the flush deadline; new ones start
// from the newest samples. extLabels are added to every series sent that
// does not already carry a label of the same name, as Prometheus'
// external_labels are.
func (w *Writer) Apply(cfg *configs.Config, extLabels labels.Labels) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("remote_write: already closed")
	}
	if w.storage == nil {
		if len(cfg.RemoteWrite) == 0 {
			return nil
		}
		w.storage = remote.NewStorage(w.opts.Logger, w.opts.Registerer, nil, w.opts.Dir, w.opts.FlushDeadline, noScrapes{}, false)
		w.stop = make(chan struct{})
		w.done.Go(func() { w.forward(w.storage, w.stop) })
		w.live.Store(w.storage)
	}
	pc := &config.Config{
		GlobalConfig:       config.GlobalConfig{ExternalLabels: extLabels},
		RemoteWriteConfigs: cfg.RemoteWrite,
	}
	if err := w.storage.ApplyConfig(pc); err != nil {
		return fmt.Errorf("remote_write: %w", redactedError{err})
	}
	return nil
}

// Notify tells the queues that the TSDB wrote to its WAL, so that they read
// it now instead of at their next poll (every 15s). The TSDB calls it after
// each commit, on the probe's or the rule's goroutine, so it never waits:
// Prometheus' own Notify waits while a queue is being replaced, which takes
// up to the flush deadline. Notices that arrive meanwhile become one.
func (w *Writer) Notify() {
	select {
	case w.notified <- struct{}{}:
	default:
	}
}

// Appended tells the queues that n samples up to ts were stored, as
// Prometheus' fanout storage does: their rate and the newest timestamp
// decide how many shards each queue runs, so that a backlog after an
// outage of the endpoint is sent in parallel. It never waits.
func (w *Writer) Appended(ts time.Time, n int) {
	s := w.live.Load()
	if s == nil || n == 0 {
		return
	}
	app := s.AppenderV2(context.Background())
	t := ts.UnixMilli()
	for range n {
		// The tracker counts samples and keeps the newest timestamp; it
		// reads nothing else.
		_, _ = app.Append(0, labels.EmptyLabels(), 0, t, 0, nil, nil, storage.AOptions{})
	}
	_ = app.Commit()
}

// forward passes notices on to the queues until stop is closed.
func (w *Writer) forward(s *remote.Storage, stop <-chan struct{}) {
	for {
		select {
		case <-w.notified:
			s.Notify()
		case <-stop:
			return
		}
	}
}

// Close stops every queue, each sending what it holds for up to the flush
// deadline.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.live.Store(nil)
	if w.storage == nil {
		return nil
	}
	close(w.stop)
	w.done.Wait()
	err := w.storage.Close()
	w.storage = nil
	if err != nil {
		return fmt.Errorf("remote_write: close: %w", err)
	}
	return nil
}

// clientConfig is what Prometheus' remote storage builds its client from.
func clientConfig(rw *config.RemoteWriteConfig) *remote.ClientConfig {
	return &remote.ClientConfig{
		URL:              rw.URL,
		WriteProtoMsg:    rw.ProtobufMessage,
		Timeout:          rw.RemoteTimeout,
		HTTPClientConfig: rw.HTTPClientConfig,
		SigV4Config:      rw.SigV4Config,
		AzureADConfig:    rw.AzureADConfig,
		GoogleIAMConfig:  rw.GoogleIAMConfig,
		Headers:          rw.Headers,
		RetryOnRateLimit: rw.QueueConfig.RetryOnRateLimit,
		RoundRobinDNS:    rw.RoundRobinDNS,
	}
}

// noScrapes stands for Prometheus' scrape manager, which the queues ask for
// metric metadata: tocsin scrapes nothing, so there is none to send.
type noScrapes struct{}

func (noScrapes) Get() (*scrape.Manager, error) {
	return nil, errors.New("tocsin has no scrape manager")
}
