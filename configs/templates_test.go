package configs

import (
	"testing"

	"github.com/prometheus/common/model"

	"github.com/stretchr/testify/require"
)

func TestTemplateFieldsPlaceAColumnInsideOneLineTemplates(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`global: {replica: eu-1}
route: {receiver: r}
receivers:
- name: r
  slack_configs:
  - api_url: http://slack.example/hook
    title: Alert {{ .X }}
    text: '{{ .X }}'
  - api_url: http://slack.example/hook
    title: "{{ .X | printf \"%s\" }}"
    text: |
      {{ .X }}
  pagerduty_configs:
  - routing_key: k
    details: {a: '{{ .X }}'}
`))
	require.NoError(t, err)
	got := map[string][2]int{}
	for _, f := range cfg.TemplateFields() {
		e := f.At(1, 3)
		got[f.Key+"@"+f.Text] = [2]int{e.Line, e.Column}
	}
	require.Equal(t, map[string][2]int{
		"title@Alert {{ .X }}":         {7, 12 + 3},      // plain
		"text@{{ .X }}":                {8, 11 + 1 + 3},  // single-quoted
		`title@{{ .X | printf "%s" }}`: {10, 12},         // escapes inside: the field
		"text@{{ .X }}\n":              {11, 11},         // a block: the field
		"details.a@{{ .X }}":           {15, 18 + 1 + 3}, // a map of templates: its own value
	}, got)
}

// A route label is filed with every label of its route, inherited ones
// included and overridden by the route's own, as Alertmanager merges them.
func TestRouteLabelsAreFiledWithTheLabelsTheyInherit(t *testing.T) {
	cfg, err := Load("tocsin.yml", []byte(`global: {replica: eu-1}
route:
  receiver: r
  labels: {team: core, tier: '{{ routeLabels "team" }}-1'}
  routes:
  - matchers: ['a="b"']
    labels: {team: edge}
  - matchers: ['a="c"']
receivers:
- name: r
`))
	require.NoError(t, err)
	type filed struct {
		label  model.LabelName
		line   int
		labels model.LabelSet
	}
	var got []filed
	for _, f := range cfg.TemplateFields() {
		got = append(got, filed{f.Label, f.Pos.Line, f.RouteLabels})
	}
	parent := model.LabelSet{"team": "core", "tier": `{{ routeLabels "team" }}-1`}
	require.ElementsMatch(t, []filed{
		{"team", 4, parent},
		{"tier", 4, parent},
		{"team", 7, model.LabelSet{"team": "edge", "tier": `{{ routeLabels "team" }}-1`}},
	}, got)
	require.Equal(t, model.LabelSet{"team": "core"}, cfg.Route.Routes[1].MergedLabels(model.LabelSet{"team": "core"}))
	require.Nil(t, cfg.Route.Routes[1].Labels, "a route without labels inherits; nothing is copied into it")
}
