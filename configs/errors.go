package configs

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem found in a file a person edits, with the place to fix it.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Errors is every problem found in one or more files, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the errors by file, line and column, so output reads top to bottom.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// AsErrors unpacks err into positioned errors; an error without a position
// becomes one Error naming only the file.
func AsErrors(file string, err error) Errors {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return Errors{{File: file, Msg: err.Error()}}
}

// collector gathers positioned errors while a file is decoded and validated.
type collector struct {
	file string
	errs Errors
}

func (c *collector) at(n *yaml.Node, format string, args ...any) {
	e := &Error{File: c.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	c.errs = append(c.errs, e)
}

// cleanYAMLError strips the yaml package's "line N:" prefixes, because the
// position is reported separately and more precisely.
func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			if _, rest, ok := strings.Cut(m, ": "); ok && strings.HasPrefix(m, "line ") {
				m = rest
			}
			msgs[i] = m
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// mergeErrors joins decode and validation errors, keeping one per position, sorted.
func mergeErrors(first, second Errors) Errors {
	type place struct{ line, col int }
	seen := map[place]bool{}
	var out Errors
	for _, e := range append(first, second...) {
		p := place{e.Line, e.Column}
		if e.Line > 0 && seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, e)
	}
	out.Sort()
	return out
}
