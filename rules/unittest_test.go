package rules

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunTestFilesPasses(t *testing.T) {
	t.Parallel()
	var out, junit bytes.Buffer
	ok, err := RunTestFiles(&out, TestOptions{JUnit: &junit}, "testdata/probes_test.yml")
	require.NoError(t, err)
	require.True(t, ok, out.String())
	require.Contains(t, out.String(), "SUCCESS")
	require.Contains(t, junit.String(), `<testcase name="down"`)
	require.Contains(t, junit.String(), `<testcase name="quiet"`)
}

func TestRunTestFilesFailsWithDiff(t *testing.T) {
	t.Parallel()
	var out, junit bytes.Buffer
	ok, err := RunTestFiles(&out, TestOptions{JUnit: &junit}, "testdata/probes_wrong_test.yml")
	require.NoError(t, err)
	require.False(t, ok)
	s := out.String()
	require.Contains(t, s, "FAILED")
	require.Contains(t, s, "alertname: ProbeDown, time: 3m")
	require.Contains(t, s, `- {alertname="ProbeDown", probe="a", severity="info"}`)
	require.Contains(t, s, `+ {alertname="ProbeDown", probe="a", severity="page"}`)
	require.Contains(t, s, `-     summary: "a down, value 0"`)
	require.Contains(t, s, `expr: "probe:success:avg5m", time: 2m`)
	require.Contains(t, s, `- {__name__="probe:success:avg5m", probe="a"} 1E+00`)
	require.Contains(t, s, `+ {__name__="probe:success:avg5m", probe="a"} 0E+00`)
	require.Equal(t, 2, strings.Count(junit.String(), "<failure>"), junit.String())
}

func TestRunTestFilesRunFilter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ok, err := RunTestFiles(&out, TestOptions{Run: regexp.MustCompile("^right")}, "testdata/probes_wrong_test.yml")
	require.NoError(t, err)
	require.True(t, ok, out.String())
}

func TestRunTestFilesBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeRules(t, dir, "rule_files: [x.yml]\ntests:\n- nme: x\n")
	var out bytes.Buffer
	ok, err := RunTestFiles(&out, TestOptions{}, bad)
	require.NoError(t, err)
	require.False(t, ok)
	require.Contains(t, out.String(), "field nme not found")
}
