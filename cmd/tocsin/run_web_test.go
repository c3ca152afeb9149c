package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestRunServesBehindAuthAndPrefix starts tocsin as a process with a web
// config, a route prefix taken from the external URL, and lifecycle off.
func TestRunServesBehindAuthAndPrefix(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	require.NoError(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, []byte("basic_auth_users:\n  watchdog: "+string(hash)+"\n"), 0o600))
	file := filepath.Join(dir, "tocsin.yml")
	cfg := runConfig + "- name: legacy\n  heartbeat: {grace: 1m, token: beat-token}\n"
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))
	_, lines := tocsinProcess(t, "run", "--config.file", file, "--web.listen-address", "127.0.0.1:0",
		"--storage.path", filepath.Join(dir, "data"), "--web.config.file", webConfig,
		"--web.external-url", "https://ops.example/tocsin/")
	base := "http://" + waitForAddress(t, lines) + "/tocsin"

	send := func(method, path string, header map[string]string, basicAuth bool) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if basicAuth {
			req.SetBasicAuth("watchdog", "hunter2")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		basicAuth          bool
		code               int
	}{
		{"no credentials", "GET", "/-/healthy", nil, false, 401},
		{"credentials", "GET", "/-/healthy", nil, true, 200},
		{"lifecycle is off", "POST", "/-/reload", nil, true, 403},
		{"reload is POST only", "GET", "/-/reload", nil, true, 405},
		{"heartbeat with its token but no credentials", "POST", "/api/v1/heartbeats/legacy", map[string]string{"X-Tocsin-Token": "beat-token"}, false, 401},
		{"heartbeat with credentials and a wrong token", "POST", "/api/v1/heartbeats/legacy", map[string]string{"X-Tocsin-Token": "nope"}, true, 401},
		{"heartbeat with credentials and no token", "POST", "/api/v1/heartbeats/legacy", nil, true, 401},
		{"heartbeat with credentials and its token", "POST", "/api/v1/heartbeats/legacy", map[string]string{"X-Tocsin-Token": "beat-token"}, true, 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, send(tc.method, tc.path, tc.header, tc.basicAuth))
		})
	}
}

func TestExternalURLAndRoutePrefix(t *testing.T) {
	tests := []struct {
		external, listen, prefix string
		wantURL, wantPrefix      string
	}{
		{"https://ops.example/tocsin/", ":9797", "", "https://ops.example/tocsin", "/tocsin"},
		{"https://ops.example/tocsin", ":9797", "/", "https://ops.example/tocsin", "/"},
		{"http://tocsin.example:9797", ":9797", "", "http://tocsin.example:9797", "/"},
		{"", "127.0.0.1:9797", "inner/", "http://127.0.0.1:9797", "/inner"},
	}
	for _, tc := range tests {
		u, err := externalURL(tc.external, tc.listen)
		require.NoError(t, err)
		require.Equal(t, tc.wantURL, u.String())
		require.Equal(t, tc.wantPrefix, routePrefix(tc.prefix, u))
	}
	for _, bad := range []string{"ops.example/tocsin", "ftp://ops.example", "http://%zz"} {
		_, err := externalURL(bad, ":9797")
		require.Error(t, err, bad)
	}
}
