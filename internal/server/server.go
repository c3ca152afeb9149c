// Package server is tocsin's HTTP surface: metrics, health, readiness,
// reload, and the endpoints other components mount (webhooks, heartbeats).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ShutdownTimeout bounds how long in-flight requests may take once tocsin stops.
const ShutdownTimeout = 5 * time.Second

// Options configure a Server.
type Options struct {
	// ListenAddress is host:port; port 0 picks a free port (see Addr).
	ListenAddress string
	Logger        *slog.Logger
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Reload is called by POST /-/reload; its error is returned to the caller.
	Reload func(ctx context.Context) error
	// Ready reports whether tocsin has a working configuration.
	Ready func() bool
}

// Server serves tocsin's HTTP endpoints.
type Server struct {
	opts Options
	mux  *http.ServeMux
	ln   net.Listener
}

// New builds a Server; Listen and Serve start it.
func New(opts Options) *Server {
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "tocsin is healthy.")
	})
	s.mux.HandleFunc("GET /-/ready", s.ready)
	s.mux.HandleFunc("POST /-/reload", s.reload)
	return s
}

// Handle mounts another component's handler, such as the probe webhooks.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's routes, for tests.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Ready != nil && !s.opts.Ready() {
		http.Error(w, "tocsin is not ready.", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "tocsin is ready.")
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		http.Error(w, "reload is not available", http.StatusNotImplemented)
		return
	}
	if err := s.opts.Reload(r.Context()); err != nil {
		http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "config reloaded")
}

// Listen binds the listen address, so that errors such as a port in use are
// reported before anything else starts.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, once Listen has returned.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers requests until ctx is cancelled, then shuts down, giving
// in-flight requests at most ShutdownTimeout.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	s.opts.Logger.Info("listening", "address", s.ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
