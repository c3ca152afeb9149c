package configs

import (
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the config decoder. Whatever the input,
// Load returns a config or positioned errors, and never panics.
func FuzzLoad(f *testing.F) {
	shipped, err := os.ReadFile("tocsin.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(shipped),
		everyKindOfConfig,
		"",
		"global: {replica: a}\n",
		"global: [a]\nprobes: {}\n",
		"probes:\n- name: p\n  interval: 0s\n  labels: {9bad-name: x}\n  tcp: {address: 'a:1'}\n",
		"receivers:\n- name: r\n  webhook_configs: [{http_config: {http_headers: {X: {values: [a]}}}}]\n",
		"a: &a [*a]\n",
		"global:\n  replica: \"\x01\"\n",
		"route: {receiver: r, routes: [{routes: [{routes: []}]}]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Load("tocsin.yml", data)
		if err != nil {
			for _, e := range AsErrors("tocsin.yml", err) {
				if e.File != "tocsin.yml" || e.Line < 0 || e.Column < 0 || strings.TrimSpace(e.Msg) == "" {
					t.Fatalf("error without its file or message: %#v", e)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("no config and no error")
		}
		_ = cfg.String()
	})
}
