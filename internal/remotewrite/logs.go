package remotewrite

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
)

// redactingHandler hides the password of URLs written with one
// (https://user:password@host) in what Prometheus' remote storage logs: its
// queues log each endpoint's URL as it was configured. The metrics' url
// label already shows the password as xxxxx; the logs do the same.
type redactingHandler struct{ slog.Handler }

// urlPassword is the password in a URL's user information.
var urlPassword = regexp.MustCompile(`(://[^/\s:@'"]*):[^/\s@'"]*@`)

func redact(s string) string { return urlPassword.ReplaceAllString(s, "$1:xxxxx@") }

// redactedError hides URL passwords in the text of an error from
// Prometheus' remote storage, which names endpoints by their URL.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = redactAttr(a)
	}
	return redactingHandler{h.Handler.WithAttrs(out)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}

// redactAttr redacts strings, errors and anything else that prints a URL.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]any, len(group))
		for i, g := range group {
			out[i] = redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if s := fmt.Sprint(v.Any()); redact(s) != s {
			return slog.String(a.Key, redact(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
