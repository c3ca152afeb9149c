package configs

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decoding walks the yaml.Node tree against the Go type by hand, instead of
// yaml.Decoder with KnownFields, because the decoder stops at the first
// problem and reports lines without columns. Walking the tree lets tocsin
// report every unknown key, wrong type and bad value with file:line:col, and
// remember where each value came from so that validation can point at it too.

// positions maps a decoded value (by address and type) to the node it came
// from. The type is part of the key because a struct and its first field
// share an address.
type positions map[posKey]*yaml.Node

type posKey struct {
	addr uintptr
	typ  reflect.Type
}

// of returns the node that ptr (a pointer into a decoded value) came from,
// or nil when the value was not in the file.
func (p positions) of(ptr any) *yaml.Node {
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	return p[posKey{v.Pointer(), v.Elem().Type()}]
}

type decoder struct {
	*collector
	pos positions
}

var (
	unmarshalerType    = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteUnmarshal  = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	stringKindForError = map[reflect.Kind]string{
		reflect.Struct: "a mapping", reflect.Map: "a mapping", reflect.Slice: "a list",
	}
)

// decode fills v (addressable) from n, collecting every problem instead of
// stopping at the first.
func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v)
		return
	}
	if v.CanAddr() {
		d.pos[posKey{v.Addr().Pointer(), v.Type()}] = n
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if v.CanAddr() {
		pt := v.Addr().Type()
		if pt.Implements(unmarshalerType) || pt.Implements(obsoleteUnmarshal) {
			if err := n.Decode(v.Addr().Interface()); err != nil {
				d.at(n, "%s", cleanYAMLError(err))
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongKind(n, v)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		v.Set(s)
		for i, item := range n.Content {
			d.decode(item, s.Index(i))
		}
	case reflect.Map:
		d.decodeMap(n, v)
	default:
		if n.Kind != yaml.ScalarNode {
			d.wrongKind(n, v)
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.at(n, "%s", cleanYAMLError(err))
		}
	}
}

func (d *decoder) wrongKind(n *yaml.Node, v reflect.Value) {
	want, ok := stringKindForError[v.Kind()]
	if !ok {
		want = "a " + v.Kind().String()
	}
	d.at(n, "expected %s, got %s", want, nodeKind(n))
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, v)
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.Content)/2))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if seen[kn.Value] {
			d.at(kn, "key %q is repeated", kn.Value)
			continue
		}
		seen[kn.Value] = true
		key := reflect.New(v.Type().Key()).Elem()
		if err := kn.Decode(key.Addr().Interface()); err != nil {
			d.at(kn, "%s", cleanYAMLError(err))
			continue
		}
		val := reflect.New(v.Type().Elem()).Elem()
		d.decode(vn, val)
		v.SetMapIndex(key, val)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, v)
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		idx, ok := fields[kn.Value]
		if !ok {
			d.at(kn, "unknown key %q in %s; valid keys: %s", kn.Value, typeWord(v.Type()), strings.Join(fieldNames(fields), ", "))
			continue
		}
		if seen[kn.Value] {
			d.at(kn, "key %q is repeated", kn.Value)
			continue
		}
		seen[kn.Value] = true
		d.decode(vn, v.FieldByIndex(idx))
	}
}

// typeWord names a config section for error messages: ProbeConfig → probe.
func typeWord(t reflect.Type) string {
	name := strings.TrimSuffix(t.Name(), "Config")
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte(' ')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "this section"
	}
	return b.String()
}

// yamlFields maps each yaml key of a struct (following ",inline") to its field index.
func yamlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map { // any key: see inlineMap
				continue
			}
			for k, idx := range yamlFields(ft) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

// inlineMap returns the element type of a struct's ",inline" map field,
// which takes every key the struct does not name (http_config's
// http_headers is one).
func inlineMap(t reflect.Type) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Map {
			return f.Type.Elem(), true
		}
	}
	return nil, false
}

func fieldNames(fields map[string][]int) []string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// decodeStrict parses data as YAML into out (a pointer to a struct) and
// returns the positions of every decoded value, or every problem found.
func decodeStrict(file string, data []byte, out any) (positions, Errors) {
	d := &decoder{collector: &collector{file: file}, pos: positions{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := syntaxErrorLine(err)
		if line == 0 {
			if e := controlCharacterError(file, data, msg); e != nil {
				return nil, Errors{e}
			}
		}
		return nil, Errors{{File: file, Line: line, Column: 1, Msg: msg}}
	}
	if emptyDocument(&root) {
		return nil, Errors{{File: file, Line: 1, Column: 1, Msg: "the file is empty; a config needs at least global.replica or a probe (configs/tocsin.yml is a starting point)"}}
	}
	if len(root.Content) > 0 {
		d.decode(&root, reflect.ValueOf(out).Elem())
	}
	return d.pos, d.errs
}

// syntaxErrorLine pulls the line out of a yaml syntax error ("yaml: line 3: ...").
func syntaxErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	return line, msg
}
