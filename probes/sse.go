package probes

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

type sseKey struct {
	url, headers, bearer string
	tls                  configs.ProbeTLSConfig
	hasTLS               bool
}

// maxSSEBackoff caps the wait between reconnects of a broken stream.
const maxSSEBackoff = 30 * time.Second

// sseStream keeps one event stream open (reconnecting when it breaks) and
// hands every event's data to the matchers reading it.
type sseStream struct {
	pools  *connPools
	key    sseKey
	refs   int // guarded by pools.mu
	cfg    *configs.SSEExpect
	state  *connState
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	matchers map[*matcher]struct{}
}

func (p *connPools) sseExpecter(cfg *configs.SSEExpect, m *matcher) (expecter, error) {
	key := sseKey{url: cfg.URL, bearer: string(cfg.BearerToken)}
	if cfg.TLS != nil {
		key.tls, key.hasTLS = *cfg.TLS, true
	}
	hs := make([]string, 0, len(cfg.Headers))
	for k, v := range cfg.Headers {
		hs = append(hs, k+": "+v)
	}
	slices.Sort(hs)
	key.headers = strings.Join(hs, "\n")

	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sse[key]
	if !ok {
		tc, err := newTLSConfig(cfg.TLS, "")
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		s = &sseStream{pools: p, key: key, cfg: cfg, state: newConnState(), cancel: cancel, done: make(chan struct{}),
			client:   &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}},
			matchers: map[*matcher]struct{}{}}
		p.sse[key] = s
		go s.run(ctx)
	}
	s.refs++
	s.mu.Lock()
	s.matchers[m] = struct{}{}
	s.mu.Unlock()
	return &sseExpecter{s: s, m: m}, nil
}

// run reads the stream until cancelled, reconnecting with backoff.
func (s *sseStream) run(ctx context.Context) {
	defer close(s.done)
	backoff := reconnectDelay
	for {
		start := time.Now()
		err := s.read(ctx)
		s.state.setDown(err)
		if time.Since(start) > maxSSEBackoff {
			backoff = reconnectDelay // it worked for a while
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxSSEBackoff)
	}
}

// read opens the stream once and dispatches its events until it ends.
func (s *sseStream) read(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return cleanURLError(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	setHeaders(req, s.cfg.Headers, string(s.cfg.BearerToken))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", safeURL(s.cfg.URL), cleanURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", safeURL(s.cfg.URL), resp.StatusCode)
	}
	s.state.setUp()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxBody)
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of event
			if data.Len() > 0 {
				s.dispatch(data.Bytes())
				data.Reset()
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", safeURL(s.cfg.URL), err)
	}
	return fmt.Errorf("stream %s ended", safeURL(s.cfg.URL))
}

func (s *sseStream) dispatch(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range s.matchers {
		m.deliver(data)
	}
}

type sseExpecter struct {
	s *sseStream
	m *matcher
}

func (e *sseExpecter) ready(ctx context.Context) error {
	if _, err := e.s.state.await(ctx); err != nil {
		return withReason(ReasonSubscribe, fmt.Errorf("event stream: %w", err))
	}
	return nil
}

func (e *sseExpecter) close() {
	s := e.s
	s.mu.Lock()
	delete(s.matchers, e.m)
	s.mu.Unlock()
	p := s.pools
	p.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(p.sse, s.key)
	}
	p.mu.Unlock()
	if last {
		s.stop()
	}
}

func (s *sseStream) stop() {
	s.cancel()
	<-s.done
	s.client.CloseIdleConnections()
}
