package webhook

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

// Encode builds the payload of notif and encodes it: the bytes are those
// of json.Marshal(NewMessage(notif, maxAlerts, now)), field order, sorted
// label names, HTML-safe escaping and RFC 3339 times included, but they
// are written straight from the notification, without reflection and
// without the Message in between. A storm's notifications carry thousands
// of alerts, and reflecting over each one's labels was most of what a
// notification cost.
func Encode(notif *notifiers.Notification, maxAlerts int, now time.Time) ([]byte, error) {
	alerts, truncated := notif.Alerts, 0
	if maxAlerts > 0 && len(alerts) > maxAlerts {
		truncated = len(alerts) - maxAlerts
		alerts = alerts[:maxAlerts]
	}
	status := string(notif.Status)
	if status == "" {
		status = string(model.AlertFiring)
	}
	// About what an alert of a few labels takes, so that a large payload
	// grows its buffer once or twice rather than a dozen times.
	b := make([]byte, 0, 512+320*len(alerts))
	b = append(b, `{"version":`...)
	b = appendString(b, Version)
	b = append(b, `,"groupKey":`...)
	b = appendString(b, notif.GroupKey)
	b = append(b, `,"truncatedAlerts":`...)
	b = strconv.AppendInt(b, int64(truncated), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, status)
	b = append(b, `,"receiver":`...)
	b = appendString(b, notif.Receiver)
	b = append(b, `,"groupLabels":`...)
	b, _ = appendLabels(b, notif.GroupLabels)
	b = append(b, `,"commonLabels":`...)
	b, _ = appendLabels(b, notif.CommonLabels)
	b = append(b, `,"commonAnnotations":`...)
	b, _ = appendLabels(b, notif.CommonAnnotations)
	b = append(b, `,"notification_reason":`...)
	b = appendString(b, notif.NotificationReason())
	b = append(b, `,"routeLabels":`...)
	b, _ = appendLabels(b, notif.RouteLabels)
	b = append(b, `,"externalURL":`...)
	b = appendString(b, notif.ExternalURL)
	b = append(b, `,"alerts":[`...)
	for i, a := range alerts {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendAlert(b, a, now); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

func appendAlert(b []byte, a *model.Alert, now time.Time) ([]byte, error) {
	status := model.AlertFiring
	if a.ResolvedAt(now) {
		status = model.AlertResolved
	}
	b = append(b, `{"status":`...)
	b = appendString(b, string(status))
	b = append(b, `,"labels":`...)
	b, fp := appendLabels(b, a.Labels)
	b = append(b, `,"annotations":`...)
	b, _ = appendLabels(b, a.Annotations)
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
	b = append(b, `,"fingerprint":"`...)
	b = appendHex16(b, uint64(fp))
	return append(b, `"}`...), nil
}

// appendLabels encodes a label set as encoding/json encodes a map, names
// sorted, and a missing set as {} as Alertmanager does. It returns the
// set's fingerprint, model.LabelSet.Fingerprint computed from the same
// sorted pairs rather than sorting them again.
func appendLabels(b []byte, ls model.LabelSet) ([]byte, model.Fingerprint) {
	type pair struct{ name, value string }
	var stack [16]pair
	pairs := stack[:0]
	for n, v := range ls {
		pairs = append(pairs, pair{string(n), string(v)})
	}
	slices.SortFunc(pairs, func(x, y pair) int { return strings.Compare(x.name, y.name) })
	h := uint64(fnvOffset64)
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.name)
		b = append(b, ':')
		b = appendString(b, p.value)
		h = fnvAdd(fnvAdd(h, p.name), p.value)
	}
	return append(b, '}'), model.Fingerprint(h)
}

// model.LabelSet.Fingerprint's hash: FNV-1a over each name and value,
// each followed by model.SeparatorByte.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	h ^= uint64(model.SeparatorByte)
	return h * fnvPrime64
}

func appendHex16(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>shift)&0xf])
	}
	return b
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

// htmlSafe tells the ASCII bytes encoding/json writes as they are when it
// escapes HTML: not control characters, ", \, <, > or &. It is only read.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString quotes s as encoding/json does with HTML escaping on:
// <, > and & as \u003c, \u003e and \u0026, control characters escaped,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe[c] {
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
