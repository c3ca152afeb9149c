package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The test binary doubles as the tocsin binary: with TOCSIN_TEST_MAIN set it
// runs main, so the tests below can start tocsin as a real process and send
// it signals.
func TestMain(m *testing.M) {
	if os.Getenv("TOCSIN_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tocsinProcess starts tocsin with args and returns it and a channel that
// yields every line it logs.
func tocsinProcess(t *testing.T, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TOCSIN_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

var listenRE = regexp.MustCompile(`msg=listening address=(\S+)`)

// waitForAddress reads log lines until tocsin says where it listens.
func waitForAddress(t *testing.T, lines <-chan string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "tocsin exited before listening")
			if m := listenRE.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-deadline:
			t.Fatal("tocsin did not start listening")
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

const runConfig = "global: {replica: test}\nprobes:\n- name: port\n  interval: 1m\n  tcp: {address: '127.0.0.1:1'}\n"

func TestRunReloadsOnSIGHUPAndKeepsServingAfterABadEdit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(runConfig), 0o600))
	cmd, lines := tocsinProcess(t, "run", "--config.file", file, "--web.listen-address", "127.0.0.1:0", "--storage.path", filepath.Join(dir, "data"))
	base := "http://" + waitForAddress(t, lines)

	code, _ := get(t, base+"/-/healthy")
	require.Equal(t, 200, code)
	reloadOK := func() string {
		_, body := get(t, base+"/metrics")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "tocsin_config_last_reload_successful ") {
				return strings.TrimPrefix(l, "tocsin_config_last_reload_successful ")
			}
		}
		return "missing"
	}
	require.Equal(t, "1", reloadOK())

	require.NoError(t, os.WriteFile(file, []byte(runConfig+"  bogus: 1\n"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return reloadOK() == "0" }, 20*time.Second, 20*time.Millisecond)
	code, _ = get(t, base+"/-/healthy")
	require.Equal(t, 200, code, "tocsin must keep serving after a bad reload")

	require.NoError(t, os.WriteFile(file, []byte(runConfig), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return reloadOK() == "1" }, 20*time.Second, 20*time.Millisecond)

	// Graceful shutdown on SIGTERM, within a bounded time, with exit status 0.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("tocsin did not stop after SIGTERM")
	}
}

func TestRunRefusesToStartWithABadConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte("evaluation_interval: soon\n"), 0o600))
	cmd := exec.Command(os.Args[0], "run", "--config.file", file, "--web.listen-address", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TOCSIN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), file+`:1:22: not a valid duration string: "soon"`)
}
