package notifiers

import (
	"errors"
	"net/url"
	"strings"
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
