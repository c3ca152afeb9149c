package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestBasicAuthFromWebConfig(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	require.NoError(t, err)
	dir := t.TempDir()
	webConfig := writeFile(t, dir, "web.yml", "basic_auth_users:\n  oncall: "+string(hash)+"\n")
	s := newTestServer(t, Options{WebConfigFile: webConfig})
	s.Handle("POST /api/v1/heartbeats/", echoBody)
	base := serve(t, s, "http")

	tests := []struct {
		name, method, path string
		user, pass         string
		code               int
	}{
		{"no credentials", "GET", "/metrics", "", "", 401},
		{"wrong password", "GET", "/metrics", "oncall", "hunter3", 401},
		{"unknown user", "GET", "/metrics", "root", "hunter2", 401},
		{"credentials", "GET", "/metrics", "oncall", "hunter2", 200},
		{"health needs them too", "GET", "/-/healthy", "", "", 401},
		{"health with credentials", "GET", "/-/healthy", "oncall", "hunter2", 200},
		{"push endpoints need them too", "POST", "/api/v1/heartbeats/hb", "", "", 401},
		{"push endpoint with credentials", "POST", "/api/v1/heartbeats/hb", "oncall", "hunter2", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			require.NoError(t, err)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.code, resp.StatusCode)
		})
	}
}

func TestBadWebConfigStopsListen(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"plain password": "basic_auth_users:\n  oncall: hunter2\n",
		"unknown key":    "basic_auth_user:\n  oncall: x\n",
		"missing cert":   "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestServer(t, Options{WebConfigFile: writeFile(t, dir, "web.yml", content)})
			require.ErrorContains(t, s.Listen(), "web config")
			require.Nil(t, s.ln)
		})
	}
}

func TestTLSAndClientCertificates(t *testing.T) {
	dir := t.TempDir()
	pki := probetest.NewPKI(t)
	key, err := x509.MarshalPKCS8PrivateKey(pki.Server.PrivateKey)
	require.NoError(t, err)
	writeFile(t, dir, "server.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Server.Certificate[0]})))
	writeFile(t, dir, "server.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})))
	webConfig := writeFile(t, dir, "web.yml", `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: `+pki.CAFile+`
`)
	s := newTestServer(t, Options{WebConfigFile: webConfig})
	base := serve(t, s, "https")

	clientCert, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	require.NoError(t, err)
	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool, Certificates: certs}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}

	resp, err := client(clientCert).Get(base + "/-/healthy")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NotNil(t, resp.TLS)

	_, err = client().Get(base + "/-/healthy")
	require.Error(t, err, "a client without a certificate is refused")

	plain := "http" + base[len("https"):]
	resp, err = http.Get(plain + "/-/healthy")
	if err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP is not served")
	}
}
