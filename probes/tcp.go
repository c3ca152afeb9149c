package probes

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TCP checks that a port accepts connections, optionally over TLS and
// optionally answering a line that matches a regular expression.
type TCP struct {
	*base
	cfg    *configs.TCPProbe
	tls    *tls.Config
	expect *regexp.Regexp
}

func newTCPProber(b *base, cfg *configs.TCPProbe) (*TCP, error) {
	p := &TCP{base: b, cfg: cfg}
	if cfg.TLS {
		host, _, _ := net.SplitHostPort(cfg.Address)
		tc, err := newTLSConfig(cfg.TLSConfig, host)
		if err != nil {
			return nil, err
		}
		p.tls = tc
	}
	if cfg.Expect != "" {
		re, err := regexp.Compile(cfg.Expect)
		if err != nil {
			return nil, err
		}
		p.expect = re
	}
	return p, nil
}

// Probe connects once.
func (p *TCP) Probe(ctx context.Context) Result {
	r, ctx, cancel := p.start(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.cfg.Address)
	if err != nil {
		fail(&r, classifyNetErr(ctx, err), "dial %s: %v", p.cfg.Address, err)
		return p.finish(&r)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			reason := classifyNetErr(ctx, err)
			if reason == ReasonConnect {
				reason = ReasonTLS
			}
			fail(&r, reason, "tls handshake with %s: %v", p.cfg.Address, err)
			return p.finish(&r)
		}
		cs := tc.ConnectionState()
		r.CertExpiry = earliestExpiry(&cs)
		conn = tc
	}
	if p.cfg.Send != "" {
		line := p.cfg.Send
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		if _, err := io.WriteString(conn, line); err != nil {
			fail(&r, classifyNetErr(ctx, err), "send to %s: %v", p.cfg.Address, err)
			return p.finish(&r)
		}
	}
	if p.expect != nil {
		p.readExpected(ctx, conn, &r)
	}
	return p.finish(&r)
}

func (p *TCP) readExpected(ctx context.Context, conn net.Conn, r *Result) {
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if p.expect.Match(sc.Bytes()) {
			return
		}
	}
	err := sc.Err()
	switch {
	case err == nil, errors.Is(err, io.EOF):
		fail(r, ReasonBody, "connection closed before a line matched %q", p.expect.String())
	default:
		reason := classifyNetErr(ctx, err)
		if reason == ReasonTimeout {
			fail(r, reason, "no line matched %q before the deadline", p.expect.String())
			return
		}
		fail(r, reason, "read from %s: %v", p.cfg.Address, err)
	}
}

// Close has nothing to release: every run uses its own connection.
func (p *TCP) Close() {}
