package configs

import (
	"encoding/json"
	"reflect"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// remote_write entries are Prometheus' own RemoteWriteConfig, decoded by
// its own UnmarshalYAML (defaults, header and auth checks), so that a block
// pasted from prometheus.yml means the same here. Prometheus' type ignores
// keys it does not know; validateRemoteWrite reports them, as tocsin does
// everywhere else.

// validateRemoteWrite checks every remote_write entry and resolves its file
// paths (CA, certificates, password_file, ...) against the config's directory.
func (c *Config) validateRemoteWrite(v *validator) {
	names := map[string]bool{}
	entries := map[string]int{}
	for i, rw := range c.RemoteWrite {
		if rw == nil || rw.URL == nil {
			// Prometheus' decoder has said why, at this place.
			v.errorfAt([]any{&c.RemoteWrite[i], &c.RemoteWrite}, "remote_write: entry %d needs a url", i+1)
			continue
		}
		n := v.pos.of(rw)
		v.strictKeys(n, reflect.TypeFor[promconfig.RemoteWriteConfig](), "remote_write")
		if u := rw.URL; u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			v.at(valueOf(n, "url"), "remote_write: url %q must be an http or https URL with a host", u.Redacted())
		}
		rw.SetDirectory(v.dir)
		if err := rw.Validate(model.UTF8Validation); err != nil {
			v.at(valueOf(n, "write_relabel_configs"), "remote_write: %v", err)
		}
		if rw.Name != "" {
			if names[rw.Name] {
				v.at(valueOf(n, "name"), "remote_write name %q is used more than once", rw.Name)
			}
			names[rw.Name] = true
		}
		// Prometheus refuses two identical entries when it applies them;
		// here the file says where the second one is.
		if key, err := json.Marshal(rw); err == nil {
			if first, ok := entries[string(key)]; ok {
				v.at(n, "remote_write: entry %d repeats entry %d; remove one or give it a name", i+1, first)
			}
			entries[string(key)] = i + 1
		}
	}
}

// valueOf returns the node of key in the mapping n, or n itself when the
// key is absent, so that an error still has a place.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}
