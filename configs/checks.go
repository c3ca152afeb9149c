package configs

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// emptyDocument tells a file with nothing in it (or only comments) from a
// config, which has at least one key.
func emptyDocument(root *yaml.Node) bool {
	if len(root.Content) == 0 {
		return true
	}
	doc := root.Content[0]
	return doc.Kind == yaml.ScalarNode && doc.Tag == "!!null"
}

// controlCharacter finds the first character YAML does not allow in a file,
// which the YAML parser reports without a place. line and col count from 1.
func controlCharacter(data []byte) (line, col int, r rune, ok bool) {
	line, col = 1, 1
	for len(data) > 0 {
		c, size := utf8.DecodeRune(data)
		switch {
		case c == '\n':
			line, col = line+1, 1
			data = data[size:]
			continue
		case c == utf8.RuneError && size == 1,
			c < 0x20 && c != '\t' && c != '\r',
			c == 0x7f,
			c >= 0x80 && c <= 0x9f && c != 0x85,
			c == 0xfffe || c == 0xffff:
			return line, col, c, true
		}
		col++
		data = data[size:]
	}
	return 0, 0, 0, false
}

// controlCharacterError places the YAML parser's complaint about a control
// character at the character.
func controlCharacterError(file string, data []byte, msg string) *Error {
	line, col, r, ok := controlCharacter(data)
	if !ok {
		return nil
	}
	if r == utf8.RuneError {
		return &Error{File: file, Line: line, Column: col, Msg: "the file is not valid UTF-8 here; save it as UTF-8"}
	}
	return &Error{File: file, Line: line, Column: col, Msg: fmt.Sprintf(
		"%s: %U is not allowed in YAML; remove it, or write it as \"\\x%02x\" inside a double-quoted string", msg, r, r)}
}

// labelNames refuses label names that are not Prometheus' classic names
// (letters, digits and underscores, not starting with a digit), each at its
// place in the file. Probe labels and external labels end up on the series
// tocsin exposes on /metrics, where a scraper that has not opted into UTF-8
// names would see them renamed, and in vendors' tags and fields; so such a
// name is refused here rather than renamed anywhere later.
func (v *validator) labelNames(set *model.LabelSet, key string) {
	n := v.pos.of(set)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		if !model.LegacyValidation.IsValidLabelName(kn.Value) {
			v.at(kn, "%s: %q is not a valid label name: use letters, digits and underscores, not starting with a digit (such as %q)", key, kn.Value, suggestLabelName(kn.Value))
		}
	}
}

// suggestLabelName proposes a valid name for an invalid one, for the error
// message only; tocsin never applies it on its own.
func suggestLabelName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteRune('_')
			}
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	if b.Len() == 0 {
		return "name"
	}
	return b.String()
}

// positiveIfSet refuses a duration that was written as zero (or negative).
// An absent key takes its default; a written 0s used to take the default
// silently too, which hides a typo such as "0s" for "10s".
func (v *validator) positiveIfSet(d *model.Duration, key, def string) {
	n := v.pos.of(d)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return
	}
	written, err := model.ParseDuration(n.Value)
	if err != nil || written > 0 {
		return
	}
	v.at(n, "%s must be positive, not %s; leave it out to take %s", key, n.Value, def)
}

// ruleFileWarnings reports every rule_files pattern that matches no file.
// It is a warning, not an error: a directory of rule files may be filled
// later, and Prometheus accepts such a pattern too; but a typo in a path
// would otherwise silently leave tocsin without its liveness rules.
func (c *Config) ruleFileWarnings(v *validator) Errors {
	var out Errors
	for i, pattern := range c.RuleFiles {
		matches, err := filepath.Glob(c.ResolvePath(pattern))
		if err != nil || len(matches) > 0 {
			continue
		}
		e := &Error{File: v.file, Msg: fmt.Sprintf("warning: rule_files: %q matches no file (looked for %s)", pattern, c.ResolvePath(pattern))}
		if n := v.pos.of(&c.RuleFiles[i]); n != nil {
			e.Line, e.Column = n.Line, n.Column
		}
		out = append(out, e)
	}
	return out
}

// RuleFileWarnings lists the rule_files patterns that matched no file when
// the config was loaded, each with its place.
func (c *Config) RuleFileWarnings() Errors { return c.ruleWarnings }
