package notifiers

import (
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
)

// Names of the default templates. A user's override may call them, as in
// `{{ template "tocsin.title" . }} (eu-1)`.
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
{{- with .GroupLabels.Without "alertname" }} ({{ .String }}){{ end }}
{{- end -}}

{{- define "tocsin.alert" -}}
{{ .Labels.alertname }}{{ with .Annotations.summary }}: {{ . }}{{ end }}
{{- with .Labels.Without "alertname" }}
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
{{ with .Labels.Without "alertname" }}where: {{ .String }}<br>{{ end }}
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

// TemplateFuncs are the functions message templates may call. The names
// must match configs.TemplateFuncNames, which checks templates at load time.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"toUpper":      strings.ToUpper,
		"toLower":      strings.ToLower,
		"trimSpace":    strings.TrimSpace,
		"join":         func(sep string, s []string) string { return strings.Join(s, sep) },
		"truncate":     func(n int, s string) string { return Truncate(s, n) },
		"reReplaceAll": reReplaceAll,
		"formatTime":   formatTime,
		"safeHTML":     func(s string) htmltemplate.HTML { return htmltemplate.HTML(s) },
	}
}

func reReplaceAll(pattern, repl, text string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", err
	}
	return re.ReplaceAllString(text, repl), nil
}

// formatTime shows a time in UTC, to the second, the same on every replica.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Template renders one piece of message text: a user's override from the
// config, or one of the defaults.
type Template struct {
	text *template.Template
	html *htmltemplate.Template
}

// ParseTemplate parses text (a user's override) with the default templates
// available to it; an empty text renders the default named fallback.
func ParseTemplate(text, fallback string) (*Template, error) {
	if text == "" {
		text = `{{ template "` + fallback + `" . }}`
	}
	t, err := template.New("").Funcs(TemplateFuncs()).Option("missingkey=zero").Parse(defaultTemplates)
	if err != nil {
		return nil, fmt.Errorf("default templates: %w", err)
	}
	if _, err := t.New("message").Parse(text); err != nil {
		return nil, err
	}
	return &Template{text: t.Lookup("message")}, nil
}

// ParseHTMLTemplate is ParseTemplate for HTML, escaping every value.
func ParseHTMLTemplate(text, fallback string) (*Template, error) {
	if text == "" {
		text = `{{ template "` + fallback + `" . }}`
	}
	t := htmltemplate.New("").Funcs(htmltemplate.FuncMap(TemplateFuncs())).Option("missingkey=zero")
	for _, def := range []string{defaultTemplates, defaultHTML} {
		if _, err := t.Parse(def); err != nil {
			return nil, fmt.Errorf("default templates: %w", err)
		}
	}
	if _, err := t.New("message").Parse(text); err != nil {
		return nil, err
	}
	return &Template{html: t.Lookup("message")}, nil
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
// NewTemplateData, so that several templates share the work.
func (t *Template) Execute(data *TemplateData) (string, error) {
	var b strings.Builder
	var err error
	if t.html != nil {
		err = t.html.Execute(&b, data)
	} else {
		err = t.text.Execute(&b, data)
	}
	if err != nil {
		return "", fmt.Errorf("render message template: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}

// KV is a set of labels or annotations as templates see them.
type KV map[string]string

// Names returns the keys in order.
func (kv KV) Names() []string {
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Values returns the values in the order of Names.
func (kv KV) Values() []string {
	out := make([]string, 0, len(kv))
	for _, k := range kv.Names() {
		out = append(out, kv[k])
	}
	return out
}

// Without returns a copy of kv without the given keys.
func (kv KV) Without(names ...string) KV {
	out := make(KV, len(kv))
	for k, v := range kv {
		if !slices.Contains(names, k) {
			out[k] = v
		}
	}
	return out
}

// String renders kv as "a=1, b=2" in key order.
func (kv KV) String() string {
	parts := make([]string, 0, len(kv))
	for _, k := range kv.Names() {
		parts = append(parts, k+"="+kv[k])
	}
	return strings.Join(parts, ", ")
}

func toKV(ls model.LabelSet) KV {
	kv := make(KV, len(ls))
	for k, v := range ls {
		kv[string(k)] = string(v)
	}
	return kv
}

// TemplateAlert is one alert as templates see it. Labels and annotations
// are converted only for the alerts a template shows, because a storm
// holds thousands of alerts and a message shows a few.
type TemplateAlert struct {
	Status       string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	alert        *model.Alert
}

// Labels returns the alert's labels.
func (a TemplateAlert) Labels() KV { return toKV(a.alert.Labels) }

// Annotations returns the alert's annotations.
func (a TemplateAlert) Annotations() KV { return toKV(a.alert.Annotations) }

// Fingerprint is the hash of the alert's labels, as Alertmanager shows it.
func (a TemplateAlert) Fingerprint() string { return a.alert.Fingerprint().String() }

// TemplateAlerts is a list of alerts with filters for templates.
type TemplateAlerts []TemplateAlert

// Firing returns the alerts still firing.
func (as TemplateAlerts) Firing() TemplateAlerts { return as.with(string(model.AlertFiring)) }

// Resolved returns the alerts that resolved.
func (as TemplateAlerts) Resolved() TemplateAlerts { return as.with(string(model.AlertResolved)) }

// Limit returns at most the first n alerts, so that a message about a
// storm of alerts stays readable and within the vendor's limits.
func (as TemplateAlerts) Limit(n int) TemplateAlerts {
	if len(as) > n {
		return as[:n]
	}
	return as
}

// More counts the alerts beyond the first n (0 when there are none).
func (as TemplateAlerts) More(n int) int { return max(len(as)-n, 0) }

func (as TemplateAlerts) with(status string) TemplateAlerts {
	var out TemplateAlerts
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// TemplateData is what a message template renders: the notification with
// labels as plain string maps, as in Alertmanager's templates.
type TemplateData struct {
	Receiver          string
	Status            string
	GroupKey          string
	DedupKey          string
	GroupLabels       KV
	CommonLabels      KV
	CommonAnnotations KV
	Alerts            TemplateAlerts
	ExternalURL       string
	Test              bool
}

// Name is the best short name of the group: its alertname, or "alerts".
func (d *TemplateData) Name() string {
	for _, kv := range []KV{d.GroupLabels, d.CommonLabels} {
		if n := kv["alertname"]; n != "" {
			return n
		}
	}
	if d.Test {
		return "tocsin test page"
	}
	return "alerts"
}

// NewTemplateData prepares n for a template.
func NewTemplateData(n *Notification) *TemplateData {
	d := &TemplateData{
		Receiver:          n.Receiver,
		Status:            string(n.Status),
		GroupKey:          n.GroupKey,
		DedupKey:          n.DedupKey,
		GroupLabels:       toKV(n.GroupLabels),
		CommonLabels:      toKV(n.CommonLabels),
		CommonAnnotations: toKV(n.CommonAnnotations),
		ExternalURL:       n.ExternalURL,
		Test:              n.Test,
		Alerts:            make(TemplateAlerts, 0, len(n.Alerts)),
	}
	if d.Status == "" {
		d.Status = string(model.AlertFiring)
		if len(n.Firing()) == 0 && len(n.Alerts) > 0 {
			d.Status = string(model.AlertResolved)
		}
	}
	for _, a := range n.Alerts {
		d.Alerts = append(d.Alerts, TemplateAlert{
			Status:       string(a.Status()),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			alert:        a,
		})
	}
	return d
}
