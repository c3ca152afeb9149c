package notifiers

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func codecAlerts() storedAlerts {
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	return storedAlerts{At: at, Alerts: []*model.Alert{
		{
			Labels:       model.LabelSet{"alertname": "StormAlert", "group": "g001", "instance": "host-00001"},
			Annotations:  model.LabelSet{"summary": "a storm of alerts \x00 é \xff"},
			StartsAt:     at.Add(-time.Minute),
			EndsAt:       at.Add(5 * time.Minute),
			GeneratorURL: "http://prometheus.example/graph",
		},
		{Labels: model.LabelSet{"alertname": "ProbeFailing"}, StartsAt: at.In(time.FixedZone("", 5*3600+30*60))},
		{Labels: model.LabelSet{}, Annotations: model.LabelSet{}},
	}}
}

// TestStoredAlertsRoundTrip: what the binary form reads back equals what
// was written, the zone offset and a nil or empty label set included.
func TestStoredAlertsRoundTrip(t *testing.T) {
	for name, a := range map[string]storedAlerts{"alerts": codecAlerts(), "none": {}} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeStoredAlerts(encodeStoredAlerts(a))
			require.NoError(t, err)
			requireSameAlerts(t, a, got)
		})
	}
}

func requireSameAlerts(t *testing.T, want, got storedAlerts) {
	t.Helper()
	require.True(t, want.At.Equal(got.At))
	require.Len(t, got.Alerts, len(want.Alerts))
	for i, w := range want.Alerts {
		g := got.Alerts[i]
		require.Equal(t, w.Labels, g.Labels)
		require.Equal(t, w.Annotations, g.Annotations)
		require.Equal(t, w.GeneratorURL, g.GeneratorURL)
		require.True(t, w.StartsAt.Equal(g.StartsAt))
		require.True(t, w.EndsAt.Equal(g.EndsAt))
		_, wantOffset := w.StartsAt.Zone()
		_, gotOffset := g.StartsAt.Zone()
		require.Equal(t, wantOffset, gotOffset)
	}
}

func TestLogEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 1, time.UTC)
	for name, e := range map[string]*logEntry{
		"full":  {Firing: []model.Fingerprint{1, 2, 1 << 63}, Resolved: []model.Fingerprint{3}, At: at, State: map[string]string{"slack_ts": "1700000000.000100", "": "x"}},
		"empty": {At: at},
		"zero":  {},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeLogEntry(encodeLogEntry(e))
			require.NoError(t, err)
			require.Equal(t, e.Firing, got.Firing)
			require.Equal(t, e.Resolved, got.Resolved)
			require.Equal(t, e.State, got.State)
			require.True(t, e.At.Equal(got.At))
		})
	}
}

// TestStateReadsJSONValues: a state file written before the binary form
// (JSON values) still restores its groups and its notification log.
func TestStateReadsJSONValues(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	g := logGroup{groupKey: `{}:{group="g001"}`, receiver: "hook"}
	k := integrationKey{"webhook", 0}
	alerts := codecAlerts()
	alerts.Alerts[0].Annotations = model.LabelSet{"summary": "a storm of alerts"} // JSON kept only valid UTF-8
	entry := &logEntry{Firing: []model.Fingerprint{7, 9}, At: alerts.At, State: map[string]string{"ts": "1"}}
	aj, err := json.Marshal(alerts)
	require.NoError(t, err)
	ej, err := json.Marshal(entry)
	require.NoError(t, err)
	require.NoError(t, s.commit(op{bucketGroups, groupDBKey(g), aj}, op{bucketLog, logDBKey(g, k), ej}))
	require.NoError(t, s.Close())

	s, err = OpenState(dir, 0)
	require.NoError(t, err)
	defer s.Close()
	restored := s.restore()
	require.Len(t, restored, 1)
	requireSameAlerts(t, alerts, storedAlerts{At: s.groups[g].At, Alerts: restored[0].alerts})
	got := s.logEntryOf(g, k)
	require.Equal(t, entry.Firing, got.Firing)
	require.Equal(t, entry.State, got.State)
}

// TestStateValuesAreBinary: the values a flush and an acceptance write are
// the binary form, and a damaged one stops the state from opening rather
// than restoring wrong alerts.
func TestStateValuesAreBinary(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	g := logGroup{groupKey: `{}:{group="g001"}`, receiver: "hook"}
	k := integrationKey{"webhook", 0}
	alerts := codecAlerts()
	require.NoError(t, s.startFlush(g, alerts.Alerts, []integrationKey{k}, time.Minute, alerts.At))
	require.NoError(t, s.record(g, k, &logEntry{Firing: []model.Fingerprint{1}, At: alerts.At}))
	require.NoError(t, s.Close())

	db, err := bolt.Open(dir+"/"+StateFile, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketGroups).Get(groupDBKey(g))
		require.Equal(t, byte(codecAlertsV1), v[0])
		require.Equal(t, byte(codecLogEntryV1), tx.Bucket(bucketLog).Get(logDBKey(g, k))[0])
		return tx.Bucket(bucketGroups).Put(groupDBKey(g), v[:len(v)/2])
	}))
	require.NoError(t, db.Close())
	_, err = OpenState(dir, 0)
	require.ErrorContains(t, err, "value ends early")
}

// FuzzStateValues: damaged values fail to decode; they never panic
// or allocate without bound.
func FuzzStateValues(f *testing.F) {
	f.Add(encodeStoredAlerts(codecAlerts()))
	f.Add(encodeLogEntry(&logEntry{Firing: []model.Fingerprint{1}, State: map[string]string{"a": "b"}}))
	f.Fuzz(func(t *testing.T, v []byte) {
		if a, err := decodeStoredAlerts(v); err == nil && len(v) > 0 && v[0] == codecAlertsV1 {
			again, err := decodeStoredAlerts(encodeStoredAlerts(a))
			require.NoError(t, err)
			require.Len(t, again.Alerts, len(a.Alerts))
		}
		_, _ = decodeLogEntry(v)
	})
}

// BenchmarkStoredAlerts encodes one storm group's 100 alerts as the state
// file keeps them, in the binary form and, for comparison, as JSON.
//
//	go test -run '^$' -bench StoredAlerts -benchmem ./notifiers/
func BenchmarkStoredAlerts(b *testing.B) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	a := storedAlerts{At: at}
	for i := range 100 {
		a.Alerts = append(a.Alerts, &model.Alert{
			Labels:      model.LabelSet{"alertname": "StormAlert", "group": "g001", "instance": model.LabelValue(fmt.Sprintf("host-%05d", i))},
			Annotations: model.LabelSet{"summary": "a storm of alerts"}, GeneratorURL: "http://prometheus.example/graph",
			StartsAt: at, EndsAt: at.Add(5 * time.Minute),
		})
	}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeStoredAlerts(a)
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
