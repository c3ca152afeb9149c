// Package ui serves tocsin's status pages: server-rendered HTML with
// html/template, embedded CSS and a few lines of optional JavaScript, so
// that every page reads the same with JavaScript off. The pages show what
// the JSON API under /api/v1/ answers, which this package mounts too.
package ui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tocsin-alerting/tocsin/internal/api"
	"github.com/tocsin-alerting/tocsin/internal/silences"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Options build the pages.
type Options struct {
	// Source is the running pipeline.
	Source api.Source
	// Silences, when set, are listed and made on /silences, and the
	// alerts they mute are marked on every page.
	Silences *silences.Store
	// ExternalURL is how people reach tocsin, as --web.external-url says;
	// its path is the prefix of every link in the pages.
	ExternalURL string
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// UI serves the status pages and the JSON API.
type UI struct {
	src    api.Source
	sils   *silences.Store
	csrf   *csrf
	api    *api.API
	logger *slog.Logger
	now    func() time.Time
	prefix string // path of the external URL, without trailing slash
	pages  *template.Template
	mux    *http.ServeMux
}

// Page paths, relative to the route prefix.
const (
	PathOverview  = "/"
	PathProbes    = "/probes/"
	PathAlerts    = "/alerts"
	PathReceivers = "/receivers"
	PathRules     = "/rules"
	PathConfig    = "/config"
)

// New parses the templates and builds the routes.
func New(opts Options) (*UI, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	prefix, err := LinkPrefix(opts.ExternalURL)
	if err != nil {
		return nil, err
	}
	u := &UI{
		src: opts.Source, sils: opts.Silences, csrf: newCSRF(prefix, strings.HasPrefix(opts.ExternalURL, "https:")), logger: opts.Logger, now: opts.Now, prefix: prefix, mux: http.NewServeMux(),
		api: api.New(api.Options{Source: opts.Source, Logger: opts.Logger, Now: opts.Now}),
	}
	if u.pages, err = parsePages(u.funcs()); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFiles, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	u.mux.HandleFunc("GET /{$}", u.overview)
	u.mux.HandleFunc("GET /probes/{name}", u.probe)
	u.mux.HandleFunc("GET /alerts", u.alerts)
	u.mux.HandleFunc("GET /silences", u.silencesPage)
	u.mux.HandleFunc("POST /silences", u.createSilence)
	u.mux.HandleFunc("POST /silences/{id}/expire", u.expireSilence)
	// Other methods are refused, not sent to the not-found page.
	u.mux.HandleFunc("/silences", onlyMethods("GET, POST"))
	u.mux.HandleFunc("/silences/{id}/expire", onlyMethods("POST"))
	u.mux.HandleFunc("GET /receivers", u.receivers)
	u.mux.HandleFunc("GET /rules", u.rules)
	u.mux.HandleFunc("GET /config", u.config)
	// Alerts sent before these pages existed link to Prometheus' graph page.
	u.mux.HandleFunc("GET /graph", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, u.prefix+PathAlerts, http.StatusFound)
	})
	u.api.Register(u.mux)
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.render(w, http.StatusNotFound, "notfound", page{Title: "Not found", Data: r.URL.Path})
	})
	return u, nil
}

// ServeHTTP serves the pages and the API, with paths relative to the route prefix.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

// Mount serves u on mux under routePrefix ("" or "/" for the root), as
// --web.route-prefix says. It mounts only the paths the pages and the API
// use, so that other components keep their own routes.
func (u *UI) Mount(mux interface {
	Handle(pattern string, h http.Handler)
}, routePrefix string) {
	p := strings.TrimSuffix(routePrefix, "/")
	if p == "" {
		mux.Handle("/", u)
		return
	}
	mux.Handle(p+"/", http.StripPrefix(p, u))
	mux.Handle("GET "+p, http.RedirectHandler(p+"/", http.StatusFound))
}

// LinkPrefix is the path of the external URL that links in pages start
// with: "" for http://host:9797/, "/tocsin" for https://host/tocsin/.
func LinkPrefix(externalURL string) (string, error) {
	if externalURL == "" {
		return "", nil
	}
	eu, err := url.Parse(externalURL)
	if err != nil {
		return "", fmt.Errorf("ui: external URL %q: %w", externalURL, err)
	}
	return strings.TrimSuffix(eu.Path, "/"), nil
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string // which menu entry is current
	Status api.Status
	Data   any
	// Refresh, when set, reloads the page after this many seconds
	// (no JavaScript needed).
	Refresh int
	// Silenced counts the alerts that active silences mute.
	Silenced int
}

func (u *UI) render(w http.ResponseWriter, code int, name string, p page) {
	if p.Status.Now.IsZero() {
		p.Status = api.NewStatus(u.src.Snapshot(), u.now())
	}
	for _, a := range p.Status.Alerts {
		if a.State == "firing" && len(u.silencedBy(context.Background(), a.Labels)) > 0 {
			p.Silenced++
		}
	}
	var buf bytes.Buffer
	if err := u.pages.ExecuteTemplate(&buf, name, p); err != nil {
		u.logger.Error("rendering a status page failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; see tocsin's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// pageNames are the pages; each is a template of its own name, between
// the layout's "top" and "bottom".
var pageNames = []string{"overview", "probe", "alerts", "silences", "receivers", "rules", "config", "notfound"}

// parsePages parses the layout, the shared parts and every page into one
// template set. One set, rather than a copy of the layout per page, keeps
// a single parse tree of each template and of the functions.
func parsePages(funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	for _, name := range pageNames {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("ui: templates: no page %q", name)
		}
	}
	return t, nil
}

func onlyMethods(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}
