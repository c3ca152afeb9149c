package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"
	"go.yaml.in/yaml/v3"
)

// CheckOptions tune CheckFile like promtool check rules' flags.
type CheckOptions struct {
	// LintDuplicates reports rules with the same name and labels
	// (promtool's default --lint=duplicate-rules).
	LintDuplicates bool
	// IgnoreUnknownFields accepts keys Prometheus does not know.
	IgnoreUnknownFields bool
}

// FileResult is the outcome of checking one rule file.
type FileResult struct {
	File        string
	Rules       int
	Diagnostics Diagnostics
}

// CheckFiles checks every file and returns all diagnostics in file order.
func CheckFiles(files []string, opts CheckOptions) Diagnostics {
	var all Diagnostics
	for _, f := range files {
		all = append(all, CheckFile(f, opts).Diagnostics...)
	}
	return all
}

// CheckFile reads and checks one rule file.
func CheckFile(file string, opts CheckOptions) FileResult {
	b, err := os.ReadFile(file)
	if err != nil {
		return FileResult{File: file, Diagnostics: Diagnostics{{File: file, Severity: SeverityError, Message: err.Error()}}}
	}
	return Check(file, b, opts)
}

// Check validates the content of a rule file named file: everything
// promtool check rules validates (strict YAML, PromQL, templates, label and
// metric names, group names, durations, duplicate rules as lint), each
// problem placed at its line and column.
func Check(file string, content []byte, opts CheckOptions) FileResult {
	c := &checker{file: file, src: strings.Split(string(content), "\n"), opts: opts, parser: parser.NewParser(parser.Options{}), ruleNodes: map[string][]ruleNodes{}}
	c.document(content)
	// Prometheus decides what loads. Its template checks are placed on the
	// value they concern; anything else it refuses that the walk above
	// did not find is still reported.
	_, errs := rulefmt.Parse(content, opts.IgnoreUnknownFields, model.UTF8Validation, c.parser, promslog.NewNopLogger())
	walkFailed := c.diags.HasErrors()
	validated := len(errs) == 0
	for _, err := range errs {
		var re *rulefmt.Error
		validated = validated || errors.As(err, &re)
		if c.placeTemplateError(err) || walkFailed {
			continue
		}
		c.diags = append(c.diags, c.fromMessage(err.Error()))
	}
	if !validated {
		// Prometheus stopped at the YAML and never reached the templates:
		// parse them here so that every problem is reported at once.
		c.allTemplates()
	}
	if opts.LintDuplicates && !c.diags.HasErrors() {
		c.lintDuplicates()
	}
	c.diags.Sort()
	return FileResult{File: file, Rules: len(c.rules), Diagnostics: c.diags}
}

type checker struct {
	file   string
	src    []string
	opts   CheckOptions
	parser parser.Parser
	diags  Diagnostics
	rules  []ruleSeen
	// ruleNodes are the labels and annotations of every rule by group
	// name, to place the errors Prometheus reports by group and index.
	ruleNodes map[string][]ruleNodes
}

type ruleNodes struct {
	alert               string
	labels, annotations *yaml.Node
}

// ruleSeen is a parsed rule, kept for the duplicate lint.
type ruleSeen struct {
	name   string
	labels labels.Labels
	node   *yaml.Node
}

func (c *checker) errorf(n *yaml.Node, format string, args ...any) {
	d := Diagnostic{File: c.file, Severity: SeverityError, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		d.Line, d.Column = n.Line, n.Column
	}
	c.diags = append(c.diags, d)
}

func (c *checker) errorAt(line, col int, msg string) {
	c.diags = append(c.diags, Diagnostic{File: c.file, Line: line, Column: col, Severity: SeverityError, Message: msg})
}

var (
	lineColRe = regexp.MustCompile(`^(?:.*?: )?(\d+):(\d+): (.*)$`)
	yamlLine  = regexp.MustCompile(`line (\d+): (.*)$`)
)

// fromMessage places an error whose position is only written in its text.
func (c *checker) fromMessage(msg string) Diagnostic {
	d := Diagnostic{File: c.file, Severity: SeverityError, Message: msg}
	if m := lineColRe.FindStringSubmatch(msg); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Column, _ = strconv.Atoi(m[2])
		d.Message = m[3]
	} else if m := yamlLine.FindStringSubmatch(msg); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Column = 1
		d.Message = m[2]
	}
	return d
}

func (c *checker) document(content []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				c.diags = append(c.diags, c.fromMessage(e))
			}
			return
		}
		c.diags = append(c.diags, c.fromMessage(err.Error()))
		return
	}
	if len(doc.Content) == 0 {
		return // an empty file holds no groups, as in Prometheus
	}
	root := doc.Content[0]
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		c.errorf(root, "a rule file is a mapping with a %q key, not a %s", "groups", kindName(root))
		return
	}
	c.mapping(root, "rule file", []string{"groups"}, func(key string, _, v *yaml.Node) {
		c.groups(v)
	})
}

// mapping walks a mapping's keys in order, reporting unknown and repeated
// keys, and calls f for every known key with a non-null value.
func (c *checker) mapping(n *yaml.Node, what string, known []string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]*yaml.Node{}
	pairs := mergedPairs(n)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, v := pairs[i], deref(pairs[i+1])
		if prev, ok := seen[k.Value]; ok {
			c.errorf(k, "key %q is already set at line %d", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		if !contains(known, k.Value) {
			if !c.opts.IgnoreUnknownFields {
				c.errorf(k, "unknown key %q in %s (known keys: %s)", k.Value, what, strings.Join(known, ", "))
			}
			continue
		}
		if isNull(v) {
			continue
		}
		f(k.Value, k, v)
	}
}

func (c *checker) groups(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		c.errorf(n, "groups must be a list of rule groups, not a %s", kindName(n))
		return
	}
	names := map[string]*yaml.Node{}
	for _, g := range n.Content {
		g = deref(g)
		if g.Kind != yaml.MappingNode {
			c.errorf(g, "a rule group must be a mapping, not a %s", kindName(g))
			continue
		}
		var name string
		var nameNode *yaml.Node
		var groupLabels map[string]string
		var ruleNodes *yaml.Node
		c.mapping(g, "rule group", []string{"name", "interval", "query_offset", "limit", "rules", "labels"}, func(key string, _, v *yaml.Node) {
			switch key {
			case "name":
				if c.scalar(v, "name") {
					name, nameNode = v.Value, v
				}
			case "interval", "query_offset":
				c.duration(v, key)
			case "limit":
				var lim int
				if v.Kind != yaml.ScalarNode || v.Decode(&lim) != nil {
					c.errorf(v, "limit must be a whole number, not %s", describe(v))
				}
			case "rules":
				ruleNodes = v
			case "labels":
				groupLabels = c.labelMap(v, "labels", true)
			}
		})
		key := name // rules of a repeated group are not placed by name
		if name == "" {
			at := nameNode
			if at == nil {
				at = g
			}
			c.errorf(at, "group name must not be empty")
		} else if prev, ok := names[name]; ok {
			c.errorf(nameNode, "group name %q is already used at line %d", name, prev.Line)
			key = "\x00repeated"
		} else {
			names[name] = nameNode
		}
		if ruleNodes != nil {
			c.rulesOf(ruleNodes, key, groupLabels)
		}
	}
}

func (c *checker) rulesOf(n *yaml.Node, group string, groupLabels map[string]string) {
	if n.Kind != yaml.SequenceNode {
		c.errorf(n, "rules must be a list, not a %s", kindName(n))
		return
	}
	for _, r := range n.Content {
		r = deref(r)
		if r.Kind != yaml.MappingNode {
			c.errorf(r, "a rule must be a mapping, not a %s", kindName(r))
			c.ruleNodes[group] = append(c.ruleNodes[group], ruleNodes{})
			continue
		}
		c.rule(r, group, groupLabels)
	}
}

// rule checks one rule the way rulefmt.Rule.Validate does.
func (c *checker) rule(n *yaml.Node, group string, groupLabels map[string]string) {
	var (
		record, alert, expr    string
		recordN, alertN, exprN *yaml.Node
		forSet, keepSet        bool
		ruleLabels             map[string]string
		annotationsN, labelsN  *yaml.Node
		hasAnnotations         bool
	)
	c.mapping(n, "rule", []string{"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "record":
			if c.scalar(v, key) {
				record, recordN = v.Value, v
			}
		case "alert":
			if c.scalar(v, key) {
				alert, alertN = v.Value, v
			}
		case "expr":
			if c.scalar(v, key) {
				expr, exprN = v.Value, v
			}
		case "for":
			forSet = c.duration(v, key) != 0
		case "keep_firing_for":
			keepSet = c.duration(v, key) != 0
		case "labels":
			labelsN = v
			ruleLabels = c.labelMap(v, "labels", true)
		case "annotations":
			annotationsN = v
			hasAnnotations = len(v.Content) > 0
			c.labelMap(v, "annotations", false)
		}
	})
	switch {
	case record != "" && alert != "":
		c.errorf(recordN, "a rule sets both 'record' and 'alert' (line %d); keep one", alertN.Line)
	case record == "" && alert == "":
		c.errorf(n, "a rule must set one of 'record' or 'alert'")
	}
	if expr == "" {
		at := exprN
		if at == nil {
			at = n
		}
		c.errorf(at, "field 'expr' must be set in rule")
	} else {
		c.promql(exprN)
	}
	if record != "" {
		if hasAnnotations {
			c.errorf(annotationsN, "invalid field 'annotations' in recording rule %q", record)
		}
		if forSet {
			c.errorf(recordN, "invalid field 'for' in recording rule %q", record)
		}
		if keepSet {
			c.errorf(recordN, "invalid field 'keep_firing_for' in recording rule %q", record)
		}
		if !model.UTF8Validation.IsValidMetricName(record) {
			c.errorf(recordN, "invalid recording rule name: %s", record)
		}
		if strings.ContainsAny(record, "{}") {
			c.errorf(recordN, "braces present in the recording rule name; should it be in expr?: %s", record)
		}
	}
	c.ruleNodes[group] = append(c.ruleNodes[group], ruleNodes{alert: alert, labels: labelsN, annotations: annotationsN})
	name := alert
	if name == "" {
		name = record
	}
	at := alertN
	if at == nil {
		at = recordN
	}
	if name != "" {
		c.rules = append(c.rules, ruleSeen{name: name, labels: fromMaps(groupLabels, ruleLabels), node: at})
	}
}

func fromMaps(maps ...map[string]string) labels.Labels {
	m := map[string]string{}
	for _, mm := range maps {
		for k, v := range mm {
			m[k] = v
		}
	}
	return labels.FromMap(m)
}

// scalar reports whether v is a scalar, and an error if not.
func (c *checker) scalar(v *yaml.Node, key string) bool {
	if v.Kind != yaml.ScalarNode {
		c.errorf(v, "%s must be a string, not a %s", key, kindName(v))
		return false
	}
	return true
}

// duration parses a Prometheus duration such as 30s, 5m or 1h30m.
func (c *checker) duration(v *yaml.Node, key string) time.Duration {
	if v.Kind != yaml.ScalarNode {
		c.errorf(v, "%s must be a duration such as 30s, 5m or 1h, not a %s", key, kindName(v))
		return 0
	}
	d, err := model.ParseDuration(v.Value)
	if err != nil {
		c.errorf(v, "%s: %q is not a valid duration; use a number and a unit (ms, s, m, h, d, w, y) such as 30s, 5m or 1h", key, v.Value)
		return 0
	}
	return time.Duration(d)
}

// labelMap checks a labels or annotations mapping and returns it.
func (c *checker) labelMap(v *yaml.Node, what string, isLabels bool) map[string]string {
	if v.Kind != yaml.MappingNode {
		c.errorf(v, "%s must be a mapping of names to strings, not a %s", what, kindName(v))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		if _, dup := out[k.Value]; dup {
			c.errorf(k, "%s: %q is set twice", what, k.Value)
			continue
		}
		if val.Kind != yaml.ScalarNode {
			c.errorf(val, "%s: value of %q must be a string, not a %s", what, k.Value, kindName(val))
			continue
		}
		out[k.Value] = val.Value
		switch {
		case isLabels && (!model.UTF8Validation.IsValidLabelName(k.Value) || k.Value == model.MetricNameLabel):
			c.errorf(k, "invalid label name: %s", k.Value)
		case !isLabels && !model.UTF8Validation.IsValidLabelName(k.Value):
			c.errorf(k, "invalid annotation name: %s", k.Value)
		}
		if isLabels && !model.LabelValue(val.Value).IsValid() {
			c.errorf(val, "invalid label value: %s", val.Value)
		}
	}
	return out
}

var templateErrRe = regexp.MustCompile(`^(label|annotation) "((?:[^"\\]|\\.)*)": (.*)$`)

// placeTemplateError reports a template error found by rulefmt at the
// label or annotation value it concerns, and whether err was one.
func (c *checker) placeTemplateError(err error) bool {
	var re *rulefmt.Error
	if !errors.As(err, &re) {
		return false
	}
	inner := re.Err.Unwrap()
	if inner == nil {
		return false
	}
	m := templateErrRe.FindStringSubmatch(inner.Error())
	if m == nil {
		return false
	}
	var at *yaml.Node
	if rs := c.ruleNodes[re.Group]; re.Rule >= 1 && re.Rule <= len(rs) {
		mapping := rs[re.Rule-1].labels
		if m[1] == "annotation" {
			mapping = rs[re.Rule-1].annotations
		}
		at = valueOf(mapping, m[2])
	}
	c.errorf(at, "template of %s %q: %s", m[1], m[2], m[3])
	return true
}

// allTemplates parses every label and annotation of every alerting rule
// as Prometheus will expand it.
func (c *checker) allTemplates() {
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	for _, rules := range c.ruleNodes {
		for _, r := range rules {
			if r.alert == "" {
				continue
			}
			for kind, m := range map[string]*yaml.Node{"label": r.labels, "annotation": r.annotations} {
				if m == nil || m.Kind != yaml.MappingNode {
					continue
				}
				for i := 0; i+1 < len(m.Content); i += 2 {
					k, v := m.Content[i], deref(m.Content[i+1])
					if v.Kind != yaml.ScalarNode || !strings.Contains(v.Value, "{{") {
						continue
					}
					exp := template.NewTemplateExpander(context.Background(), defs+v.Value, "__alert_"+r.alert, data, model.Now(), nil, nil, nil)
					if err := exp.ParseTest(); err != nil {
						c.errorf(v, "template of %s %q: %v", kind, k.Value, err)
					}
				}
			}
		}
	}
}

// valueOf returns the value node of key in a mapping node, or the
// mapping itself when the key is not found.
func valueOf(mapping *yaml.Node, key string) *yaml.Node {
	if mapping == nil {
		return nil
	}
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return deref(mapping.Content[i+1])
		}
	}
	return mapping
}

// promql parses the expression and places a parse error on the very
// character of the file it concerns where the scalar style allows it.
func (c *checker) promql(n *yaml.Node) {
	_, err := c.parser.ParseExpr(n.Value)
	if err == nil {
		return
	}
	var perrs parser.ParseErrors
	if !errors.As(err, &perrs) || len(perrs) == 0 {
		c.errorf(n, "could not parse expression: %v", err)
		return
	}
	pe := perrs[0]
	line, col := c.exprPosition(n, int(pe.PositionRange.Start))
	c.errorAt(line, col, fmt.Sprintf("could not parse expression: %v", pe.Err))
}

// exprPosition maps a byte offset inside a scalar's value to a file
// position. Literal blocks and one-line plain or quoted scalars map
// exactly; other styles fall back to the start of the scalar.
func (c *checker) exprPosition(n *yaml.Node, off int) (int, int) {
	if off < 0 || off > len(n.Value) {
		return n.Line, n.Column
	}
	switch n.Style {
	case yaml.LiteralStyle:
		if off == len(n.Value) && strings.HasSuffix(n.Value, "\n") {
			off-- // "end of input" belongs to the last line, not the next
		}
		before := n.Value[:off]
		lineIdx := strings.Count(before, "\n")
		line := n.Line + 1 + lineIdx
		if line-1 >= len(c.src) {
			return n.Line, n.Column
		}
		// The block's indentation is that of its first line; deeper
		// indentation of later lines is part of the value.
		first := c.src[n.Line]
		indent := len(first) - len(strings.TrimLeft(first, " "))
		return line, indent + 1 + len(before) - (strings.LastIndex(before, "\n") + 1)
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if strings.Contains(n.Value, "\n") || n.Line-1 >= len(c.src) {
			return n.Line, n.Column
		}
		shift := 0
		if n.Style != 0 {
			shift = 1
		}
		src := c.src[n.Line-1]
		start := n.Column - 1 + shift
		// Escapes make the value differ from the source; then stay coarse.
		if start+len(n.Value) > len(src) || src[start:start+len(n.Value)] != n.Value {
			return n.Line, n.Column
		}
		return n.Line, start + off + 1
	}
	return n.Line, n.Column
}

// lintDuplicates reports rules with the same name and labels in the file,
// which promtool check rules flags by default.
func (c *checker) lintDuplicates() {
	first := map[string]ruleSeen{}
	reported := map[string]bool{}
	for _, r := range c.rules {
		key := r.name + r.labels.String()
		p, ok := first[key]
		if !ok {
			first[key] = r
			continue
		}
		if reported[key] {
			continue
		}
		reported[key] = true
		c.diags = append(c.diags, Diagnostic{
			File: c.file, Line: r.node.Line, Column: r.node.Column, Severity: SeverityLint,
			Message: fmt.Sprintf("duplicate rule %q with labels %s (first at line %d); might cause inconsistency while recording expressions", r.name, r.labels, p.node.Line),
		})
	}
}

// mergedPairs returns a mapping's key and value nodes with YAML merge
// keys (<<: *anchor) resolved: merged keys come after the mapping's own
// and only where the mapping does not set them itself.
func mergedPairs(n *yaml.Node) []*yaml.Node {
	var own, merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag != "!!merge" {
			own = append(own, k, v)
			continue
		}
		v = deref(v)
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src = deref(src); src.Kind == yaml.MappingNode {
				merged = append(merged, mergedPairs(src)...)
			}
		}
	}
	set := map[string]bool{}
	for i := 0; i < len(own); i += 2 {
		set[own[i].Value] = true
	}
	for i := 0; i+1 < len(merged); i += 2 {
		if !set[merged[i].Value] {
			set[merged[i].Value] = true
			own = append(own, merged[i], merged[i+1])
		}
	}
	return own
}

// deref follows YAML aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar " + strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
