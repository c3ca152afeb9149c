package amapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/alert"
	v2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

// postableAlert is models.PostableAlert with its fields side by side, so
// that a POST is decoded in one pass: the generated type decodes each
// alert twice (its own fields, then the embedded Alert's), which was half
// the time a storm took to be taken in. postable makes it the generated
// type, which validates and converts it as before.
type postableAlert struct {
	Annotations  models.LabelSet `json:"annotations,omitempty"`
	EndsAt       strfmt.DateTime `json:"endsAt,omitempty"`
	StartsAt     strfmt.DateTime `json:"startsAt,omitempty"`
	GeneratorURL strfmt.URI      `json:"generatorURL,omitempty"`
	Labels       models.LabelSet `json:"labels"`
}

// postable returns the alerts as the generated type, nil for null.
func postable(in []*postableAlert) models.PostableAlerts {
	if in == nil {
		return nil
	}
	out := make(models.PostableAlerts, len(in))
	for i, pa := range in {
		if pa == nil {
			continue
		}
		out[i] = &models.PostableAlert{
			Annotations: pa.Annotations, EndsAt: pa.EndsAt, StartsAt: pa.StartsAt,
			Alert: models.Alert{GeneratorURL: pa.GeneratorURL, Labels: pa.Labels},
		}
	}
	return out
}

// postAlerts takes alerts as Alertmanager does: each valid alert is filed,
// and the invalid ones are named in a 400.
func (a *API) postAlerts(w http.ResponseWriter, r *http.Request) {
	var body []*postableAlert
	if !a.decodeBody(w, r, &body) {
		return
	}
	in := postable(body)
	var invalid error
	for i, pa := range in {
		if pa == nil {
			invalid = errors.Join(invalid, fmt.Errorf("alert %d: null", i))
			continue
		}
		if err := pa.Validate(strfmt.Default); err != nil {
			invalid = errors.Join(invalid, fmt.Errorf("alert %d: %w", i, err))
		}
	}
	if invalid != nil {
		writeError(w, http.StatusBadRequest, invalid.Error())
		return
	}
	now, resolveTimeout := a.opts.Now(), a.resolveTimeout()
	valid := make([]*model.Alert, 0, len(in))
	alerts := toAlerts(in)
	for i := range alerts {
		al := &alerts[i]
		fillTimes(&al.Alert, now, resolveTimeout)
		if err := al.Validate(); err != nil {
			invalid = errors.Join(invalid, fmt.Errorf("alert %d %s: %w", i, al.Labels, err))
			continue
		}
		valid = append(valid, &al.Alert)
	}
	if len(valid) > 0 {
		if err := a.opts.Alerts.Ingest(valid...); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	}
	if invalid != nil {
		a.opts.Logger.Debug("alerts refused", "reason", invalid.Error(), "accepted", len(valid))
		writeError(w, http.StatusBadRequest, invalid.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// resolveTimeout is global.resolve_timeout of the config in force.
func (a *API) resolveTimeout() time.Duration {
	if cfg := a.config(); cfg != nil && cfg.Global.ResolveTimeout > 0 {
		return time.Duration(cfg.Global.ResolveTimeout)
	}
	return notifiers.DefaultResolveTimeout
}

// fillTimes sets the times Alertmanager sets on an alert that comes
// without them: it starts now (or when it ended), and ends after the
// resolve timeout unless it is sent again.
func fillTimes(al *model.Alert, now time.Time, resolveTimeout time.Duration) {
	if al.StartsAt.IsZero() {
		al.StartsAt = now
		if !al.EndsAt.IsZero() {
			al.StartsAt = al.EndsAt
		}
	}
	if al.EndsAt.IsZero() {
		al.EndsAt = now.Add(resolveTimeout)
	}
}

// alertFilter is what GET /api/v2/alerts and /alerts/groups select on.
// unprocessed is only checked for its syntax: tocsin files an alert into
// its groups as it arrives, so no alert is unprocessed.
type alertFilter struct {
	matchers                    []*labels.Matcher
	receiver                    *regexp.Regexp
	active, silenced, inhibited bool
	unprocessed                 bool
}

func parseAlertFilter(r *http.Request) (alertFilter, error) {
	var f alertFilter
	var err error
	if f.matchers, err = filterParam(r); err != nil {
		return f, err
	}
	if s := r.URL.Query().Get("receiver"); s != "" {
		if f.receiver, err = regexp.Compile("^(?:" + s + ")$"); err != nil {
			return f, fmt.Errorf("bad receiver regular expression %q: %w", s, err)
		}
	}
	for _, p := range []struct {
		name string
		to   *bool
	}{{"active", &f.active}, {"silenced", &f.silenced}, {"inhibited", &f.inhibited}, {"unprocessed", &f.unprocessed}} {
		if *p.to, err = boolParam(r, p.name, true); err != nil {
			return f, err
		}
	}
	return f, nil
}

// suppression tells an alert's status as Alertmanager's marker does: the
// ids of the silences that mute it and the fingerprints of the alerts that
// inhibit it, by the config's inhibit rules over every alert the
// dispatcher holds, as its inhibit stage judges them.
type suppression struct {
	silences func(model.LabelSet) ([]string, error)
	inhibit  *notifiers.Inhibitor
	now      time.Time
}

func (a *API) newSuppression(r *http.Request, groups []notifiers.AlertGroup, now time.Time) *suppression {
	s := &suppression{now: now, silences: func(model.LabelSet) ([]string, error) { return nil, nil }}
	if a.opts.Silences != nil {
		s.silences = func(ls model.LabelSet) ([]string, error) { return a.opts.Silences.MutedBy(r.Context(), ls) }
	}
	if cfg := a.config(); cfg != nil && len(cfg.InhibitRules) > 0 {
		s.inhibit = notifiers.NewInhibitor(cfg.InhibitRules)
		var held []*model.Alert
		for _, g := range groups {
			held = append(held, g.Alerts...)
		}
		s.inhibit.Replace(held...)
	}
	return s
}

func (s *suppression) status(ls model.LabelSet) (alert.AlertStatus, error) {
	silencedBy, err := s.silences(ls)
	if err != nil {
		return alert.AlertStatus{}, err
	}
	st := alert.AlertStatus{State: alert.AlertStateActive, SilencedBy: silencedBy, InhibitedBy: []string{}}
	if s.inhibit != nil {
		for _, fp := range s.inhibit.InhibitedBy(ls, s.now) {
			st.InhibitedBy = append(st.InhibitedBy, fp.String())
		}
	}
	if st.SilencedBy == nil {
		st.SilencedBy = []string{}
	}
	if len(st.SilencedBy) > 0 || len(st.InhibitedBy) > 0 {
		st.State = alert.AlertStateSuppressed
	}
	return st, nil
}

// gettable is one alert as the API shows it, or nil when the filter
// leaves it out, as Alertmanager's filter does. Resolved alerts that wait
// for their resolve to be delivered are left out, as in Alertmanager.
// mutedBy names the time intervals that mute the group's notifications
// now, which Alertmanager shows on its groups' alerts.
func (a *API) gettable(f alertFilter, sup *suppression, al *model.Alert, receivers, mutedBy []string) (*models.GettableAlert, error) {
	if !al.EndsAt.After(sup.now) || !matchesAll(f.matchers, al.Labels) {
		return nil, nil
	}
	if f.receiver != nil && !slices.ContainsFunc(receivers, f.receiver.MatchString) {
		return nil, nil
	}
	status, err := sup.status(al.Labels)
	if err != nil {
		return nil, err
	}
	if (status.State == alert.AlertStateActive && !f.active) ||
		(len(status.SilencedBy) > 0 && !f.silenced) ||
		(len(status.InhibitedBy) > 0 && !f.inhibited) {
		return nil, nil
	}
	// tocsin does not keep when an alert was last sent to it; its start
	// is the closest it knows.
	out := v2.AlertToOpenAPIAlert(&alert.Alert{Alert: *al, UpdatedAt: al.StartsAt}, status, receivers, mutedBy)
	return out, nil
}

// getAlerts lists the alerts the dispatcher holds, each once with every
// receiver whose groups hold it.
func (a *API) getAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	type entry struct {
		al        *model.Alert
		receivers []string
	}
	byFP := map[model.Fingerprint]*entry{}
	groups := a.opts.Alerts.AlertGroups()
	for _, g := range groups {
		for _, al := range g.Alerts {
			fp := al.Fingerprint()
			e, ok := byFP[fp]
			if !ok {
				e = &entry{al: al}
				byFP[fp] = e
			}
			if !slices.Contains(e.receivers, g.Receiver) {
				e.receivers = append(e.receivers, g.Receiver)
			}
		}
	}
	sup := a.newSuppression(r, groups, a.opts.Now())
	out := models.GettableAlerts{}
	for _, e := range byFP {
		slices.Sort(e.receivers)
		ga, err := a.gettable(f, sup, e.al, e.receivers, nil)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if ga != nil {
			out = append(out, ga)
		}
	}
	slices.SortFunc(out, func(x, y *models.GettableAlert) int { return strings.Compare(*x.Fingerprint, *y.Fingerprint) })
	writeJSON(w, http.StatusOK, out)
}

// getAlertGroups lists the dispatcher's groups with the alerts the filter
// selects; a group left with none is not shown, nor with muted=false one
// that a time interval mutes now.
func (a *API) getAlertGroups(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	showMuted, err := boolParam(r, "muted", true)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	groups := a.opts.Alerts.AlertGroups()
	now := a.opts.Now()
	sup := a.newSuppression(r, groups, now)
	out := models.AlertGroups{}
	for _, g := range groups {
		var mutedBy []string
		if g.Route != nil {
			_, mutedBy = g.Route.MutedAt(now)
		}
		if len(mutedBy) > 0 && !showMuted {
			continue
		}
		receivers := []string{g.Receiver}
		ag := &models.AlertGroup{
			Labels:      v2.ModelLabelSetToAPILabelSet(g.Labels),
			RouteLabels: v2.ModelLabelSetToAPILabelSet(g.RouteLabels),
			Receiver:    &models.ReceiverReference{Name: &receivers[0]},
			Alerts:      []*models.GettableAlert{},
		}
		for _, al := range g.Alerts {
			ga, err := a.gettable(f, sup, al, receivers, mutedBy)
			if err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			if ga != nil {
				ag.Alerts = append(ag.Alerts, ga)
			}
		}
		if len(ag.Alerts) > 0 {
			out = append(out, ag)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
