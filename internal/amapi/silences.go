package amapi

import (
	"errors"
	"net/http"

	"github.com/go-openapi/strfmt"
	v2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/alertmanager/silence"
)

// silencesReady answers 503 when tocsin keeps no silences yet.
func (a *API) silencesReady(w http.ResponseWriter) bool {
	if a.opts.Silences == nil {
		writeError(w, http.StatusServiceUnavailable, "silences are not available yet")
		return false
	}
	return true
}

func (a *API) getSilences(w http.ResponseWriter, r *http.Request) {
	if !a.silencesReady(w) {
		return
	}
	matchers, err := filterParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var states []silence.SilenceState
	for _, p := range []struct {
		name  string
		state silence.SilenceState
	}{{"active", silence.SilenceStateActive}, {"pending", silence.SilenceStatePending}, {"expired", silence.SilenceStateExpired}} {
		on, err := boolParam(r, p.name, true)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if on {
			states = append(states, p.state)
		}
	}
	sils, err := a.opts.Silences.Query(r.Context(), silence.QState(states...))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := models.GettableSilences{}
	for _, s := range sils {
		if !v2.CheckSilenceMatchesFilterLabels(s, matchers) {
			continue
		}
		gs, err := v2.GettableSilenceFromProto(s)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, &gs)
	}
	v2.SortSilences(out)
	writeJSON(w, http.StatusOK, out)
}

// postSilence creates a silence, or updates the one with the given ID,
// and answers once it is on disk.
func (a *API) postSilence(w http.ResponseWriter, r *http.Request) {
	if !a.silencesReady(w) {
		return
	}
	var in models.PostableSilence
	if !a.decodeBody(w, r, &in) {
		return
	}
	if err := in.Validate(strfmt.Default); err != nil {
		writeError(w, http.StatusBadRequest, "invalid silence: "+err.Error())
		return
	}
	sil, err := v2.PostableSilenceToProto(&in)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid silence: "+err.Error())
		return
	}
	if !sil.StartsAt.AsTime().Before(sil.EndsAt.AsTime()) {
		writeError(w, http.StatusBadRequest, "invalid silence: start time must be before end time")
		return
	}
	if sil.EndsAt.AsTime().Before(a.opts.Now()) {
		writeError(w, http.StatusBadRequest, "invalid silence: end time can't be in the past")
		return
	}
	if err := a.opts.Silences.Set(r.Context(), sil); err != nil {
		if errors.Is(err, silence.ErrNotFound) {
			writeError(w, http.StatusNotFound, "silence "+in.ID+" not found")
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": sil.Id})
}

func (a *API) getSilence(w http.ResponseWriter, r *http.Request) {
	if !a.silencesReady(w) {
		return
	}
	id := r.PathValue("id")
	sils, err := a.opts.Silences.Query(r.Context(), silence.QIDs(id))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if len(sils) == 0 {
		writeError(w, http.StatusNotFound, "silence "+id+" not found")
		return
	}
	gs, err := v2.GettableSilenceFromProto(sils[0])
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, &gs)
}

// deleteSilence expires a silence and answers once that is on disk.
func (a *API) deleteSilence(w http.ResponseWriter, r *http.Request) {
	if !a.silencesReady(w) {
		return
	}
	id := r.PathValue("id")
	if err := a.opts.Silences.Expire(r.Context(), id); err != nil {
		if errors.Is(err, silence.ErrNotFound) {
			writeError(w, http.StatusNotFound, "silence "+id+" not found")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}
