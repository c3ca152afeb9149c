package rules

import (
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// alertEntry is a firing alert as the unit tests compare it.
type alertEntry struct {
	labels, annotations labels.Labels
}

func (a alertEntry) String() string {
	return "Labels:" + a.labels.String() + "\nAnnotations:" + a.annotations.String()
}

// lines render the alert for diffs: labels, then one annotation a line,
// so a diff points at the very annotation that differs.
func (a alertEntry) lines() []string {
	out := []string{a.labels.String()}
	a.annotations.Range(func(l labels.Label) {
		out = append(out, "    "+l.Name+": "+strconv.Quote(l.Value))
	})
	return out
}

type alertList []alertEntry

func (l alertList) Len() int      { return len(l) }
func (l alertList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l alertList) Less(i, j int) bool {
	if d := labels.Compare(l[i].labels, l[j].labels); d != 0 {
		return d < 0
	}
	return labels.Compare(l[i].annotations, l[j].annotations) < 0
}

func (l alertList) equal(o alertList) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		if !labels.Equal(l[i].labels, o[i].labels) || !labels.Equal(l[i].annotations, o[i].annotations) {
			return false
		}
	}
	return true
}

func (l alertList) String() string {
	if len(l) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[\n0:" + indent("\n"+l[0].String(), "  "))
	for i, a := range l[1:] {
		b.WriteString(",\n" + strconv.Itoa(i+1) + ":" + indent("\n"+a.String(), "  "))
	}
	b.WriteString("\n]")
	return b.String()
}

func (l alertList) lines() []string {
	var out []string
	for _, a := range l {
		out = append(out, a.lines()...)
	}
	return out
}

// testSample is a sample as promql_expr_test compares it.
type testSample struct {
	labels    labels.Labels
	value     float64
	histogram string
}

func (s testSample) String() string {
	if s.histogram != "" {
		return s.labels.String() + " " + s.histogram
	}
	return s.labels.String() + " " + strconv.FormatFloat(s.value, 'E', -1, 64)
}

type sampleList []testSample

func (l sampleList) equal(o sampleList, fuzzy bool) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		a, b := l[i], o[i]
		if !labels.Equal(a.labels, b.labels) || a.histogram != b.histogram {
			return false
		}
		if a.value == b.value {
			continue
		}
		if !fuzzy || (math.Nextafter(a.value, math.Inf(-1)) != b.value && math.Nextafter(a.value, math.Inf(1)) != b.value) {
			return false
		}
	}
	return true
}

func (l sampleList) String() string {
	if len(l) == 0 {
		return "nil"
	}
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}

func (l sampleList) lines() []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.String()
	}
	return out
}

// indent prefixes every line but the first with prefix.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// lineDiff lists what only the expectation has (-) and what only the
// result has (+), in order, with what both have as context ( ).
func lineDiff(exp, got []string, prefix string) string {
	// Longest common subsequence; the lists are short.
	n, m := len(exp), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if exp[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && exp[i] == got[j]:
			b.WriteString(prefix + "  " + exp[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			b.WriteString(prefix + "- " + exp[i] + "\n")
			i++
		default:
			b.WriteString(prefix + "+ " + got[j] + "\n")
			j++
		}
	}
	if b.Len() == 0 {
		return prefix + "(both empty)"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
