package notifiers

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// safeError returns err's text with any request URL cut down to its scheme
// and host. Go's HTTP client puts the full URL into network errors, and
// several vendors (Slack, Teams, webhooks) carry their token in the URL, so
// no error text reaches a log, a metric or the console unredacted.
func safeError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for e := err; ; {
		var ue *url.Error
		if !errors.As(e, &ue) {
			break
		}
		if ue.URL != "" {
			msg = strings.ReplaceAll(msg, ue.URL, redactURL(ue.URL))
		}
		if ue.Err == nil {
			break
		}
		e = ue.Err
	}
	return msg
}

// redactURL keeps only what identifies the vendor: scheme and host.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<redacted URL>"
	}
	return u.Scheme + "://" + u.Host + "/<redacted>"
}

// deliveryError is an integration's failure as tocsin reports it: the text
// is already redacted, while errors.As still finds the *VendorError inside.
type deliveryError struct {
	msg string
	err error
}

func (e *deliveryError) Error() string { return e.msg }
func (e *deliveryError) Unwrap() error { return e.err }

// scrubbed replaces a secret in text from outside.
const scrubbed = "<secret>"

// minSecretLen is the shortest text scrubbed: shorter pieces would blot out
// ordinary words and numbers while protecting nothing worth a guess.
const minSecretLen = 4

// Scrub replaces every configured secret value in text with "<secret>":
// the value as configured, URL- and JSON-escaped, and, for a URL that is
// itself a secret (a Slack or Teams webhook), its path, query and the
// token-like parts of either. Vendors and libraries echo requests in their
// error replies, so any text that came from outside passes through Scrub
// before it reaches a log, an error, a metric or the console.
func Scrub(text string, secrets []string) string {
	r := newScrubber(secrets)
	if r == nil {
		return text
	}
	return r.Replace(text)
}

func newScrubber(secrets []string) *strings.Replacer {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if len(f) >= minSecretLen && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	if len(forms) == 0 {
		return nil
	}
	// Longest first, so that a whole URL is replaced before its parts.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, scrubbed)
	}
	return strings.NewReplacer(pairs...)
}

// secretForms lists the ways a secret can appear in a reply.
func secretForms(s string) []string {
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if j, err := json.Marshal(s); err == nil {
		forms = append(forms, strings.Trim(string(j), `"`))
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return forms
	}
	forms = append(forms, u.Host+u.EscapedPath(), u.EscapedPath(), u.RawQuery)
	if p, ok := u.User.Password(); ok {
		forms = append(forms, p)
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if tokenLike(seg) {
			forms = append(forms, seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if tokenLike(v) {
				forms = append(forms, v, url.QueryEscape(v))
			}
		}
	}
	return forms
}

// tokenLike tells a path segment or query value that may be a credential
// (a signature, a key, an id with digits) from a plain word such as
// "services" or "webhookb2" that many URLs share.
func tokenLike(s string) bool {
	if len(s) >= 20 {
		return true
	}
	if len(s) < 8 {
		return false
	}
	digits, letters := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case unicode.IsLetter(r):
			letters++
		}
	}
	return digits > 0 && letters > 0
}

// Redacting wraps an integration so that its errors never carry one of its
// secrets. secrets is called after each failed attempt and returns the
// values the integration sends at that moment, so that a secret rotated in
// its *_file is scrubbed as well as the one loaded first.
func Redacting(n Notifier, secrets func() []string) Notifier {
	return &redacting{next: n, secrets: secrets}
}

type redacting struct {
	next    Notifier
	secrets func() []string
}

func (r *redacting) Notify(ctx context.Context, n *Notification) (bool, error) {
	retry, err := r.next.Notify(ctx, n)
	if err == nil {
		return retry, nil
	}
	return retry, ScrubError(err, r.secrets())
}

// Unwrap returns the wrapped notifier, for code that needs the vendor's own
// type (Slack's message updates, tests).
func (r *redacting) Unwrap() Notifier { return r.next }

// ScrubError returns err with every secret scrubbed from its text. A
// *VendorError inside is still found by errors.As, as a copy with its
// reason scrubbed, and errors.Is still sees context errors; nothing else of
// the original chain is reachable, since its text may hold the secrets.
func ScrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	r := newScrubber(secrets)
	if r == nil {
		return err
	}
	e := &scrubbedError{msg: r.Replace(err.Error()), cause: err}
	var ve *VendorError
	if errors.As(err, &ve) {
		c := *ve
		c.Reason = r.Replace(c.Reason)
		e.vendor = &c
	}
	return e
}

type scrubbedError struct {
	msg    string
	vendor *VendorError
	cause  error
}

func (e *scrubbedError) Error() string { return e.msg }

func (e *scrubbedError) Unwrap() error {
	if e.vendor == nil {
		return nil
	}
	return e.vendor
}

// Is lets errors.Is find context.Canceled and DeadlineExceeded, which
// decide whether an attempt timed out.
func (e *scrubbedError) Is(target error) bool {
	return (target == context.Canceled || target == context.DeadlineExceeded) && errors.Is(e.cause, target)
}
