package configs

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// remote_write entries are Prometheus' own RemoteWriteConfig, decoded by
// its own UnmarshalYAML (defaults, header and auth checks), so that a block
// pasted from prometheus.yml means the same here. Prometheus decodes it
// strictly; decoded here through a yaml.Node, unknown keys would pass, so
// validateRemoteWrite reports them, at their place.

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
		v.remoteWriteFiles(n, rw)
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

// remoteWriteFiles checks that the files an entry's client reads (secrets
// and TLS files) can be read, so that `tocsin check config` catches a
// missing one, not the first send.
func (v *validator) remoteWriteFiles(n *yaml.Node, rw *promconfig.RemoteWriteConfig) {
	h := &rw.HTTPClientConfig
	type file struct {
		path   string
		secret bool
		keys   []string
	}
	files := []file{{h.BearerTokenFile, true, []string{"bearer_token_file"}}}
	if b := h.BasicAuth; b != nil {
		files = append(files, file{b.PasswordFile, true, []string{"basic_auth", "password_file"}},
			file{b.UsernameFile, true, []string{"basic_auth", "username_file"}})
	}
	if a := h.Authorization; a != nil {
		files = append(files, file{a.CredentialsFile, true, []string{"authorization", "credentials_file"}})
	}
	if o := h.OAuth2; o != nil {
		files = append(files, file{o.ClientSecretFile, true, []string{"oauth2", "client_secret_file"}})
	}
	for _, k := range []struct {
		path *string
		key  string
	}{{&h.TLSConfig.CAFile, "ca_file"}, {&h.TLSConfig.CertFile, "cert_file"}, {&h.TLSConfig.KeyFile, "key_file"}} {
		files = append(files, file{*k.path, false, []string{"tls_config", k.key}})
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		at := n
		for _, k := range f.keys {
			at = valueOf(at, k)
		}
		key := strings.Join(f.keys, ".")
		data, err := os.ReadFile(f.path)
		switch {
		case err != nil:
			v.at(at, "remote_write: %s: cannot read %s: %v", key, f.path, unwrapPathError(err))
		case f.secret && strings.TrimSpace(string(data)) == "":
			v.at(at, "remote_write: %s: %s is empty", key, f.path)
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
