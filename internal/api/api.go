package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/rules"
)

// Source is what the API reads: the running pipeline.
type Source interface {
	Snapshot() pipeline.Snapshot
	// Queryable is the local TSDB; nil before the pipeline has a config.
	Queryable() storage.Queryable
}

// Options build an API.
type Options struct {
	Source Source
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// QueryTimeout bounds one PromQL query; zero means rules.DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may load; zero means 5,000,000.
	MaxSamples int
}

// API answers /api/v1/. Responses use Prometheus' envelope:
// {"status":"success","data":...} or {"status":"error","errorType":...,"error":...}.
type API struct {
	src    Source
	logger *slog.Logger
	now    func() time.Time
	engine func() *promql.Engine
	parser parser.Parser
}

// New builds the API. Its query engine is built on the first query: most
// tocsins are never queried, and an engine keeps its metrics' summaries.
func New(opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = rules.DefaultQueryTimeout
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 5_000_000
	}
	p := parser.NewParser(parser.Options{})
	return &API{
		src: opts.Source, logger: opts.Logger, now: opts.Now, parser: p,
		engine: sync.OnceValue(func() *promql.Engine {
			return promql.NewEngine(promql.EngineOpts{
				Logger:               opts.Logger.With("component", "query engine"),
				MaxSamples:           opts.MaxSamples,
				Timeout:              opts.QueryTimeout,
				LookbackDelta:        rules.DefaultLookbackDelta,
				EnableAtModifier:     true,
				EnableNegativeOffset: true,
				Parser:               p,
			})
		}),
	}
}

// Engine is the API's PromQL engine; the status pages draw their charts with it.
func (a *API) Engine() *promql.Engine { return a.engine() }

// Register mounts the endpoints on mux, under /api/v1/.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/status", a.status)
	mux.HandleFunc("GET /api/v1/probes", a.probes)
	mux.HandleFunc("GET /api/v1/probes/{name}", a.probe)
	mux.HandleFunc("GET /api/v1/alerts", a.alerts)
	mux.HandleFunc("GET /api/v1/rules", a.rules)
	mux.HandleFunc("GET /api/v1/receivers", a.receivers)
	a.registerQuery(mux)
}

func (a *API) status(w http.ResponseWriter, _ *http.Request) {
	writeData(w, NewStatus(a.src.Snapshot(), a.now()))
}

func (a *API) probes(w http.ResponseWriter, _ *http.Request) {
	writeData(w, ProbesOf(a.src.Snapshot(), a.now()))
}

func (a *API) probe(w http.ResponseWriter, r *http.Request) {
	d, ok := ProbeDetailOf(a.src.Snapshot(), r.PathValue("name"), a.now())
	if !ok {
		writeError(w, errNotFound, "no probe named "+r.PathValue("name"))
		return
	}
	writeData(w, d)
}

func (a *API) alerts(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]any{"alerts": AlertsOf(a.src.Snapshot())})
}

func (a *API) rules(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]any{"groups": RuleGroupsOf(a.src.Snapshot())})
}

func (a *API) receivers(w http.ResponseWriter, _ *http.Request) {
	writeData(w, Receivers{Integrations: IntegrationsOf(a.src.Snapshot())})
}

// response is Prometheus' API envelope.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// Error types of the envelope, with their HTTP status codes as Prometheus
// answers them.
type errorType struct {
	name string
	code int
}

var (
	errBadData     = errorType{"bad_data", http.StatusBadRequest}
	errExec        = errorType{"execution", http.StatusUnprocessableEntity}
	errTimeout     = errorType{"timeout", http.StatusServiceUnavailable}
	errCanceled    = errorType{"canceled", http.StatusServiceUnavailable}
	errInternal    = errorType{"internal", http.StatusInternalServerError}
	errNotFound    = errorType{"not_found", http.StatusNotFound}
	errUnavailable = errorType{"unavailable", http.StatusServiceUnavailable}
)

func writeData(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, response{Status: "success", Data: data})
}

func writeError(w http.ResponseWriter, t errorType, msg string) {
	writeJSON(w, t.code, response{Status: "error", ErrorType: t.name, Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v response) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
