package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutcomesWakeTheRulesOnFailuresAndRecoveries(t *testing.T) {
	var o outcomes
	steps := []struct {
		probe   string
		success bool
		wake    bool
	}{
		{"a", true, true},  // first result of a probe
		{"a", true, false}, // healthy and unchanged: the regular tick is enough
		{"a", false, true}, // a failure is decided at once
		{"a", false, true}, // and so is every further failure (for: counts between results)
		{"a", true, true},  // the recovery resolves at once
		{"a", true, false}, // healthy again
		{"b", true, true},  // probes are tracked apart
		{"b", true, false},
	}
	for i, s := range steps {
		require.Equal(t, s.wake, o.wake(s.probe, s.success), "step %d: %s success=%v", i, s.probe, s.success)
	}
}
