package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/internal/api"
)

func TestRedactHidesPasswordsInURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"url: mqtt://canary:hunter2@broker:1883\n", "url: mqtt://canary:<secret>@broker:1883\n"},
		{"url: 'nats://u:p%40ss@nats:4222/x'\n", "url: 'nats://u:<secret>@nats:4222/x'\n"},
		{"url: https://user@example.com/\n", "url: https://user@example.com/\n"},
		{"url: tcp://broker:1883\n", "url: tcp://broker:1883\n"},
		{"password: <secret>\n", "password: <secret>\n"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, api.Redact(tt.in), tt.in)
	}
}

func TestByAttentionPutsFailingProbesFirst(t *testing.T) {
	ps := []api.Probe{
		{Name: "a", State: api.StateUp},
		{Name: "b", State: api.StateDown},
		{Name: "c", State: api.StateUnknown},
		{Name: "d", State: api.StateStale},
		{Name: "e", State: api.StateDown},
	}
	var names []string
	for _, p := range api.ByAttention(ps) {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"b", "e", "d", "c", "a"}, names)
	require.Equal(t, "a", ps[0].Name, "the caller's slice is left alone")
}
