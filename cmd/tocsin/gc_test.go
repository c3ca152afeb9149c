package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		percent int
		set     bool
	}{
		{"GOGC unset", map[string]string{}, defaultGOGC, true},
		{"GOMEMLIMIT alone keeps the default GOGC", map[string]string{"GOMEMLIMIT": "200MiB"}, defaultGOGC, true},
		{"the user's GOGC stands", map[string]string{"GOGC": "200"}, 0, false},
		{"GOGC=off stands", map[string]string{"GOGC": "off", "GOMEMLIMIT": "200MiB"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			percent, set := gcPercent(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			require.Equal(t, tc.set, set)
			require.Equal(t, tc.percent, percent)
		})
	}
}
