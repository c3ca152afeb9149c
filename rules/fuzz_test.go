package rules

import (
	"os"
	"testing"
)

// FuzzCheck feeds arbitrary bytes to the rule-file checker that `tocsin
// check rules` and `tocsin check config` run. It never panics, and every
// problem it reports names the file.
func FuzzCheck(f *testing.F) {
	pack, err := os.ReadFile("../configs/rules/liveness.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(pack),
		"",
		"groups: []\n",
		"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n",
		"groups:\n- name: g\n  interval: 0s\n  rules:\n  - record: 'a b'\n    expr: sum(rate(x[5m]))\n    labels: {9bad: '{{ $value }}'}\n",
		"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations: {summary: '{{ .Bad'}\n",
		"groups: {a: 1}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Check("rules.yml", data, CheckOptions{LintDuplicates: true})
		for _, d := range res.Diagnostics {
			if d.File != "rules.yml" {
				t.Fatalf("diagnostic without its file: %#v", d)
			}
		}
	})
}
