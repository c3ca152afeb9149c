package notifiers

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// The state file's values that grow with a storm (alerts, a notification
// log entry's fingerprints) are written in a compact binary form rather
// than JSON: encoding a storm's groups as JSON before their vendor calls
// was most of the time a storm took to page. Each such value starts with a
// version byte; a log entry that starts with '{' is JSON, as files written
// before this encoding hold, and is still read.
const (
	codecAlertV1      = 1
	codecAlertEntryV1 = 1
	codecLogEntryV1   = 1
)

var errShortValue = errors.New("value ends early")

// encodeAlert writes one alert: the version, then its labels,
// annotations, start, end and generator URL.
func encodeAlert(a *model.Alert) []byte {
	return appendAlert(make([]byte, 0, alertSize(a)), a)
}

func alertSize(a *model.Alert) int {
	return 48 + len(a.GeneratorURL) + pairsSize(a.Labels) + pairsSize(a.Annotations)
}

func appendAlert(b []byte, a *model.Alert) []byte {
	b = append(b, codecAlertV1)
	b = appendLabelSet(b, a.Labels)
	b = appendLabelSet(b, a.Annotations)
	b = appendTime(b, a.StartsAt)
	b = appendTime(b, a.EndsAt)
	return appendBytes(b, a.GeneratorURL)
}

func decodeAlert(v []byte) (*model.Alert, error) {
	d := decoder{b: v}
	a := d.alert()
	return a, d.done()
}

// encodeAlertEntry writes an alert as bucketAlerts keeps it, under a key
// that only tells when it was first written: the version, the group's key
// and receiver, the alert's fingerprint, then the alert as encodeAlert
// writes it.
func encodeAlertEntry(g logGroup, fp model.Fingerprint, a *model.Alert) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen16+len(g.groupKey)+len(g.receiver)+8+alertSize(a))
	b = append(b, codecAlertEntryV1)
	b = appendBytes(b, g.groupKey)
	b = appendBytes(b, g.receiver)
	b = binary.LittleEndian.AppendUint64(b, uint64(fp))
	return appendAlert(b, a)
}

func decodeAlertEntry(v []byte) (logGroup, model.Fingerprint, *model.Alert, error) {
	d := decoder{b: v}
	if ver := d.byte(); ver != codecAlertEntryV1 && d.err == nil {
		return logGroup{}, 0, nil, fmt.Errorf("unknown encoding version %d", ver)
	}
	var g logGroup
	g.groupKey = d.string()
	g.receiver = d.string()
	fp := model.Fingerprint(d.uint64())
	a := d.alert()
	return g, fp, a, d.done()
}

// decodeStoredAlerts reads a group's alerts as bucketGroups held them.
func decodeStoredAlerts(v []byte) (storedAlerts, error) {
	var a storedAlerts
	err := json.Unmarshal(v, &a)
	return a, err
}

// encodeLogEntry writes a notification log entry: the version, the time,
// the firing and the resolved fingerprints, and the vendor's state.
func encodeLogEntry(e *logEntry) []byte {
	b := make([]byte, 0, 32+8*(len(e.Firing)+len(e.Resolved))+pairsSize(e.State))
	b = append(b, codecLogEntryV1)
	b = appendTime(b, e.At)
	for _, fps := range [][]model.Fingerprint{e.Firing, e.Resolved} {
		b = binary.AppendUvarint(b, uint64(len(fps)))
		for _, fp := range fps {
			b = binary.LittleEndian.AppendUint64(b, uint64(fp))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.State)))
	for k, v := range e.State {
		b = appendBytes(b, k)
		b = appendBytes(b, v)
	}
	return b
}

func decodeLogEntry(v []byte) (*logEntry, error) {
	e := &logEntry{}
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, e)
		return e, err
	}
	d := decoder{b: v}
	if ver := d.byte(); ver != codecLogEntryV1 && d.err == nil {
		return e, fmt.Errorf("unknown encoding version %d", ver)
	}
	e.At = d.time()
	e.Firing = d.fingerprints()
	e.Resolved = d.fingerprints()
	if n := d.count(); n > 0 && d.err == nil {
		e.State = make(map[string]string, n)
		for range n {
			k := d.string()
			e.State[k] = d.string()
		}
	}
	return e, d.done()
}

// pairsSize is about what appendLabelSet writes for m.
func pairsSize[K, V ~string](m map[K]V) int {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 4
	}
	return n
}

// appendLabelSet writes the number of pairs plus one (0 for a nil set,
// which JSON kept as null), then each name and value.
func appendLabelSet(b []byte, ls model.LabelSet) []byte {
	if ls == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ls))+1)
	for k, v := range ls {
		b = appendBytes(b, string(k))
		b = appendBytes(b, string(v))
	}
	return b
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime writes time.Time's own binary form (which keeps the zone
// offset, as JSON did) behind its length.
func appendTime(b []byte, t time.Time) []byte {
	i := len(b)
	b = append(b, 0)
	out, err := t.AppendBinary(b)
	if err != nil {
		// An offset of minus one minute, which it cannot write: the
		// same instant in UTC.
		out, _ = t.UTC().AppendBinary(b)
	}
	out[i] = byte(len(out) - i - 1)
	return out
}

// decoder reads the binary values; the first error sticks and every read
// after it returns a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errShortValue)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShortValue)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of elements that follow, each at least one byte
// long, so that a corrupt count cannot make a huge allocation.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShortValue)
		return 0
	}
	return int(n)
}

func (d *decoder) raw(n int) []byte {
	if n > len(d.b) {
		d.fail(errShortValue)
		return nil
	}
	r := d.b[:n]
	d.b = d.b[n:]
	return r
}

func (d *decoder) string() string { return string(d.raw(d.count())) }

func (d *decoder) uint64() uint64 {
	raw := d.raw(8)
	if d.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(raw)
}

func (d *decoder) alert() *model.Alert {
	if ver := d.byte(); ver != codecAlertV1 && d.err == nil {
		d.fail(fmt.Errorf("unknown encoding version %d", ver))
	}
	a := &model.Alert{}
	a.Labels = d.labelSet()
	a.Annotations = d.labelSet()
	a.StartsAt = d.time()
	a.EndsAt = d.time()
	a.GeneratorURL = d.string()
	return a
}

func (d *decoder) time() time.Time {
	var t time.Time
	raw := d.raw(int(d.byte()))
	if d.err == nil {
		if err := t.UnmarshalBinary(raw); err != nil {
			d.fail(err)
		}
	}
	return t
}

func (d *decoder) labelSet() model.LabelSet {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	ls := make(model.LabelSet, n-1)
	for range n - 1 {
		k := d.string()
		ls[model.LabelName(k)] = model.LabelValue(d.string())
	}
	return ls
}

func (d *decoder) fingerprints() []model.Fingerprint {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	if uint64(n)*8 > uint64(len(d.b)) {
		d.fail(errShortValue)
		return nil
	}
	fps := make([]model.Fingerprint, n)
	for i := range fps {
		fps[i] = model.Fingerprint(binary.LittleEndian.Uint64(d.b[8*i:]))
	}
	d.b = d.b[8*n:]
	return fps
}

// done reports the first error, or that bytes were left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		return fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}
