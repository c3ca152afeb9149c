// Package email sends notifications as mail through an SMTP smarthost,
// with a plain-text and an HTML body.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/config"
	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// defaultTimeout bounds a delivery whose context has no deadline.
const defaultTimeout = 30 * time.Second

// Notifier mails one list of recipients.
type Notifier struct {
	conf       *configs.EmailConfig
	host       string
	port       int
	tls        *tls.Config
	to         []string
	now        func() time.Time
	log        *slog.Logger
	subject    *notifiers.Template
	text, html *notifiers.Template
	headers    map[string]*notifiers.Template
}

// New builds an email notifier from a validated config.
func New(c *configs.EmailConfig, o notifiers.VendorOptions) (*Notifier, error) {
	host, portText, err := net.SplitHostPort(c.Smarthost)
	if err != nil {
		return nil, fmt.Errorf("email: smarthost: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("email: smarthost port: %w", err)
	}
	tc, err := config.NewTLSConfig(&c.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("email: tls_config: %w", err)
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	n := &Notifier{conf: c, host: host, port: port, tls: tc, now: o.Clock(), log: o.Log(), headers: map[string]*notifiers.Template{}}
	for _, a := range strings.Split(c.To, ",") {
		if a = strings.TrimSpace(a); a != "" {
			n.to = append(n.to, a)
		}
	}
	subject := ""
	for k, v := range c.Headers {
		if strings.EqualFold(k, "Subject") {
			subject = v
			continue
		}
		if n.headers[textproto.CanonicalMIMEHeaderKey(k)], err = o.Templates.Parse(v, ""); err != nil {
			return nil, fmt.Errorf("email: headers.%s: %w", k, err)
		}
	}
	if n.subject, err = o.Templates.Parse(subject, notifiers.TemplateTitle); err != nil {
		return nil, fmt.Errorf("email: subject: %w", err)
	}
	if n.text, err = o.Templates.Parse(c.Text, notifiers.TemplateText); err != nil {
		return nil, fmt.Errorf("email: text: %w", err)
	}
	if n.html, err = o.Templates.ParseHTML(c.HTML, notifiers.TemplateHTML); err != nil {
		return nil, fmt.Errorf("email: html: %w", err)
	}
	return n, nil
}

// Notify sends one mail. ctx bounds the whole SMTP conversation: when it
// ends, the connection is closed, even in the middle of a command.
func (n *Notifier) Notify(ctx context.Context, notif *notifiers.Notification) (bool, error) {
	msg, err := n.message(notif)
	if err != nil {
		return false, err
	}
	client, cleanup, err := n.client(ctx)
	if err != nil {
		return false, err
	}
	defer cleanup()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if ctx.Err() != nil {
			return true, fmt.Errorf("email: send to %s: %w", n.conf.Smarthost, ctx.Err())
		}
		return classify(err)
	}
	return false, nil
}

// client builds a go-mail client whose connection is closed when ctx ends,
// because go-mail only watches its own timeout after dialling.
func (n *Notifier) client(ctx context.Context) (*mail.Client, func(), error) {
	// ctx ends the conversation by closing the connection; go-mail's own
	// timeout is only a backstop, set a little later so that ctx's error,
	// not an i/o timeout, tells the caller what happened.
	timeout := defaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), 0) + time.Second
	}
	var mu sync.Mutex
	var stops []func() bool
	implicitTLS := n.port == 465
	if f := n.conf.ForceImplicitTLS; f != nil {
		implicitTLS = *f
	}
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { _ = conn.Close() }))
		mu.Unlock()
		if !implicitTLS {
			return conn, nil
		}
		// go-mail leaves implicit TLS to a dial function of the caller's.
		tc := tls.Client(conn, n.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("implicit TLS: %w", err)
		}
		return tc, nil
	}
	opts := []mail.Option{
		mail.WithPort(n.port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(n.tls),
		mail.WithDialContextFunc(dial),
	}
	switch {
	case implicitTLS:
		opts = append(opts, mail.WithSSL())
	case n.conf.RequireTLS == configs.TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case n.conf.RequireTLS == configs.TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if n.conf.Hello != "" {
		opts = append(opts, mail.WithHELO(n.conf.Hello))
	}
	opts = append(opts, n.auth(implicitTLS)...)
	c, err := mail.NewClient(n.host, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("email: client: %w", err)
	}
	cleanup := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	}
	return c, cleanup, nil
}

func (n *Notifier) message(notif *notifiers.Notification) (*mail.Msg, error) {
	data := notifiers.NewTemplateData(notif)
	subject, err := n.subject.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("email: subject: %w", err)
	}
	text, err := n.text.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("email: text: %w", err)
	}
	html, err := n.html.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("email: html: %w", err)
	}
	m := mail.NewMsg()
	if err := m.From(n.conf.From); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	if err := m.To(n.to...); err != nil {
		return nil, fmt.Errorf("email: to: %w", err)
	}
	m.Subject(strings.Join(strings.Fields(subject), " "))
	m.SetDateWithValue(n.now())
	m.SetMessageID()
	for k, t := range n.headers {
		v, err := t.Execute(data)
		if err != nil {
			return nil, fmt.Errorf("email: header %s: %w", k, err)
		}
		m.SetGenHeader(mail.Header(k), v)
	}
	if th := n.conf.Threading; th.Enabled {
		root := threadRoot(notif.DedupKey, th.ThreadByDate, n.now())
		m.SetGenHeader(mail.HeaderReferences, root)
		m.SetGenHeader(mail.HeaderInReplyTo, root)
	}
	m.SetBodyString(mail.TypeTextPlain, text)
	if html != "" {
		m.AddAlternativeString(mail.TypeTextHTML, html)
	}
	return m, nil
}

// threadRoot is the made-up Message-ID a group's mails refer to, as
// Alertmanager makes it: mail clients that thread by references (the JWZ
// algorithm) show the group's mails as one thread, one a day unless
// threadByDate is none.
func threadRoot(dedupKey, threadByDate string, now time.Time) string {
	day := ""
	if threadByDate != "none" {
		day = now.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("<alert-%.16s-%s@alertmanager>", dedupKey, day)
}

// encryptedAuth is go-mail's order of preference over an encrypted
// connection, for implicit TLS, which go-mail cannot see is encrypted
// when the connection comes from a dial function of tocsin's.
var encryptedAuth = []mail.SMTPAuthType{
	mail.SMTPAuthSCRAMSHA256PLUS, mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1PLUS, mail.SMTPAuthSCRAMSHA1,
	mail.SMTPAuthNTLM, mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin,
}

// auth picks the SMTP authentication: CRAM-MD5 with auth_secret, PLAIN
// with auth_identity, else the best mechanism the server offers for the
// password (a plain password only over TLS).
func (n *Notifier) auth(implicitTLS bool) []mail.Option {
	c := n.conf
	switch {
	case c.AuthUsername == "":
		return nil
	case c.AuthSecret != "" || c.AuthSecretFile != "":
		return []mail.Option{mail.WithSMTPAuthCustom(smtp.CRAMMD5Auth(c.AuthUsername, notifiers.ReadSecret(n.log, "auth_secret", c.AuthSecret, c.AuthSecretFile)))}
	case c.AuthIdentity != "":
		password := notifiers.ReadSecret(n.log, "auth_password", c.AuthPassword, c.AuthPasswordFile)
		return []mail.Option{mail.WithSMTPAuthCustom(smtp.PlainAuth(c.AuthIdentity, c.AuthUsername, password, n.host, false))}
	}
	mechanism := mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover)
	if implicitTLS {
		mechanism = mail.WithOpportunisticSMTPAuth(encryptedAuth...)
	}
	return []mail.Option{mechanism, mail.WithUsername(c.AuthUsername),
		mail.WithPassword(notifiers.ReadSecret(n.log, "auth_password", c.AuthPassword, c.AuthPasswordFile))}
}

// classify turns an SMTP failure into tocsin's retry decision: a 4xx reply
// is temporary, a 5xx reply permanent with the server's words kept as the
// reason, and anything else (connection, TLS) worth another attempt unless
// the server cannot meet the configured TLS policy.
func classify(err error) (bool, error) {
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		code := se.ErrorCode()
		return code < 500, &notifiers.VendorError{Integration: "email", StatusCode: code, Reason: notifiers.TruncateReason(smtpReason(se, code))}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code < 500, &notifiers.VendorError{Integration: "email", StatusCode: te.Code, Reason: notifiers.TruncateReason(fmt.Sprintf("%d %s", te.Code, te.Msg))}
	}
	if errors.Is(err, mail.ErrNoSupportedAuthDiscovered) {
		return false, &notifiers.VendorError{Integration: "email", Reason: "the server offers no authentication mechanism tocsin may use on this connection (plain passwords need TLS)"}
	}
	if strings.Contains(err.Error(), "does not support STARTTLS") {
		return false, &notifiers.VendorError{Integration: "email", Reason: "the server does not offer STARTTLS and require_tls is mandatory"}
	}
	return true, fmt.Errorf("email: %w", err)
}

// smtpReason finds the server's reply in a go-mail error, which quotes it
// after what was being done ("closing SMTP DATA writer: 554 \"5.7.1 ...\"")
// and appends the message ID.
func smtpReason(err error, code int) string {
	msg := err.Error()
	msg, _, _ = strings.Cut(msg, ", affected ")
	if i := strings.Index(msg, strconv.Itoa(code)+" "); i >= 0 {
		text := strings.TrimSpace(msg[i+len(strconv.Itoa(code)):])
		if unq, err := strconv.Unquote(text); err == nil {
			text = unq
		}
		return fmt.Sprintf("%d %s", code, text)
	}
	return msg
}
