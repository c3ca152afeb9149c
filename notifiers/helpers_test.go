package notifiers

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is a Notifier that keeps what it receives and answers as told.
type recorder struct {
	mu    sync.Mutex
	got   []*Notification
	calls chan *Notification
	// answer decides the reply to the n-th call (1-based); nil accepts.
	answer func(ctx context.Context, call int, n *Notification) (bool, error)
}

func newRecorder() *recorder { return &recorder{calls: make(chan *Notification, 100000)} }

func (r *recorder) Notify(ctx context.Context, n *Notification) (bool, error) {
	r.mu.Lock()
	r.got = append(r.got, n)
	call := len(r.got)
	r.mu.Unlock()
	r.calls <- n
	if r.answer == nil {
		return false, nil
	}
	return r.answer(ctx, call, n)
}

func (r *recorder) received() []*Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Notification(nil), r.got...)
}

// next waits for the next call.
func (r *recorder) next(t *testing.T) *Notification {
	t.Helper()
	select {
	case n := <-r.calls:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
		return nil
	}
}

// hang answers only when the attempt's context ends.
func hang(ctx context.Context, _ int, _ *Notification) (bool, error) {
	<-ctx.Done()
	return true, ctx.Err()
}

// harness is a dispatcher on a fake clock with a log buffer and a registry.
type harness struct {
	d       *Dispatcher
	clock   *fakeClock
	reg     *prometheus.Registry
	logs    *syncBuffer
	flushes chan string
	cancel  context.CancelFunc
	done    chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// routeCfg builds a route configuration from its main values.
func routeCfg(receiver string, groupBy []model.LabelName, wait, interval, repeat time.Duration, routes ...*configs.Route) *configs.Route {
	w, i, r := model.Duration(wait), model.Duration(interval), model.Duration(repeat)
	return &configs.Route{Receiver: receiver, GroupBy: groupBy, GroupWait: &w, GroupInterval: &i, RepeatInterval: &r, Routes: routes}
}

func newHarness(t *testing.T, rc *configs.Route, opts Options, receivers ...*Receiver) *harness {
	t.Helper()
	route, err := NewRoute(rc)
	require.NoError(t, err)
	h := &harness{clock: newFakeClock(), reg: prometheus.NewRegistry(), logs: &syncBuffer{}, flushes: make(chan string, 100000), done: make(chan struct{})}
	if c, ok := opts.Clock.(*fakeClock); ok {
		h.clock = c // a restarted dispatcher goes on with the same time
	}
	opts.Clock = h.clock
	opts.Registerer = h.reg
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Jitter == nil {
		opts.Jitter = func() float64 { return 0 }
	}
	h.d, err = NewDispatcher(route, receivers, opts)
	require.NoError(t, err)
	h.d.onFlushDone = func(key string, _ bool) { h.flushes <- key }
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		_ = h.d.Run(ctx)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// waitFlushes waits until n group deliveries have finished.
func (h *harness) waitFlushes(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.flushes:
		case <-time.After(10 * time.Second):
			t.Fatal("a flush did not finish")
		}
	}
}

func receiver(name, strategy string, failoverAfter time.Duration, ins ...Integration) *Receiver {
	for i := range ins {
		if ins[i].Index == 0 && ins[i].Name == "" {
			ins[i].Name = "vendor" + strconv.Itoa(i)
		}
	}
	return &Receiver{Name: name, Strategy: strategy, FailoverAfter: failoverAfter, Integrations: ins}
}

func integration(name string, n Notifier, sendResolved bool) Integration {
	return Integration{Name: name, Notifier: n, SendResolved: sendResolved}
}

func alert(now time.Time, kv ...string) *model.Alert {
	ls := model.LabelSet{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	return &model.Alert{Labels: ls, StartsAt: now, EndsAt: now.Add(time.Hour)}
}
