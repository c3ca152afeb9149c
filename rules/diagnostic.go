package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity tells an error, which makes a rule file unusable, from a lint
// finding, which promtool also reports but which does not stop loading.
type Severity string

// Severities of a Diagnostic.
const (
	SeverityError Severity = "error"
	SeverityLint  Severity = "lint"
)

// Diagnostic is one problem in a rule or rule test file, with the place to
// fix it. Line and Column start at 1; zero means the place is unknown.
type Diagnostic struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats the diagnostic as FILE:LINE:COL: message.
func (d Diagnostic) String() string {
	msg := d.Message
	if d.Severity == SeverityLint {
		msg = "lint: " + msg
	}
	if d.Line == 0 {
		return fmt.Sprintf("%s: %s", d.File, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Column, msg)
}

// Diagnostics are the problems found in one or more files. As an error it
// prints one FILE:LINE:COL: message per line.
type Diagnostics []Diagnostic

// Error joins the diagnostics, one FILE:LINE:COL: message a line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// HasErrors reports whether any diagnostic is an error rather than lint.
func (ds Diagnostics) HasErrors() bool {
	return len(ds.Errors()) > 0
}

// Errors returns only the diagnostics of severity error.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line and column.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Output formats for diagnostics.
const (
	FormatText   = "text"
	FormatGitHub = "github"
	FormatJSON   = "json"
)

// WriteDiagnostics prints ds in format: text (FILE:LINE:COL: message per
// line), github (GitHub Actions workflow commands, so findings show on the
// pull request's diff; lint is a warning unless lintFatal) or json (one
// array). Messages spanning lines are kept on one line for github.
func WriteDiagnostics(w io.Writer, format string, ds Diagnostics, lintFatal bool) error {
	switch format {
	case FormatText, "":
		for _, d := range ds {
			if _, err := fmt.Fprintln(w, d.String()); err != nil {
				return err
			}
		}
		return nil
	case FormatGitHub:
		for _, d := range ds {
			level := "error"
			if d.Severity == SeverityLint && !lintFatal {
				level = "warning"
			}
			props := "file=" + escapeGitHubProperty(d.File)
			if d.Line > 0 {
				props += fmt.Sprintf(",line=%d,col=%d", d.Line, d.Column)
			}
			msg := d.Message
			if d.Severity == SeverityLint {
				msg = "lint: " + msg
			}
			if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, props, escapeGitHubData(msg)); err != nil {
				return err
			}
		}
		return nil
	case FormatJSON:
		if ds == nil {
			ds = Diagnostics{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ds)
	default:
		return fmt.Errorf("unknown output format %q (want text, github or json)", format)
	}
}

// escapeGitHubData escapes a workflow command's message.
func escapeGitHubData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeGitHubProperty escapes a workflow command's property value.
func escapeGitHubProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
