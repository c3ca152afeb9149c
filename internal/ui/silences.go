package ui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/compat"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-alerting/tocsin/internal/api"
)

// PathSilences is the silences page, relative to the route prefix.
const PathSilences = "/silences"

// defaultSilenceFor is the duration the form offers.
const defaultSilenceFor = "2h"

// maxFormBytes bounds a form's body; a silence is a few hundred bytes.
const maxFormBytes = 64 << 10

// silenceForm is what a person typed, shown back when it is refused.
type silenceForm struct {
	Matchers, Duration, EndsAt, CreatedBy, Comment string
}

// silenceRow is one silence as the page lists it.
type silenceRow struct {
	ID, State, CreatedBy, Comment string
	Matchers                      []string
	StartsAt, EndsAt, UpdatedAt   time.Time
	// Mutes are the alerts an active silence mutes now.
	Mutes []api.Alert
}

// silencesPage is the data of /silences.
type silencesPage struct {
	Active, Pending, Expired []silenceRow
	Form                     silenceForm
	// Error says why the last form was refused; Notice what it did.
	Error, Notice string
	CSRF          string
	// Unavailable says why no silence can be listed or made.
	Unavailable string
}

func (u *UI) silencesPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	form := silenceForm{Matchers: q.Get("matchers"), Duration: defaultSilenceFor}
	notice := ""
	if id := q.Get("created"); id != "" {
		notice = "Silence " + id + " created."
	}
	if id := q.Get("expired"); id != "" {
		notice = "Silence " + id + " expired."
	}
	u.renderSilences(w, r, http.StatusOK, form, "", notice)
}

// renderSilences writes /silences with the form as given and, when the
// form was refused, why.
func (u *UI) renderSilences(w http.ResponseWriter, r *http.Request, code int, form silenceForm, errMsg, notice string) {
	snap := u.src.Snapshot()
	st := api.NewStatus(snap, u.now())
	data := silencesPage{Form: form, Error: errMsg, Notice: notice, CSRF: u.csrf.token(w, r)}
	if err := u.listSilences(r.Context(), &data, st.Alerts); err != nil {
		data.Unavailable = err.Error()
	}
	u.render(w, code, "silences", page{Title: "Silences", Nav: "silences", Status: st, Data: data})
}

var errNoSilences = errors.New("this tocsin keeps no silences")

func (u *UI) listSilences(ctx context.Context, data *silencesPage, alerts []api.Alert) error {
	if u.sils == nil {
		return errNoSilences
	}
	sils, err := u.sils.Query(ctx)
	if err != nil {
		return fmt.Errorf("silences cannot be listed: %w", err)
	}
	mutes := map[string][]api.Alert{}
	for _, a := range alerts {
		for _, id := range u.silencedBy(ctx, a.Labels) {
			mutes[id] = append(mutes[id], a)
		}
	}
	for _, s := range sils {
		row := silenceRow{
			ID: s.Id, CreatedBy: s.CreatedBy, Comment: s.Comment, Mutes: mutes[s.Id],
			StartsAt: s.StartsAt.AsTime(), EndsAt: s.EndsAt.AsTime(), UpdatedAt: s.UpdatedAt.AsTime(),
		}
		for _, set := range s.MatcherSets {
			for _, m := range set.Matchers {
				row.Matchers = append(row.Matchers, matcherText(m))
			}
		}
		switch silence.CurrentState(row.StartsAt, row.EndsAt) {
		case silence.SilenceStateActive:
			row.State = "active"
			data.Active = append(data.Active, row)
		case silence.SilenceStatePending:
			row.State = "pending"
			data.Pending = append(data.Pending, row)
		default:
			row.State = "expired"
			data.Expired = append(data.Expired, row)
		}
	}
	// Soonest to end first; expired ones most recent first.
	byEnd := func(a, b silenceRow) int { return a.EndsAt.Compare(b.EndsAt) }
	slices.SortFunc(data.Active, byEnd)
	slices.SortFunc(data.Pending, func(a, b silenceRow) int { return a.StartsAt.Compare(b.StartsAt) })
	slices.SortFunc(data.Expired, func(a, b silenceRow) int { return -byEnd(a, b) })
	return nil
}

// matcherText writes a silence's matcher in Alertmanager's syntax.
func matcherText(m *silencepb.Matcher) string {
	t := map[silencepb.Matcher_Type]amlabels.MatchType{
		silencepb.Matcher_EQUAL: amlabels.MatchEqual, silencepb.Matcher_NOT_EQUAL: amlabels.MatchNotEqual,
		silencepb.Matcher_REGEXP: amlabels.MatchRegexp, silencepb.Matcher_NOT_REGEXP: amlabels.MatchNotRegexp,
	}[m.Type]
	lm, err := amlabels.NewMatcher(t, m.Name, m.Pattern)
	if err != nil {
		return fmt.Sprintf("%s ? %q", m.Name, m.Pattern)
	}
	return lm.String()
}

// silencedBy returns the IDs of the active silences that mute an alert
// with these labels.
func (u *UI) silencedBy(ctx context.Context, lbls map[string]string) []string {
	if u.sils == nil {
		return nil
	}
	ids, err := u.sils.MutedBy(ctx, u.dispatcherLabels(lbls, true))
	if err != nil {
		u.logger.Warn("status page: which silences mute an alert", "err", err)
	}
	return ids
}

// dispatcherLabels are an alert's labels as the dispatcher matches them
// against silences: with the external labels when withExternal is set,
// and without replica in a cluster, where the pipeline takes it out so
// that the replicas' alerts are one alert.
func (u *UI) dispatcherLabels(lbls map[string]string, withExternal bool) model.LabelSet {
	ls := model.LabelSet{}
	snap := u.src.Snapshot()
	if withExternal && snap.Config != nil {
		maps.Copy(ls, snap.Config.Global.ExternalLabels)
		ls["replica"] = model.LabelValue(snap.Config.Global.Replica)
	}
	for k, v := range lbls {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	if snap.Cluster != nil {
		delete(ls, "replica")
	}
	return ls
}

// silenceLink is the form prefilled with matchers for an alert's labels,
// alertname first, as Alertmanager's own pages prefill it.
func (u *UI) silenceLink(lbls map[string]string) string {
	ls := u.dispatcherLabels(lbls, false)
	keys := slices.Sorted(maps.Keys(ls))
	slices.SortStableFunc(keys, func(a, b model.LabelName) int {
		return boolRank(b == model.AlertNameLabel) - boolRank(a == model.AlertNameLabel)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		m, err := amlabels.NewMatcher(amlabels.MatchEqual, string(k), string(ls[k]))
		if err == nil {
			parts = append(parts, m.String())
		}
	}
	return u.prefix + PathSilences + "?matchers=" + strings.ReplaceAll(url.QueryEscape("{"+strings.Join(parts, ", ")+"}"), "+", "%20") + "#new"
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkForm parses a POSTed form and checks its CSRF token. It answers the
// request itself, and returns false, when the form cannot be used.
func (u *UI) checkForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.renderSilences(w, r, http.StatusBadRequest, silenceForm{Duration: defaultSilenceFor}, "The form could not be read: "+err.Error(), "")
		return false
	}
	if !u.csrf.valid(r) {
		u.renderSilences(w, r, http.StatusForbidden, formOf(r),
			"The form's security token is missing or out of date (tocsin may have restarted since the page was loaded). Nothing was changed; check the form and send it again.", "")
		return false
	}
	if u.sils == nil {
		u.renderSilences(w, r, http.StatusServiceUnavailable, formOf(r), errNoSilences.Error()+".", "")
		return false
	}
	return true
}

func formOf(r *http.Request) silenceForm {
	f := r.PostForm
	return silenceForm{
		Matchers: f.Get("matchers"), Duration: f.Get("duration"), EndsAt: f.Get("ends_at"),
		CreatedBy: f.Get("created_by"), Comment: f.Get("comment"),
	}
}

// createSilence makes a silence from the form and sends the browser back
// to the list (POST-redirect-GET), or shows the form again with why it
// was refused.
func (u *UI) createSilence(w http.ResponseWriter, r *http.Request) {
	if !u.checkForm(w, r) {
		return
	}
	form := formOf(r)
	sil, err := form.silence(u.now())
	if err == nil {
		err = u.sils.Set(r.Context(), sil)
	}
	if err != nil {
		u.renderSilences(w, r, http.StatusBadRequest, form, "The silence was not created: "+err.Error(), "")
		return
	}
	u.logger.Info("silence created on the status page", "id", sil.Id, "created_by", sil.CreatedBy)
	http.Redirect(w, r, u.prefix+PathSilences+"?created="+url.QueryEscape(sil.Id), http.StatusSeeOther)
}

func (u *UI) expireSilence(w http.ResponseWriter, r *http.Request) {
	if !u.checkForm(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := u.sils.Expire(r.Context(), id); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, silence.ErrNotFound) {
			code = http.StatusNotFound
		}
		u.renderSilences(w, r, code, silenceForm{Duration: defaultSilenceFor}, fmt.Sprintf("Silence %s was not expired: %v", id, err), "")
		return
	}
	u.logger.Info("silence expired on the status page", "id", id)
	http.Redirect(w, r, u.prefix+PathSilences+"?expired="+url.QueryEscape(id), http.StatusSeeOther)
}

// endFormats are the end times the form takes, in UTC.
var endFormats = []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// silence checks the form and builds the silence it asks for, starting now.
func (f silenceForm) silence(now time.Time) (*silencepb.Silence, error) {
	if strings.TrimSpace(f.Matchers) == "" {
		return nil, errors.New(`matchers are required, for example {alertname="ProbeFailing", probe="api"}`)
	}
	ms, err := compat.Matchers(f.Matchers, "web")
	if err != nil {
		return nil, fmt.Errorf("the matchers do not parse: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("matchers select nothing; give at least one")
	}
	end, err := f.end(now)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(f.CreatedBy) == "" {
		return nil, errors.New("created by is required, so that others know whom to ask")
	}
	if strings.TrimSpace(f.Comment) == "" {
		return nil, errors.New("a comment is required: say why the alerts are muted")
	}
	set := &silencepb.MatcherSet{}
	for _, m := range ms {
		set.Matchers = append(set.Matchers, &silencepb.Matcher{Name: m.Name, Pattern: m.Value, Type: matcherType(m.Type)})
	}
	return &silencepb.Silence{
		MatcherSets: []*silencepb.MatcherSet{set},
		StartsAt:    timestamppb.New(now), EndsAt: timestamppb.New(end),
		CreatedBy: strings.TrimSpace(f.CreatedBy), Comment: strings.TrimSpace(f.Comment),
	}, nil
}

// end is the end time the form gives, or now plus its duration; an end
// time wins over the duration.
func (f silenceForm) end(now time.Time) (time.Time, error) {
	if s := strings.TrimSpace(f.EndsAt); s != "" {
		for _, layout := range endFormats {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				if !t.After(now) {
					return time.Time{}, fmt.Errorf("end %s is not in the future", t.UTC().Format("2006-01-02 15:04 UTC"))
				}
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("end %q is not a time; write it as 2006-01-02 15:04 (UTC) or in RFC 3339", s)
	}
	s := strings.TrimSpace(f.Duration)
	if s == "" {
		return time.Time{}, errors.New("give a duration (such as 2h or 1d) or an end time")
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("duration %q is not a positive duration such as 30m, 2h or 1d", s)
	}
	return now.Add(time.Duration(d)), nil
}

func matcherType(t amlabels.MatchType) silencepb.Matcher_Type {
	switch t {
	case amlabels.MatchNotEqual:
		return silencepb.Matcher_NOT_EQUAL
	case amlabels.MatchRegexp:
		return silencepb.Matcher_REGEXP
	case amlabels.MatchNotRegexp:
		return silencepb.Matcher_NOT_REGEXP
	}
	return silencepb.Matcher_EQUAL
}
