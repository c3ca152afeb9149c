package probetest

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
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// PKI is a throwaway certificate authority with one server certificate for
// 127.0.0.1 and one client certificate, both signed by it. The PEM files a
// probe's tls_config names are written into a test's temp dir.
type PKI struct {
	// CAFile is the CA certificate (PEM): a ca_file that trusts the server.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key (PEM).
	CertFile, KeyFile string

	// Pool holds the CA certificate.
	Pool *x509.CertPool
	// Server is the certificate for 127.0.0.1 with its key.
	Server tls.Certificate
	// ServerCertFile and ServerKeyFile hold it as PEM, for servers that
	// read files (a cluster's TLS transport).
	ServerCertFile, ServerKeyFile string
}

// NewPKI creates a CA, a server and a client certificate, valid for an hour
// either side of now, and writes the client side's files into tb.TempDir().
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	dir := tb.TempDir()
	caKey := newKey(tb)
	ca := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "tocsin test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("pki: CA: %v", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		tb.Fatalf("pki: CA: %v", err)
	}
	p := &PKI{Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	p.CAFile = writePEM(tb, dir, "ca.pem", "CERTIFICATE", caDER)

	serverDER, serverKey := issue(tb, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.Server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	serverKeyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		tb.Fatalf("pki: server key: %v", err)
	}
	p.ServerCertFile = writePEM(tb, dir, "server.pem", "CERTIFICATE", serverDER)
	p.ServerKeyFile = writePEM(tb, dir, "server-key.pem", "PRIVATE KEY", serverKeyDER)

	clientDER, clientKey := issue(tb, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "tocsin-probe"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		tb.Fatalf("pki: client key: %v", err)
	}
	p.CertFile = writePEM(tb, dir, "client.pem", "CERTIFICATE", clientDER)
	p.KeyFile = writePEM(tb, dir, "client-key.pem", "PRIVATE KEY", keyDER)
	return p
}

// ServerConfig is a server side that presents the 127.0.0.1 certificate and
// requires a client certificate signed by this CA.
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.Pool,
		MinVersion:   tls.VersionTLS12,
	}
}

func issue(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	tb.Helper()
	key := newKey(tb)
	tmpl.SerialNumber = serial(tb)
	tmpl.NotBefore, tmpl.NotAfter = ca.NotBefore, ca.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("pki: %s: %v", tmpl.Subject.CommonName, err)
	}
	return der, key
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("pki: key: %v", err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("pki: serial: %v", err)
	}
	return n
}

func writePEM(tb testing.TB, dir, name, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatalf("pki: %v", err)
	}
	return path
}

// StartMQTTTLS starts a broker like StartMQTT whose only listener speaks
// TLS with pki's server certificate and requires a client certificate
// signed by pki's CA. Its URL is tls://127.0.0.1:<port>.
func StartMQTTTLS(tb testing.TB, pki *PKI, hooks ...mqtt.Hook) *MQTTBroker {
	tb.Helper()
	return startMQTT(tb, listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: pki.ServerConfig()}, "tls://", hooks)
}

// guardedListener lets a client connect while the broker closes without a
// data race. mochi counts a client in Listeners.ClientsWg only once the
// client's goroutine runs, which can be after Close began to wait on it
// (clients that keep reconnecting, such as probes whose broker stops or
// ones refused by TLS, hit this).
// Here a connection is counted under a lock before mochi sees it, and none
// is handed over once closing began.
type guardedListener struct {
	*listeners.TCP
	clients *sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// Serve hands accepted connections to establish until Close.
func (l *guardedListener) Serve(establish listeners.EstablishFn) {
	l.TCP.Serve(func(id string, c net.Conn) error {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return c.Close()
		}
		l.clients.Add(1)
		l.mu.Unlock()
		defer l.clients.Done()
		return establish(id, c)
	})
}

// Close stops handing over connections, then closes the listener and its clients.
func (l *guardedListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.TCP.Close(closeClients)
}
