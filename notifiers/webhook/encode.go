package webhook

import (
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// AppendJSON appends the payload as encoding/json would encode m, byte for
// byte (field order, sorted label names, HTML-safe escaping, RFC 3339 times),
// without reflection: a storm's notifications carry thousands of alerts, and
// reflecting over each one's labels was most of a notification's cost.
func (m *Message) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"version":`...)
	b = appendString(b, m.Version)
	b = append(b, `,"groupKey":`...)
	b = appendString(b, m.GroupKey)
	b = append(b, `,"truncatedAlerts":`...)
	b = strconv.AppendInt(b, int64(m.TruncatedAlerts), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, m.Status)
	b = append(b, `,"receiver":`...)
	b = appendString(b, m.Receiver)
	b = append(b, `,"groupLabels":`...)
	b = appendLabels(b, m.GroupLabels)
	b = append(b, `,"commonLabels":`...)
	b = appendLabels(b, m.CommonLabels)
	b = append(b, `,"commonAnnotations":`...)
	b = appendLabels(b, m.CommonAnnotations)
	b = append(b, `,"externalURL":`...)
	b = appendString(b, m.ExternalURL)
	b = append(b, `,"alerts":`...)
	if m.Alerts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range m.Alerts {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = m.Alerts[i].appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

func (a *Alert) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"status":`...)
	b = appendString(b, a.Status)
	b = append(b, `,"labels":`...)
	b = appendLabels(b, a.Labels)
	b = append(b, `,"annotations":`...)
	b = appendLabels(b, a.Annotations)
	b = append(b, `,"startsAt":`...)
	b, err := appendTime(b, a.StartsAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"endsAt":`...)
	if b, err = appendTime(b, a.EndsAt); err != nil {
		return nil, err
	}
	b = append(b, `,"generatorURL":`...)
	b = appendString(b, a.GeneratorURL)
	b = append(b, `,"fingerprint":`...)
	b = appendString(b, a.Fingerprint)
	return append(b, '}'), nil
}

// appendLabels encodes a label set as encoding/json encodes a map: names
// sorted, null for a nil set.
func appendLabels(b []byte, ls model.LabelSet) []byte {
	if ls == nil {
		return append(b, "null"...)
	}
	var stack [16]model.LabelName
	names := stack[:0]
	for n := range ls {
		names = append(names, n)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(n))
		b = append(b, ':')
		b = appendString(b, string(ls[n]))
	}
	return append(b, '}')
}

// appendTime encodes t as time.Time's MarshalJSON does, refusing what it
// refuses.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	num2 := func(b []byte) byte { return 10*(b[0]-'0') + (b[1] - '0') }
	switch {
	case len(b) < n0+5 || b[n0+4] != '-':
		return nil, errors.New("Time.MarshalJSON: year outside of range [0,9999]")
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		if ('0' <= c && c <= '9') || num2(b[len(b)-len("07:00"):]) >= 24 {
			return nil, errors.New("Time.MarshalJSON: timezone hour outside of range [0,23]")
		}
	}
	return append(b, '"'), nil
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping on:
// <, > and & as \u003c, \u003e and \u0026, control characters escaped,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
