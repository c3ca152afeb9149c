package amapi

import (
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/common/model"
)

// toAlerts converts a POST's alerts for the dispatcher, as Alertmanager's
// OpenAPIAlertsToAlerts does (annotations are never nil), in one slice,
// and leaves out labels with an empty value, which Alertmanager treats as
// absent. The dispatcher holds every alert until it resolves, so in a
// storm what it keeps per alert sets the peak memory: the label names and
// values the alerts of one request repeat (alertname, job, severity, a
// rule's group) are kept once, and alerts whose annotations are the same
// (a rule whose annotations do not name the instance) share one set.
// The dispatcher never changes a label set it holds.
func toAlerts(in models.PostableAlerts) []alert.Alert {
	sh := labelSharer{strs: map[string]string{}}
	out := make([]alert.Alert, len(in))
	for i, pa := range in {
		out[i].Alert = model.Alert{
			Labels:       sh.labels(pa.Labels),
			Annotations:  sh.annotations(pa.Annotations),
			StartsAt:     time.Time(pa.StartsAt),
			EndsAt:       time.Time(pa.EndsAt),
			GeneratorURL: sh.str(string(pa.GeneratorURL)),
		}
	}
	return out
}

// labelSharer keeps one copy of the strings and annotation sets that the
// alerts of one request repeat.
type labelSharer struct {
	strs map[string]string
	// recent are the last distinct annotation sets, newest last: a rule's
	// alerts come together, and a short list finds them without a key.
	recent []model.LabelSet
}

// maxRecentAnnotations bounds the annotation sets an alert is compared
// with, so that a request of distinct ones costs little more than before.
const maxRecentAnnotations = 4

func (sh *labelSharer) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := sh.strs[s]; ok {
		return v
	}
	sh.strs[s] = s
	return s
}

func (sh *labelSharer) labels(in models.LabelSet) model.LabelSet {
	out := make(model.LabelSet, len(in))
	for k, v := range in {
		if v != "" {
			out[model.LabelName(sh.str(k))] = model.LabelValue(sh.str(v))
		}
	}
	return out
}

func (sh *labelSharer) annotations(in models.LabelSet) model.LabelSet {
	for i := len(sh.recent) - 1; i >= 0; i-- {
		if sameLabels(sh.recent[i], in) {
			return sh.recent[i]
		}
	}
	out := make(model.LabelSet, len(in))
	for k, v := range in {
		out[model.LabelName(sh.str(k))] = model.LabelValue(sh.str(v))
	}
	if len(sh.recent) == maxRecentAnnotations {
		sh.recent = append(sh.recent[:0], sh.recent[1:]...)
	}
	sh.recent = append(sh.recent, out)
	return out
}

func sameLabels(a model.LabelSet, b models.LabelSet) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if w, ok := a[model.LabelName(k)]; !ok || string(w) != v {
			return false
		}
	}
	return true
}
