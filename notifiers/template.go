package notifiers

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	amalert "github.com/prometheus/alertmanager/alert"
	amnotify "github.com/prometheus/alertmanager/notify"
	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
)

// Names of tocsin's default templates. A user's template may call them, as
// in `{{ template "tocsin.title" . }} (eu-1)`, as well as Alertmanager's
// (`{{ template "slack.default.title" . }}`) and those of the config's
// templates: files.
const (
	TemplateTitle = "tocsin.title"
	TemplateText  = "tocsin.text"
	TemplateSMS   = "tocsin.sms"
	TemplateHTML  = "tocsin.html"
)

// defaultTemplates say what failed, where, since when, and where the
// runbook is, in a form every vendor can show.
const defaultTemplates = `
{{- define "tocsin.title" -}}
{{ if .Test }}[TEST] {{ end }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}] {{ .Name }}
{{- with .GroupLabels.Remove (stringSlice "alertname") }} ({{ .String }}){{ end }}
{{- end -}}

{{- define "tocsin.alert" -}}
{{ .Labels.alertname }}{{ with .Annotations.summary }}: {{ . }}{{ end }}
{{- with .Labels.Remove (stringSlice "alertname") }}
  where: {{ .String }}{{ end }}
  since: {{ .StartsAt | formatTime }}{{ if eq .Status "resolved" }}, resolved {{ .EndsAt | formatTime }}{{ end }}
{{- with .Annotations.description }}
  details: {{ . }}{{ end }}
{{- with .Annotations.runbook_url }}
  runbook: {{ . }}{{ end }}
{{- with .GeneratorURL }}
  source: {{ . }}{{ end }}
{{- end -}}

{{- define "tocsin.text" -}}
{{ if .Test }}This is a test page from tocsin notify test; no action is needed.
{{ end -}}
{{ with .Alerts.Firing }}Firing:
{{ range .Limit 20 }}- {{ template "tocsin.alert" . }}
{{ end }}{{ with .More 20 }}- and {{ . }} more
{{ end }}{{ end -}}
{{ with .Alerts.Resolved }}Resolved:
{{ range .Limit 20 }}- {{ template "tocsin.alert" . }}
{{ end }}{{ with .More 20 }}- and {{ . }} more
{{ end }}{{ end -}}
{{ with .ExternalURL }}tocsin: {{ . }}{{ end }}
{{- end -}}

{{- define "tocsin.sms" -}}
{{ template "tocsin.title" . }}
{{- with .Alerts }}{{ with index . 0 }}{{ with .Annotations.summary }}: {{ . }}{{ end }} since {{ .StartsAt | formatTime }}
{{- with .Annotations.runbook_url }} {{ . }}{{ end }}{{ end }}{{ end }}
{{- end -}}
`

// defaultHTML is the HTML mail body; html/template escapes every label value.
const defaultHTML = `
{{- define "tocsin.html" -}}
<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>{{ template "tocsin.title" . }}</h2>
{{ if .Test }}<p><b>This is a test page from tocsin notify test; no action is needed.</b></p>{{ end }}
{{ range .Alerts.Limit 40 }}
<div style="margin-bottom:1em;border-left:4px solid {{ if eq .Status "firing" }}#d00{{ else }}#090{{ end }};padding-left:8px">
<b>{{ .Status | toUpper }}: {{ .Labels.alertname }}</b>{{ with .Annotations.summary }} — {{ . }}{{ end }}<br>
{{ with .Labels.Remove (stringSlice "alertname") }}where: {{ .String }}<br>{{ end }}
since: {{ .StartsAt | formatTime }}{{ if eq .Status "resolved" }}, resolved {{ .EndsAt | formatTime }}{{ end }}<br>
{{ with .Annotations.description }}{{ . }}<br>{{ end }}
{{ with .Annotations.runbook_url }}<a href="{{ . }}">runbook</a> {{ end }}{{ with .GeneratorURL }}<a href="{{ . }}">source</a>{{ end }}
</div>
{{ end }}
{{ with .Alerts.More 40 }}<p>and {{ . }} more</p>{{ end }}
{{ with .ExternalURL }}<p><a href="{{ . }}">tocsin</a></p>{{ end }}
</body></html>
{{- end -}}
`

// TemplateFuncs are the functions message templates may call:
// Alertmanager's, and the few tocsin adds. The names must match
// configs.TemplateFuncNames, which checks templates at load time.
func TemplateFuncs() map[string]any {
	funcs := tocsinFuncs()
	for name, f := range amtemplate.DefaultFuncs {
		funcs[name] = f
	}
	return funcs
}

// tocsinFuncs are tocsin's additions to Alertmanager's functions, kept for
// the templates written for tocsin before it spoke Alertmanager's.
func tocsinFuncs() map[string]any {
	return map[string]any{
		"truncate":   func(n int, s string) string { return Truncate(s, n) },
		"formatTime": formatTime,
		"safeHTML":   func(s string) htmltemplate.HTML { return htmltemplate.HTML(s) },
	}
}

// formatTime shows a time in UTC, to the second, the same on every replica.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Templates is the set of named templates that message templates can
// call: Alertmanager's defaults, tocsin's, and those of the config's
// templates: files, which may redefine any of them. It renders with
// Alertmanager's template package, so templates written for Alertmanager
// work unchanged.
type Templates struct {
	am *amtemplate.Template
	// text and html are am's own template sets, which every parse adds to
	// (see render).
	text *texttemplate.Template
	html *htmltemplate.Template
	log  *slog.Logger
}

// NewTemplates parses the default templates and the given template files
// (paths, not globs), in order. log receives a warning whenever a
// template fails while sending and its default is sent instead; nil
// discards.
func NewTemplates(paths []string, log *slog.Logger) (*Templates, error) {
	ts := &Templates{log: log}
	withTocsinFuncs := func(text *texttemplate.Template, html *htmltemplate.Template) {
		text.Funcs(tocsinFuncs())
		html.Funcs(tocsinFuncs())
		ts.text, ts.html = text, html
	}
	am, err := amtemplate.FromGlobs(nil, withTocsinFuncs)
	if err != nil {
		return nil, fmt.Errorf("alertmanager default templates: %w", err)
	}
	for _, def := range []string{defaultTemplates, defaultHTML} {
		if err := am.Parse(strings.NewReader(def)); err != nil {
			return nil, fmt.Errorf("default templates: %w", err)
		}
	}
	for _, p := range paths {
		if err := am.FromGlob(p); err != nil {
			return nil, fmt.Errorf("template file %s: %w", p, err)
		}
	}
	if ts.log == nil {
		ts.log = slog.New(slog.DiscardHandler)
	}
	ts.am = am
	return ts, nil
}

// defaultSet holds the default templates, parsed once: every vendor
// built without a config's templates shares them.
var defaultSet = sync.OnceValues(func() (*Templates, error) { return NewTemplates(nil, nil) })

func (ts *Templates) orDefault() (*Templates, error) {
	if ts != nil {
		return ts, nil
	}
	return defaultSet()
}

// Template is one piece of message text: a user's template from the
// config, or one of the defaults.
type Template struct {
	set  *Templates
	text string
	// fallback is the default template sent instead when text fails.
	fallback string
	html     bool
}

// Parse prepares text (a user's template) for rendering; an empty text
// renders the default template named fallback. The text is rendered once
// against a sample firing notification, so that a template that cannot
// render is refused here, where the config is loaded, rather than when it
// pages. A nil set has only the default templates.
func (ts *Templates) Parse(text, fallback string) (*Template, error) {
	return ts.parse(text, fallback, false)
}

// ParseHTML is Parse for HTML, escaping every value.
func (ts *Templates) ParseHTML(text, fallback string) (*Template, error) {
	return ts.parse(text, fallback, true)
}

func (ts *Templates) parse(text, fallback string, html bool) (*Template, error) {
	return ts.check(text, fallback, html, model.AlertFiring)
}

// check is parse with the sample notifications of the given statuses.
func (ts *Templates) check(text, fallback string, html bool, statuses ...model.AlertStatus) (*Template, error) {
	set, err := ts.orDefault()
	if err != nil {
		return nil, err
	}
	t := &Template{set: set, text: text, fallback: fallback, html: html}
	if text == "" && fallback != "" {
		t.text = callTemplate(fallback)
	}
	for _, status := range statuses {
		if _, err := t.render(t.text, SampleTemplateData(status)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func callTemplate(name string) string { return `{{ template "` + name + `" . }}` }

// ParseTemplate is Parse with the default templates only.
func ParseTemplate(text, fallback string) (*Template, error) {
	return (*Templates)(nil).Parse(text, fallback)
}

// ParseHTMLTemplate is ParseHTML with the default templates only.
func ParseHTMLTemplate(text, fallback string) (*Template, error) {
	return (*Templates)(nil).ParseHTML(text, fallback)
}

// MustTemplate is ParseTemplate for texts known to be valid, such as the defaults.
func MustTemplate(text, fallback string) *Template {
	t, err := ParseTemplate(text, fallback)
	if err != nil {
		panic(err)
	}
	return t
}

// Execute renders the template for a notification prepared once with
// NewTemplateData, so that several templates share the work. When a
// user's template fails on this notification's data although it rendered
// the sample, its default is sent instead, with a warning in the log: a
// page with the default text is better than no page.
func (t *Template) Execute(data *TemplateData) (string, error) {
	out, err := t.render(t.text, data)
	if err != nil && t.fallback != "" && t.text != callTemplate(t.fallback) {
		t.set.log.Warn("message template failed; sending the default instead", "default", t.fallback, "err", err)
		out, err = t.render(callTemplate(t.fallback), data)
	}
	if err != nil {
		return "", fmt.Errorf("render message template: %w", err)
	}
	return out, nil
}

// render executes text as Alertmanager's ExecuteTextString and
// ExecuteHTMLString do: on a copy of the template set, with missing keys
// rendering empty, and with the routeLabels function bound to this
// notification. Alertmanager binds routeLabels only when its own Data is
// the data, and tocsin's TemplateData wraps it, so the function comes
// from Alertmanager's RouteLabelRenderer over the wrapped Data.
func (t *Template) render(text string, data *TemplateData) (string, error) {
	out, err := t.set.execute(text, data, t.html)
	return strings.TrimSpace(out), err
}

// execute renders text for render, untrimmed.
func (ts *Templates) execute(text string, data *TemplateData, html bool) (string, error) {
	if text == "" {
		return "", nil
	}
	funcs := map[string]any{"routeLabels": ts.am.RouteLabelRenderer(&data.Data)}
	var b strings.Builder
	var err error
	if html {
		err = executeSet(ts.html, text, funcs, &b, data)
	} else {
		err = executeSet(ts.text, text, funcs, &b, data)
	}
	if err != nil {
		return "", cleanTemplateError(err)
	}
	return b.String(), nil
}

// goTemplate is what text/template and html/template share.
type goTemplate[T any] interface {
	Clone() (T, error)
	New(name string) T
	Option(opt ...string) T
	Funcs(funcs texttemplate.FuncMap) T
	Parse(text string) (T, error)
	Execute(w io.Writer, data any) error
}

func executeSet[T goTemplate[T]](set T, text string, funcs map[string]any, w io.Writer, data any) error {
	tmpl, err := set.Clone()
	if err != nil {
		return err
	}
	if tmpl, err = tmpl.New("").Option("missingkey=zero").Funcs(funcs).Parse(text); err != nil {
		return err
	}
	return tmpl.Execute(w, data)
}

// cleanTemplateError drops the anonymous template's empty name that
// Alertmanager's package leaves in errors (`template: :1:3: ...`).
func cleanTemplateError(err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: :")
	if !ok {
		return err
	}
	return fmt.Errorf("line %s", strings.Replace(rest, `executing "" at `, "", 1))
}

// TemplateAlerts is the list of alerts as templates see it: Alertmanager's,
// with Limit and More so that a message about a storm stays readable.
type TemplateAlerts []amtemplate.Alert

// Firing returns the alerts still firing.
func (as TemplateAlerts) Firing() TemplateAlerts { return as.with(string(model.AlertFiring)) }

// Resolved returns the alerts that resolved.
func (as TemplateAlerts) Resolved() TemplateAlerts { return as.with(string(model.AlertResolved)) }

// Limit returns at most the first n alerts.
func (as TemplateAlerts) Limit(n int) TemplateAlerts {
	if len(as) > n {
		return as[:n]
	}
	return as
}

// More counts the alerts beyond the first n (0 when there are none).
func (as TemplateAlerts) More(n int) int { return max(len(as)-n, 0) }

func (as TemplateAlerts) with(status string) TemplateAlerts {
	out := TemplateAlerts{}
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// TemplateData is what a message template renders: Alertmanager's
// template data (Receiver, Status, Alerts, GroupLabels, CommonLabels,
// CommonAnnotations, ExternalURL), and a few fields of tocsin's own.
type TemplateData struct {
	amtemplate.Data
	// Alerts are Data.Alerts, with tocsin's Limit and More.
	Alerts   TemplateAlerts
	GroupKey string
	DedupKey string
	// Test marks a page sent by `tocsin notify test`.
	Test bool
}

// Name is the best short name of the group: its alertname, or "alerts".
func (d *TemplateData) Name() string {
	for _, kv := range []amtemplate.KV{d.GroupLabels, d.CommonLabels} {
		if n := kv["alertname"]; n != "" {
			return n
		}
	}
	if d.Test {
		return "tocsin test page"
	}
	return "alerts"
}

// NewTemplateData prepares n for a template, as Alertmanager does.
func NewTemplateData(n *Notification) *TemplateData {
	if c := n.tmpl; c != nil {
		// Every integration of a receiver renders the same notification:
		// Alertmanager's Data computes each alert's fingerprint and label
		// maps, worth doing once, not once per vendor and field. Only the
		// reason may differ between integrations.
		c.once.Do(func() { c.data = newTemplateData(n) })
		if c.data.NotificationReason == n.NotificationReason() {
			return c.data
		}
		d := *c.data
		d.NotificationReason = n.NotificationReason()
		return &d
	}
	return newTemplateData(n)
}

// NotificationReason is n's reason as templates and the webhook's JSON
// see it: Alertmanager's "unknown" when none was given.
func (n *Notification) NotificationReason() string {
	if n.Reason == "" {
		return amnotify.ReasonUnknown.String()
	}
	return n.Reason
}

// templateCache holds a notification's template data once it is made.
type templateCache struct {
	once sync.Once
	data *TemplateData
}

func newTemplateData(n *Notification) *TemplateData {
	am := dataOf(n.ExternalURL).Data(n.Receiver, n.GroupLabels, n.RouteLabels, n.NotificationReason(), amAlerts(n.Alerts)...)
	// The route's labels were rendered when the group was flushed:
	// routeLabels returns them as they are.
	amtemplate.MarkRouteLabelsRendered(am)
	if n.Status != "" {
		am.Status = string(n.Status)
	} else if len(n.Alerts) == 0 {
		am.Status = string(model.AlertFiring)
	}
	if len(n.Alerts) == 0 {
		am.CommonLabels, am.CommonAnnotations = toKV(n.CommonLabels), toKV(n.CommonAnnotations)
	}
	return &TemplateData{Data: *am, Alerts: TemplateAlerts(am.Alerts), GroupKey: n.GroupKey, DedupKey: n.DedupKey, Test: n.Test}
}

// dataOf is a template set that makes only template data, which links
// back to externalURL.
func dataOf(externalURL string) *amtemplate.Template {
	u, err := url.Parse(externalURL)
	if err != nil {
		u = &url.URL{}
	}
	return &amtemplate.Template{ExternalURL: u}
}

// amAlerts wraps alerts as Alertmanager's template data takes them.
func amAlerts(as []*model.Alert) []*amalert.Alert {
	out := make([]*amalert.Alert, len(as))
	for i, a := range as {
		out[i] = &amalert.Alert{Alert: *a}
	}
	return out
}

func toKV(ls model.LabelSet) amtemplate.KV {
	kv := make(amtemplate.KV, len(ls))
	for k, v := range ls {
		kv[string(k)] = string(v)
	}
	return kv
}

// SampleTemplateData is a notification of the given status with the
// labels and annotations alerts usually carry, for checking templates
// before they are needed.
func SampleTemplateData(status model.AlertStatus) *TemplateData {
	return NewTemplateData(sampleNotification(status))
}

// sampleNotification is the notification SampleTemplateData shows:
// the first notification of a firing group, or the one that tells all its
// alerts resolved.
func sampleNotification(status model.AlertStatus) *Notification {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	labels := model.LabelSet{
		"alertname": "ProbeFailing", "severity": "critical", "probe": "broker-roundtrip", "kind": "roundtrip",
		"service": "device-broker", "replica": "eu-1", "instance": "broker:1883", "job": "tocsin",
	}
	other := labels.Clone()
	other["probe"], other["instance"] = "broker-to-webhook", "broker:8883"
	annotations := model.LabelSet{
		"summary": "no message passed the broker", "description": "broker-roundtrip failed 3 times in a row",
		"runbook_url": "https://runbooks.example/broker",
	}
	n := &Notification{
		Receiver: "sample", Status: status, GroupKey: `{}:{alertname="ProbeFailing"}`, DedupKey: "sample",
		GroupLabels: model.LabelSet{"alertname": "ProbeFailing"}, ExternalURL: "http://tocsin.example:9797",
		Reason: amnotify.ReasonFirstNotification.String(),
	}
	if status == model.AlertResolved {
		n.Reason = amnotify.ReasonAllAlertsResolved.String()
	}
	for _, ls := range []model.LabelSet{labels, other} {
		a := &model.Alert{Labels: ls, Annotations: annotations, StartsAt: start, GeneratorURL: "http://tocsin.example:9797/graph"}
		if status == model.AlertResolved {
			a.EndsAt = start.Add(5 * time.Minute)
		}
		n.Alerts = append(n.Alerts, a)
	}
	return n
}
