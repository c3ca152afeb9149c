package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/tocsin-alerting/tocsin/configs"
)

// newTLSConfig builds a client TLS config from a probe's tls_config; c may
// be nil for the system's defaults.
func newTLSConfig(c *configs.ProbeTLSConfig, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if c == nil {
		return cfg, nil
	}
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	cfg.InsecureSkipVerify = c.InsecureSkipVerify
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_config: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_config: ca_file %s: no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_config: cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// earliestExpiry is the first NotAfter of the presented chain.
func earliestExpiry(cs *tls.ConnectionState) time.Time {
	var t time.Time
	if cs == nil {
		return t
	}
	for _, c := range cs.PeerCertificates {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// classifyNetErr picks the reason for a failed dial, handshake or exchange.
func classifyNetErr(ctx context.Context, err error) Reason {
	var netErr net.Error
	switch {
	case isTLSError(err):
		return ReasonTLS
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return ReasonConnect
}

// isTLSError tells whether err comes from TLS: the peer's certificate did
// not verify, the peer does not speak TLS, or the peer sent an alert (it
// refused our client certificate, version or ciphers).
func isTLSError(err error) bool {
	var (
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		uaErr    x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
	)
	return errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &alertErr) ||
		errors.As(err, &uaErr) || errors.As(err, &hostErr) || errors.As(err, &invErr) || isRemoteAlert(err)
}

// isRemoteAlert finds an alert the peer sent: crypto/tls reports it as a
// *net.OpError with Op "remote error" around an unexported alert type.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	for errors.As(err, &op) {
		if op.Op == "remote error" {
			return true
		}
		err = op.Err
	}
	return false
}

// cleanURLError drops the URL (which may carry tokens in its query) from a
// net/http error, keeping the cause.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// safeURL shows a URL without password or query, for logs and details.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<bad url>"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}
