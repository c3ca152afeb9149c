package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
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
	ca := newCA(t)
	serverCert, serverKey := ca.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "prometheus", x509.ExtKeyUsageClientAuth)
	writeFile(t, dir, "ca.crt", ca.certPEM)
	writeFile(t, dir, "server.crt", serverCert)
	writeFile(t, dir, "server.key", serverKey)
	webConfig := writeFile(t, dir, "web.yml", `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
`)
	s := newTestServer(t, Options{WebConfigFile: webConfig})
	base := serve(t, s, "https")

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(ca.certPEM)))
	pair, err := tls.X509KeyPair([]byte(clientCert), []byte(clientKey))
	require.NoError(t, err)
	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}

	resp, err := client(pair).Get(base + "/-/healthy")
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

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM string
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tocsin test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue returns a PEM certificate and key for name (an IP address or a
// common name) signed by the CA.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}
