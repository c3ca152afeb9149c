// Package amapi serves Alertmanager's HTTP API v2 on tocsin's web address,
// so that Prometheus, vmalert, Thanos Ruler and the Loki ruler can send
// alerts to tocsin, and amtool can query alerts, manage silences and show
// the routes.
//
// It is written on Alertmanager's own api/v2 models and conversions, and
// serves them with net/http. Alertmanager's generated restapi server was
// weighed: it owns routing, parameter binding and error bodies through
// go-openapi's middleware, which answers 422 where Alertmanager's clients
// are used to a 400 with a reason, and has no place for a body limit.
// Alertmanager's api/v2 API type itself is bound to its alert store,
// dispatcher and config types, which tocsin replaces.
package amapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	amcluster "github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v2/"

// DefaultMaxBodyBytes bounds a request body, as tocsin's web server bounds
// every body. Prometheus sends at most 256 alerts per request (its
// notifier batches them), a few hundred kilobytes.
const DefaultMaxBodyBytes = 1 << 20

// Alerts is where alerts go in and come out: the pipeline's dispatcher.
type Alerts interface {
	// Ingest files alerts into the route tree, as the rules' own alerts.
	Ingest(alerts ...*model.Alert) error
	// AlertGroups returns the groups the dispatcher holds.
	AlertGroups() []notifiers.AlertGroup
}

// Options configure the API.
type Options struct {
	Alerts   Alerts
	Silences *silences.Store
	// Config returns the configuration in force.
	Config func() *configs.Config
	// Peer, when set, is this replica's cluster membership, shown by
	// /api/v2/status; without it the cluster status is "disabled".
	Peer amcluster.ClusterPeer
	// Started is shown as the uptime of /api/v2/status.
	Started      time.Time
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// API serves Alertmanager's API v2.
type API struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the API; mount it on Prefix.
func New(opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /api/v2/alerts", a.postAlerts)
	a.mux.HandleFunc("GET /api/v2/alerts", a.getAlerts)
	a.mux.HandleFunc("GET /api/v2/alerts/groups", a.getAlertGroups)
	a.mux.HandleFunc("GET /api/v2/status", a.getStatus)
	a.mux.HandleFunc("GET /api/v2/receivers", a.getReceivers)
	a.mux.HandleFunc("GET /api/v2/silences", a.getSilences)
	a.mux.HandleFunc("POST /api/v2/silences", a.postSilence)
	a.mux.HandleFunc("GET /api/v2/silence/{id}", a.getSilence)
	a.mux.HandleFunc("DELETE /api/v2/silence/{id}", a.deleteSilence)
	return a
}

// ServeHTTP serves the API's routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the reason as a JSON string, which is what
// Alertmanager's clients (amtool) decode from an error response.
func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, reason)
}

// decodeBody reads a JSON body of at most MaxBodyBytes into v, answering
// 413 or 400 itself when it cannot.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge,
				"request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes; send fewer alerts per request")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// boolParam reads a boolean query parameter with a default.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("query parameter " + name + " must be true or false, not " + strconv.Quote(s))
	}
	return b, nil
}

// filterParam parses the filter= matchers, in Alertmanager's syntax.
func filterParam(r *http.Request) ([]*labels.Matcher, error) {
	var out []*labels.Matcher
	for _, s := range r.URL.Query()["filter"] {
		m, err := parse.Matcher(s)
		if err != nil {
			return nil, errors.New("bad filter " + strconv.Quote(s) + ": " + err.Error())
		}
		out = append(out, m)
	}
	return out, nil
}

func matchesAll(ms []*labels.Matcher, ls model.LabelSet) bool {
	for _, m := range ms {
		if !m.Matches(string(ls[model.LabelName(m.Name)])) {
			return false
		}
	}
	return true
}
