package configs

import (
	"encoding/json"
	"path"
	"reflect"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

//go:generate go test -run ^TestSchemaIsUpToDate$ -update-schema .

// SchemaFile is the JSON Schema of tocsin.yml, generated from the Config
// type by Schema and checked in next to this file, for editors (VS Code's
// YAML extension, JetBrains IDEs) to validate and complete as people type.
const SchemaFile = "tocsin.schema.json"

// durationPattern is what model.ParseDuration accepts.
const durationPattern = `^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`

// schemaOverrides describe the types that decode themselves from YAML in a
// shape their Go type does not show.
var schemaOverrides = map[reflect.Type]func() map[string]any{
	reflect.TypeFor[model.Duration](): func() map[string]any {
		return map[string]any{"type": "string", "pattern": durationPattern, "description": "a duration such as 1500ms, 10s, 5m, 1h30m, 2d"}
	},
	reflect.TypeFor[config.Secret](): func() map[string]any {
		return map[string]any{"type": "string", "description": "a secret; prefer the *_file key beside it"}
	},
	reflect.TypeFor[config.URL](): func() map[string]any {
		return map[string]any{"type": "string", "format": "uri"}
	},
	reflect.TypeFor[config.TLSVersion](): func() map[string]any {
		return map[string]any{"type": "string", "enum": []string{"TLS10", "TLS11", "TLS12", "TLS13"}}
	},
	reflect.TypeFor[relabel.Regexp](): func() map[string]any {
		return map[string]any{"type": "string", "description": "an RE2 regular expression, anchored at both ends"}
	},
	reflect.TypeFor[TLSPolicy](): func() map[string]any {
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "string", "enum": []string{string(TLSMandatory), string(TLSOpportunistic), string(TLSNone)}},
		}}
	},
	reflect.TypeFor[WebhookPayload](): func() map[string]any {
		return map[string]any{"description": "any YAML value, posted as JSON; every string in it is a template"}
	},
	// Alertmanager's time intervals, as written in its configuration.
	reflect.TypeFor[timeinterval.TimeRange](): func() map[string]any {
		hhmm := map[string]any{"type": "string", "pattern": `^([01]?[0-9]|2[0-4]):[0-5][0-9]$`}
		return map[string]any{"type": "object", "additionalProperties": false, "required": []string{"start_time", "end_time"},
			"properties": map[string]any{"start_time": hhmm, "end_time": hhmm}}
	},
	reflect.TypeFor[timeinterval.WeekdayRange]():    rangeSchema("a weekday or a range: monday, monday:friday"),
	reflect.TypeFor[timeinterval.DayOfMonthRange](): rangeSchema("a day of the month or a range, negative from the end: 1, 1:5, -3:-1"),
	reflect.TypeFor[timeinterval.MonthRange]():      rangeSchema("a month or a range, by name or number: january, 1:3"),
	reflect.TypeFor[timeinterval.YearRange]():       rangeSchema("a year or a range: 2026, 2026:2027"),
	reflect.TypeFor[timeinterval.Location](): func() map[string]any {
		return map[string]any{"type": "string", "description": "an IANA time zone such as Europe/Berlin"}
	},
}

// rangeSchema is a time interval's range: one value or BEGIN:END.
func rangeSchema(description string) func() map[string]any {
	return func() map[string]any {
		return map[string]any{"type": []string{"string", "integer"}, "description": description}
	}
}

// Schema returns the JSON Schema (draft-07, which editors support best) of
// tocsin.yml, derived from the Config type: every key with its type,
// unknown keys refused as Load refuses them.
func Schema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	root := g.of(reflect.TypeFor[Config]())
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://github.com/tocsin-alerting/tocsin/configs/" + SchemaFile
	root["title"] = "tocsin service configuration (tocsin.yml)"
	root["definitions"] = g.defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

type schemaGen struct {
	defs map[string]any
}

// of returns the schema of t; named structs go into definitions and are
// referred to, so that recursive types (a route's routes) end.
func (g *schemaGen) of(t reflect.Type) map[string]any {
	if o, ok := schemaOverrides[t]; ok {
		return o()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Struct:
		if t == reflect.TypeFor[Config]() {
			return g.object(t)
		}
		name := defName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = true // placeholder while the fields are walked
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/definitions/" + name}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}

// object is a struct's schema: its yaml keys, inline structs merged, and
// no other key, unless an inline map takes them (http_headers).
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	for name, idx := range yamlFields(t) {
		props[name] = g.of(t.FieldByIndex(idx).Type)
	}
	obj := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if elem, ok := inlineMap(t); ok {
		obj["additionalProperties"] = g.of(elem)
	}
	return obj
}

// defName names a definition after its package and type: ProbeConfig in
// tocsin's configs, config.TLSConfig in Prometheus' config package.
func defName(t reflect.Type) string {
	if t.PkgPath() == reflect.TypeFor[Config]().PkgPath() {
		return t.Name()
	}
	return path.Base(t.PkgPath()) + "." + t.Name()
}
