package notifiers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/config"
)

// maxResponseBody bounds how much of a vendor's answer is read: enough for
// any error object, never a whole HTML error page.
const maxResponseBody = 64 << 10

// maxReasonLen bounds the vendor reason kept in errors, logs and metrics.
const maxReasonLen = 512

// VendorOptions carry what every vendor integration needs besides its own
// config: where to log, how to link back to tocsin, the clock, and
// optionally an HTTP client that replaces the one built from http_config.
type VendorOptions struct {
	Logger *slog.Logger
	// ExternalURL is tocsin's own address, used for links back from a page.
	ExternalURL string
	// Now reads the clock (Retry-After dates, timestamps); time.Now when nil.
	Now func() time.Time
	// HTTPClient, when set, is used instead of a client built from the
	// integration's http_config.
	HTTPClient *http.Client
	// UserAgent is sent with every request; "tocsin" when empty.
	UserAgent string
	// Templates are the named templates message templates can call; the
	// defaults only when nil.
	Templates *Templates
}

// Clock returns o.Now, or time.Now when it is unset.
func (o VendorOptions) Clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// Log returns o.Logger, or a logger that discards when it is unset.
func (o VendorOptions) Log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ReasonFunc extracts a vendor's explanation from an error answer's body.
type ReasonFunc func(status int, body []byte) string

// HTTPSender sends a vendor's requests and turns every answer into the one
// retry decision tocsin makes everywhere: 2xx accepted; 429 retry after
// Retry-After; 5xx and network errors retry; any other status permanent,
// with the vendor's own reason kept. Errors never contain the request URL,
// headers or body, because those may hold secrets.
type HTTPSender struct {
	Client      *http.Client
	Integration string
	UserAgent   string
	Now         func() time.Time
}

// NewHTTPSender builds a sender for integration from its http_config (nil
// means defaults), unless opts carries a client of its own.
func NewHTTPSender(integration string, cfg *config.HTTPClientConfig, opts VendorOptions) (*HTTPSender, error) {
	client := opts.HTTPClient
	if client == nil {
		c := config.DefaultHTTPClientConfig
		if cfg != nil {
			c = *cfg
		}
		var err error
		client, err = config.NewClientFromConfig(c, "tocsin-"+integration)
		if err != nil {
			return nil, fmt.Errorf("%s: http_config: %w", integration, err)
		}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "tocsin"
	}
	return &HTTPSender{Client: client, Integration: integration, UserAgent: ua, Now: opts.Clock()}, nil
}

// PostJSON posts v as JSON to target with the extra headers and classifies
// the answer; on success it returns the answer's body.
func (s *HTTPSender) PostJSON(ctx context.Context, target string, header http.Header, v any, reason ReasonFunc) ([]byte, bool, error) {
	return s.SendJSON(ctx, http.MethodPost, target, header, v, reason)
}

// SendJSON is PostJSON with another method, such as PUT.
func (s *HTTPSender) SendJSON(ctx context.Context, method, target string, header http.Header, v any, reason ReasonFunc) ([]byte, bool, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, false, fmt.Errorf("%s: encode request: %w", s.Integration, err)
	}
	return s.send(ctx, method, target, header, body, reason)
}

// PostBody posts a JSON body that is already encoded, as PostJSON does.
func (s *HTTPSender) PostBody(ctx context.Context, target string, header http.Header, body []byte, reason ReasonFunc) ([]byte, bool, error) {
	return s.send(ctx, http.MethodPost, target, header, body, reason)
}

func (s *HTTPSender) send(ctx context.Context, method, target string, header http.Header, body []byte, reason ReasonFunc) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("%s: build request: %w", s.Integration, RedactURLError(err))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	return s.Do(req, reason)
}

// Do sends req and classifies the answer; on success it returns the body.
// reason may be nil, in which case DefaultReason is used.
func (s *HTTPSender) Do(req *http.Request, reason ReasonFunc) ([]byte, bool, error) {
	if req.Header.Get("User-Agent") == "" && s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		// A network error or a timeout: the vendor may be fine a moment later.
		return nil, true, fmt.Errorf("%s: send: %w", s.Integration, RedactURLError(err))
	}
	defer resp.Body.Close()
	// A read error after the status line leaves a shorter body; the status
	// alone decides whether the vendor accepted.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode/100 == 2 {
		return body, false, nil
	}
	return nil, Retryable(resp.StatusCode), s.VendorError(resp, body, reason)
}

// VendorError builds the error for a refused request, keeping the vendor's
// reason and its Retry-After.
func (s *HTTPSender) VendorError(resp *http.Response, body []byte, reason ReasonFunc) *VendorError {
	if reason == nil {
		reason = DefaultReason
	}
	e := &VendorError{
		Integration: s.Integration,
		StatusCode:  resp.StatusCode,
		Reason:      TruncateReason(reason(resp.StatusCode, body)),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		e.RetryAfter, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), now())
	}
	return e
}

// ParseRetryAfter reads a Retry-After header given as delay seconds or as
// an HTTP date, relative to now. ok is false when the value is absent or
// unreadable; a date in the past gives 0.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// DefaultReason reads the usual places vendors put an explanation: a JSON
// "message", "error" (string or object with "message"), "errors" or
// "status"; otherwise the body's text; otherwise the HTTP status text.
func DefaultReason(status int, body []byte) string {
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		var parts []string
		for _, k := range []string{"message", "error", "error_description", "errors", "status", "detail"} {
			if s := reasonString(obj[k]); s != "" && !(k == "status" && len(parts) > 0) {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ": ")
		}
	}
	if text := strings.TrimSpace(string(body)); text != "" && utf8.ValidString(text) && !strings.HasPrefix(text, "<") {
		return text
	}
	return http.StatusText(status)
}

// reasonString flattens a JSON value found in an error body to one line.
func reasonString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, x := range v {
			if s := reasonString(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		if m := reasonString(v["message"]); m != "" {
			if c := reasonString(v["code"]); c != "" {
				return c + ": " + m
			}
			return m
		}
		var parts []string
		for k, x := range v {
			if s := reasonString(x); s != "" {
				parts = append(parts, k+": "+s)
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// TruncateReason keeps a vendor reason to one short line.
func TruncateReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return Truncate(s, maxReasonLen)
}

// Truncate shortens s to at most n runes, marking the cut with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// RedactURLError drops the URL from a *url.Error, because vendor URLs often
// carry a token (Slack and Teams webhooks). The underlying cause is kept.
func RedactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
