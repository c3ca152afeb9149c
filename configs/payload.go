package configs

import (
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// WebhookPayload is a webhook_configs payload: any YAML value, posted as
// JSON in place of Alertmanager's message. As in Alertmanager, every
// string in it, mapping keys included, is a template, and a string that
// renders to YAML other than a string (a number, true, a list, a mapping,
// or nothing at all, which is null) takes that value's place.
type WebhookPayload struct {
	// Value is the decoded YAML: maps, slices and scalars.
	Value any
	node  *yaml.Node
}

// UnmarshalYAML keeps the node, so that each template can be placed in
// the file, and decodes dates as the strings they were written as, as
// Alertmanager's YAML decoder does, rather than as times.
func (p *WebhookPayload) UnmarshalYAML(n *yaml.Node) error {
	p.node = n
	walkScalars(n, func(s *yaml.Node) {
		if s.ShortTag() == "!!timestamp" {
			s.Tag = "!!str"
		}
	})
	return n.Decode(&p.Value)
}

// MarshalYAML writes the payload as it was written.
func (p *WebhookPayload) MarshalYAML() (any, error) { return p.Value, nil }

func walkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind == yaml.ScalarNode {
		f(n)
		return
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}

// validate checks each template of the payload and refuses what JSON
// cannot carry, at its place in the file.
func (p *WebhookPayload) validate(v *validator) {
	if p.node != nil {
		v.payloadNode(p.node, "payload", map[*yaml.Node]bool{})
	}
}

func (v *validator) payloadNode(n *yaml.Node, key string, seen map[*yaml.Node]bool) {
	if seen[n] { // an alias met again
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.AliasNode:
		v.payloadNode(n.Alias, key, seen)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			v.payloadNode(c, fmt.Sprintf("%s[%d]", key, i), seen)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			child := key + "." + k.Value
			if k.ShortTag() == "!!str" {
				v.templateNode(k, k.Value, child+" (key)")
			}
			v.payloadNode(val, child, seen)
		}
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			v.templateNode(n, n.Value, key)
		case "!!float":
			if f, err := strconv.ParseFloat(yamlFloat(n.Value), 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				v.at(n, "%s: JSON has no %s; quote it to send a string", key, n.Value)
			}
		}
	}
}

// yamlFloat turns YAML's .nan and .inf spellings into Go's.
func yamlFloat(s string) string {
	switch s {
	case ".nan", ".NaN", ".NAN":
		return "NaN"
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return "+Inf"
	case "-.inf", "-.Inf", "-.INF":
		return "-Inf"
	}
	return s
}
