package configs

import (
	htmltemplate "html/template"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// TemplateField is one message template of an integration as written in
// the config, with its place, so that a check that renders it can point
// at it.
type TemplateField struct {
	// Key names the field: "title", "details.summary", ...
	Key  string
	Text string
	// HTML tells that the field renders as HTML (an email body).
	HTML bool
	// SendResolved tells that the integration is told of resolved alerts,
	// so the template renders resolved notifications too.
	SendResolved bool
	// Label and RouteLabels are set for the value of a route's label:
	// its name, and every label of the route, inherited ones included,
	// which the value renders with (it may refer to them with routeLabels).
	Label       model.LabelName
	RouteLabels model.LabelSet
	Pos         Error
	// Rendered, when set, judges what the template renders to: a webhook
	// URL must be an absolute http or https URL.
	Rendered func(out string) error
	// offset is where the text starts from Pos.Column when it is written
	// on one line in the file (1 past a quote), or -1.
	offset int
}

// At places a problem at line and column col (counted from 0, as Go's
// templates report them) of the template text. The column is exact for a
// template written on one line, plain or quoted without escapes; anywhere
// else the problem is placed at the field.
func (f TemplateField) At(line, col int) Error {
	e := f.Pos
	if f.offset >= 0 && line == 1 {
		e.Column += f.offset + col
	}
	return e
}

// TemplateFields returns every message template of every integration of a
// loaded config, and the value of every route label.
func (c *Config) TemplateFields() []TemplateField { return c.templateFields }

// addTemplateNode records the template text written at n and returns it,
// or nil when n is no place in the file.
func (v *validator) addTemplateNode(n *yaml.Node, text, key string) *TemplateField {
	if n == nil {
		return nil // a default (pagerduty's client), not the user's
	}
	f := TemplateField{Key: key, Text: text, HTML: key == "html", SendResolved: v.sendResolved}
	v.templateFields = append(v.templateFields, placeTemplate(f, n, v.file))
	return &v.templateFields[len(v.templateFields)-1]
}

// addRouteLabel files the value of a route's label, written at n.
func (v *validator) addRouteLabel(n *yaml.Node, name model.LabelName, merged model.LabelSet) {
	f := TemplateField{Key: "labels." + string(name), Text: n.Value, Label: name, RouteLabels: merged}
	v.templateFields = append(v.templateFields, placeTemplate(f, n, v.file))
}

// placeTemplate sets the place of f's text, written at n in file.
func placeTemplate(f TemplateField, n *yaml.Node, file string) TemplateField {
	f.Pos = Error{File: file, Line: n.Line, Column: n.Column}
	f.offset = -1
	text := f.Text
	// Escapes inside quotes would shift the columns: only texts without
	// them are placed inside.
	oneLine := n.Kind == yaml.ScalarNode && !strings.Contains(text, "\n")
	switch {
	case oneLine && n.Style == 0:
		f.offset = 0
	case oneLine && n.Style == yaml.SingleQuotedStyle && !strings.Contains(text, "'"):
		f.offset = 1
	case oneLine && n.Style == yaml.DoubleQuotedStyle && !strings.ContainsAny(text, "\"\\"):
		f.offset = 1
	}
	return f
}

// TemplatePaths expands the templates globs, relative to the config file,
// into file paths.
func (c *Config) TemplatePaths() ([]string, error) {
	return c.expandGlobs("templates", c.Templates)
}

// validateTemplateFiles parses every template file the templates globs
// match, with Alertmanager's default templates and functions, so that a
// syntax error is reported at load time with the file's own line.
func (c *Config) validateTemplateFiles(v *validator) {
	for i := range c.Templates {
		pattern := &c.Templates[i]
		path := *pattern
		if !filepath.IsAbs(path) {
			path = filepath.Join(v.dir, path)
		}
		if _, err := filepath.Match(path, ""); err != nil {
			v.errorf(pattern, "templates: bad pattern %q: %v", *pattern, err)
			continue
		}
		if _, err := amtemplate.FromGlobs([]string{path}, templateFuncsOption(TemplateFuncNames())); err != nil {
			v.errorf(pattern, "templates: %s", strings.TrimPrefix(err.Error(), "template: "))
		}
	}
}

// TemplateFuncNames are the functions message templates may call:
// Alertmanager's, and the few tocsin adds (the notifiers package
// implements those, and a test keeps both lists equal).
func TemplateFuncNames() []string {
	names := []string{"truncate", "formatTime", "safeHTML"}
	for name := range amtemplate.DefaultFuncs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// templateFuncsOption declares functions by name only, for parsing.
func templateFuncsOption(names []string) amtemplate.Option {
	return func(text *texttemplate.Template, html *htmltemplate.Template) {
		funcs := map[string]any{}
		for _, name := range names {
			funcs[name] = func(...any) string { return "" }
		}
		text.Funcs(funcs)
		html.Funcs(funcs)
	}
}
