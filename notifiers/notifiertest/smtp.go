package notifiertest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
)

// Message is one mail the fake SMTP server accepted.
type Message struct {
	From string
	To   []string
	// Data is the message as sent, headers and body.
	Data    []byte
	Header  mail.Header
	Subject string
	// Text and HTML are the decoded plain-text and HTML parts.
	Text string
	HTML string
	// TLS tells whether the message came over an encrypted connection.
	TLS bool
	// AuthUser is the user that authenticated, if any, and AuthIdentity
	// the identity it authenticated as with PLAIN.
	AuthUser     string
	AuthIdentity string
	// AuthMechanism is the SASL mechanism used, PLAIN or CRAM-MD5.
	AuthMechanism string
}

// WithSMTPAuth makes the fake SMTP server offer AUTH PLAIN and require it
// with these credentials before MAIL.
func WithSMTPAuth(user, password string) Option {
	return func(s *settings) { s.smtpUser, s.smtpPass = user, password }
}

// WithCRAMMD5 makes the fake SMTP server offer AUTH CRAM-MD5 (RFC 2195)
// with this user and shared secret, and require it (or PLAIN, when
// WithSMTPAuth gives a password too) before MAIL.
func WithCRAMMD5(user, secret string) Option {
	return func(s *settings) { s.smtpUser, s.smtpSecret = user, secret }
}

// WithImplicitTLS makes the fake SMTP server speak TLS from the first
// byte (SMTPS, as on port 465) with the certificate of CACert.
func WithImplicitTLS() Option { return func(s *settings) { s.implicitTLS = true } }

// WithSTARTTLS makes the fake SMTP server offer STARTTLS with a
// self-signed certificate for 127.0.0.1; see SMTPServer.CACert.
func WithSTARTTLS() Option { return func(s *settings) { s.startTLS = true } }

// SMTPServer is a fake SMTP smarthost on 127.0.0.1: enough of RFC 5321 to
// take a message (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT) and show what arrived. Modes: Reject answers 554 after DATA, Fail
// 451, RateLimit 452, Hang never greets, Reset drops the connection.
type SMTPServer struct {
	ln      net.Listener
	tlsConf *tls.Config
	caPEM   []byte

	mu         sync.Mutex
	settings   settings
	messages   []Message
	violations []string
	attempts   int
	conns      map[net.Conn]bool
	closed     bool

	wg sync.WaitGroup
}

// NewSMTP starts a fake SMTP server.
func NewSMTP(opts ...Option) (*SMTPServer, error) {
	s := &SMTPServer{conns: map[net.Conn]bool{}}
	for _, o := range opts {
		o(&s.settings)
	}
	if s.settings.startTLS || s.settings.implicitTLS {
		conf, caPEM, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("fake smtp: certificate: %w", err)
		}
		s.tlsConf, s.caPEM = conf, caPEM
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake smtp: listen: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port, the value for smarthost.
func (s *SMTPServer) Addr() string { return s.ln.Addr().String() }

// CACert is the PEM certificate that signs the STARTTLS certificate, the
// value for tls_config.ca; nil without WithSTARTTLS.
func (s *SMTPServer) CACert() []byte { return s.caPEM }

// SetMode changes how the server answers from the next connection on.
func (s *SMTPServer) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings.mode = m
}

// Messages returns the messages accepted so far.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Violations returns every broken protocol or content rule seen.
func (s *SMTPServer) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Attempts counts the connections received.
func (s *SMTPServer) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Close stops the server and drops every connection, hanging ones too.
func (s *SMTPServer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *SMTPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.attempts++
		s.conns[c] = true
		mode := s.settings.mode
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			s.session(c, mode)
		}()
	}
}

func (s *SMTPServer) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

func (s *SMTPServer) violation(format string, args ...any) {
	s.mu.Lock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// smtpSession is the state of one SMTP conversation.
type smtpSession struct {
	conn     net.Conn
	r        *bufio.Reader
	tls      bool
	helo     bool
	authUser string
	// authIdentity and authMech are the PLAIN identity and the mechanism.
	authIdentity, authMech string
	from                   string
	to                     []string
}

func (ss *smtpSession) reply(format string, args ...any) {
	_, _ = fmt.Fprintf(ss.conn, format+"\r\n", args...)
}

func (ss *smtpSession) line() (string, error) {
	l, err := ss.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}

func (s *SMTPServer) session(c net.Conn, mode Mode) {
	switch mode {
	case Hang:
		_, _ = io.Copy(io.Discard, c) // until the client or Close drops it
		return
	case Reset:
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		return
	}
	ss := &smtpSession{conn: c, r: bufio.NewReader(c)}
	if s.settings.implicitTLS {
		tc := tls.Server(c, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			s.violation("implicit TLS: handshake: %v", err)
			return
		}
		ss.conn, ss.r, ss.tls = tc, bufio.NewReader(tc), true
	}
	ss.reply("220 127.0.0.1 ESMTP tocsin fake")
	for {
		l, err := ss.line()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(l, " ")
		if !s.command(ss, strings.ToUpper(verb), arg, mode) {
			return
		}
	}
}

// command handles one SMTP command; false ends the session.
func (s *SMTPServer) command(ss *smtpSession, verb, arg string, mode Mode) bool {
	switch verb {
	case "EHLO", "HELO":
		ss.helo = true
		ss.from, ss.to = "", nil
		lines := []string{"127.0.0.1 greets " + arg, "8BITMIME", "SMTPUTF8", "PIPELINING"}
		if s.tlsConf != nil && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if mechs := s.mechanisms(); len(mechs) > 0 {
			lines = append(lines, "AUTH "+strings.Join(mechs, " "))
		}
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			ss.reply("250%s%s", sep, l)
		}
	case "STARTTLS":
		if s.tlsConf == nil || ss.tls {
			ss.reply("502 5.5.1 STARTTLS not available")
			return true
		}
		ss.reply("220 2.0.0 Ready to start TLS")
		tc := tls.Server(ss.conn, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.r, ss.tls, ss.helo = tc, bufio.NewReader(tc), true, false
	case "AUTH":
		s.auth(ss, arg)
	case "MAIL":
		switch {
		case !ss.helo:
			s.violation("MAIL before EHLO")
			ss.reply("503 5.5.1 EHLO first")
		case s.settings.smtpUser != "" && ss.authUser == "":
			s.violation("MAIL without AUTH")
			ss.reply("530 5.7.0 Authentication required")
		default:
			ss.from = addrArg(arg, "FROM:")
			ss.reply("250 2.1.0 OK")
		}
	case "RCPT":
		if ss.from == "" {
			s.violation("RCPT before MAIL")
			ss.reply("503 5.5.1 MAIL first")
			return true
		}
		ss.to = append(ss.to, addrArg(arg, "TO:"))
		ss.reply("250 2.1.5 OK")
	case "DATA":
		if len(ss.to) == 0 {
			s.violation("DATA without RCPT")
			ss.reply("503 5.5.1 RCPT first")
			return true
		}
		ss.reply("354 End data with <CR><LF>.<CR><LF>")
		data, err := readData(ss.r)
		if err != nil {
			return false
		}
		s.deliver(ss, data, mode)
		ss.from, ss.to = "", nil
	case "RSET":
		ss.from, ss.to = "", nil
		ss.reply("250 2.0.0 OK")
	case "NOOP":
		ss.reply("250 2.0.0 OK")
	case "QUIT":
		ss.reply("221 2.0.0 Bye")
		return false
	default:
		ss.reply("502 5.5.2 Command not recognised")
	}
	return true
}

// mechanisms are the SASL mechanisms the server offers.
func (s *SMTPServer) mechanisms() []string {
	var out []string
	if s.settings.smtpPass != "" {
		out = append(out, "PLAIN")
	}
	if s.settings.smtpSecret != "" {
		out = append(out, "CRAM-MD5")
	}
	return out
}

func (s *SMTPServer) auth(ss *smtpSession, arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	if !slices.Contains(s.mechanisms(), mech) {
		ss.reply("504 5.5.4 Unrecognised authentication type")
		return
	}
	if mech == "CRAM-MD5" {
		s.cramMD5(ss)
		return
	}
	if initial == "" {
		ss.reply("334 ")
		l, err := ss.line()
		if err != nil {
			return
		}
		initial = l
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 3 || parts[1] != s.settings.smtpUser || parts[2] != s.settings.smtpPass {
		ss.reply("535 5.7.8 Authentication credentials invalid")
		return
	}
	ss.authUser, ss.authIdentity, ss.authMech = parts[1], parts[0], "PLAIN"
	ss.reply("235 2.7.0 Authentication successful")
}

// cramMD5 challenges the client and checks its HMAC-MD5 of the challenge.
func (s *SMTPServer) cramMD5(ss *smtpSession) {
	challenge := fmt.Sprintf("<%s@127.0.0.1>", rand.Text())
	ss.reply("334 %s", base64.StdEncoding.EncodeToString([]byte(challenge)))
	l, err := ss.line()
	if err != nil {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(l)
	user, digest, _ := strings.Cut(string(raw), " ")
	mac := hmac.New(md5.New, []byte(s.settings.smtpSecret))
	mac.Write([]byte(challenge))
	if err != nil || user != s.settings.smtpUser || digest != hex.EncodeToString(mac.Sum(nil)) {
		ss.reply("535 5.7.8 Authentication credentials invalid")
		return
	}
	ss.authUser, ss.authMech = user, "CRAM-MD5"
	ss.reply("235 2.7.0 Authentication successful")
}

func (s *SMTPServer) deliver(ss *smtpSession, data []byte, mode Mode) {
	switch mode {
	case Reject:
		ss.reply("554 5.7.1 Message rejected: sender address not allowed")
		return
	case Fail:
		ss.reply("451 4.3.0 Temporary local problem, try again later")
		return
	case RateLimit:
		ss.reply("452 4.3.1 Too many messages, slow down")
		return
	}
	m, err := parseMessage(data)
	if err != nil {
		s.violation("bad message: %v", err)
		ss.reply("554 5.6.0 Message is malformed: %v", err)
		return
	}
	m.From, m.To, m.TLS, m.AuthUser, m.AuthIdentity, m.AuthMechanism = ss.from, ss.to, ss.tls, ss.authUser, ss.authIdentity, ss.authMech
	s.mu.Lock()
	s.messages = append(s.messages, *m)
	onPage := s.settings.onPage
	s.mu.Unlock()
	if onPage != nil {
		onPage(Page{Vendor: "email", Action: "send", Title: m.Subject, Text: m.Text, Resolved: resolvedTitle(m.Subject)})
	}
	ss.reply("250 2.0.0 OK queued")
}

func addrArg(arg, prefix string) string {
	arg = strings.TrimSpace(arg)
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	addr, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
	return strings.Trim(addr, "<>")
}

// readData reads a DATA block up to the lone dot, undoing dot-stuffing.
func readData(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		trimmed := strings.TrimRight(l, "\r\n")
		if trimmed == "." {
			return buf.Bytes(), nil
		}
		buf.WriteString(strings.TrimPrefix(trimmed, "."))
		buf.WriteString("\r\n")
	}
}

// parseMessage checks the headers every mail needs (RFC 5322) and pulls
// out the text and HTML parts.
func parseMessage(data []byte) (*Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
		if msg.Header.Get(h) == "" {
			return nil, fmt.Errorf("header %s is missing", h)
		}
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	m := &Message{Data: data, Header: msg.Header, Subject: subject}
	if err := m.readParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Message) readParts(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.readParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineSkipper{body})
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	switch mediaType {
	case "text/plain":
		m.Text = strings.ReplaceAll(string(text), "\r\n", "\n")
	case "text/html":
		m.HTML = strings.ReplaceAll(string(text), "\r\n", "\n")
	}
	return nil
}

// newlineSkipper drops line breaks from base64 text.
type newlineSkipper struct{ r io.Reader }

func (n newlineSkipper) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	out := p[:0]
	for _, b := range p[:c] {
		if b != '\r' && b != '\n' {
			out = append(out, b)
		}
	}
	return len(out), err
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned() (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tocsin fake smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caPEM, nil
}
