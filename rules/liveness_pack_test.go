package rules

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShippedPackChecks(t *testing.T) {
	t.Parallel()
	res := CheckFile("../configs/rules/liveness.yml", CheckOptions{LintDuplicates: true})
	require.Empty(t, res.Diagnostics)
	require.Equal(t, 6, res.Rules)
}

func TestShippedPackUnitTests(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ok, err := RunTestFiles(&out, TestOptions{}, "../configs/rules/liveness_test.yml")
	require.NoError(t, err)
	require.True(t, ok, out.String())
}
