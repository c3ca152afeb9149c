// Package server is tocsin's HTTP surface: metrics, health, readiness,
// lifecycle, and the endpoints other components mount (webhooks,
// heartbeats, pages, APIs). It applies the protections every endpoint
// shares: the web config (TLS, client certificates, basic auth), a route
// prefix, body size limits and connection timeouts.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// ShutdownTimeout bounds how long in-flight requests may take once tocsin stops.
const ShutdownTimeout = 5 * time.Second

// Options configure a Server.
type Options struct {
	// ListenAddress is host:port; port 0 picks a free port (see Addr).
	ListenAddress string
	// WebConfigFile is a web configuration file in the format every
	// Prometheus-ecosystem server reads (exporter-toolkit): TLS, client
	// certificates, basic auth with bcrypt hashes. Empty serves plain HTTP
	// without authentication. The file is re-read on every request and
	// every new TLS connection, so certificates and users can be rotated
	// without a restart.
	WebConfigFile string
	// RoutePrefix is the path every endpoint is served under, such as
	// "/tocsin" behind a reverse proxy; empty or "/" serves at the root.
	RoutePrefix string
	// EnableLifecycle turns on POST /-/reload and POST /-/quit. Off, both
	// answer 403, as in Prometheus.
	EnableLifecycle bool
	// Limits bound request bodies and connection times; zero fields take
	// DefaultLimits' values.
	Limits Limits
	Logger *slog.Logger
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Reload is called by POST /-/reload; its error is returned to the caller.
	Reload func(ctx context.Context) error
	// Quit is called by POST /-/quit to stop tocsin gracefully.
	Quit func()
	// Ready reports whether tocsin has a working configuration.
	Ready func() bool
}

// Server serves tocsin's HTTP endpoints.
type Server struct {
	opts   Options
	mux    *http.ServeMux
	ln     net.Listener
	prefix string
}

// New builds a Server; Listen and Serve start it.
func New(opts Options) *Server {
	opts.Limits = opts.Limits.withDefaults()
	s := &Server{opts: opts, mux: http.NewServeMux(), prefix: normalizePrefix(opts.RoutePrefix)}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "tocsin is healthy.")
	})
	s.mux.HandleFunc("GET /-/ready", s.ready)
	// Registered for every method, so that a GET is told 405 here rather
	// than falling through to the status pages' catch-all.
	s.mux.HandleFunc("/-/reload", s.lifecycle(s.reload))
	s.mux.HandleFunc("/-/quit", s.lifecycle(s.quit))
	return s
}

// normalizePrefix turns "", "/" and "/tocsin/" into "" and "/tocsin".
func normalizePrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// Handle mounts another component's handler, such as the probe webhooks.
// pattern is relative to the route prefix.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns every route behind the route prefix and the body limit:
// what Serve answers with, less the web config's authentication and TLS.
func (s *Server) Handler() http.Handler {
	var h http.Handler = limitBody(s.mux, s.opts.Limits.MaxRequestBodyBytes)
	if s.prefix == "" {
		return h
	}
	inner := http.StripPrefix(s.prefix, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == s.prefix:
			http.Redirect(w, r, s.prefix+"/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, s.prefix+"/"):
			inner.ServeHTTP(w, r)
		case r.URL.Path == "/" && r.Method == http.MethodGet:
			// As Prometheus does: the bare host leads to the prefixed root.
			http.Redirect(w, r, s.prefix+"/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Ready != nil && !s.opts.Ready() {
		http.Error(w, "tocsin is not ready.", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "tocsin is ready.")
}

// lifecycle guards an endpoint that changes what the process does.
func (s *Server) lifecycle(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if !s.opts.EnableLifecycle {
			http.Error(w, "Lifecycle API is not enabled; start tocsin with --web.enable-lifecycle.", http.StatusForbidden)
			return
		}
		h(w, r)
	}
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

func (s *Server) quit(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Quit == nil {
		http.Error(w, "quit is not available", http.StatusNotImplemented)
		return
	}
	fmt.Fprintln(w, "Requesting termination... Goodbye!")
	s.opts.Quit()
}

// Listen checks the web config and binds the listen address, so that a bad
// web config or a port in use is reported before anything else starts.
func (s *Server) Listen() error {
	if err := web.Validate(s.opts.WebConfigFile); err != nil {
		return fmt.Errorf("web config %s: %w", s.opts.WebConfigFile, err)
	}
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
	l := s.opts.Limits
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	webConfig := s.opts.WebConfigFile
	errc := make(chan error, 1)
	go func() {
		errc <- web.Serve(s.ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, s.opts.Logger)
	}()
	s.opts.Logger.Info("listening", "address", s.ln.Addr().String(), "route_prefix", s.prefix+"/")
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
