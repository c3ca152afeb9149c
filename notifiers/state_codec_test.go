package notifiers

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
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

// TestAlertRoundTrip: what the binary form reads back equals what was
// written, the zone offset and a nil or empty label set included.
func TestAlertRoundTrip(t *testing.T) {
	for i, a := range codecAlerts().Alerts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := decodeAlert(encodeAlert(a))
			require.NoError(t, err)
			requireSameAlerts(t, []*model.Alert{a}, []*model.Alert{got})
		})
	}
}

func requireSameAlerts(t *testing.T, want, got []*model.Alert) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
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
// (a group's alerts together in one JSON value, JSON log entries) still
// restores its groups and its notification log, and keeps each alert as
// its own key from then on.
func TestStateReadsJSONValues(t *testing.T) {
	dir := t.TempDir()
	g := logGroup{groupKey: `{}:{group="g001"}`, receiver: "hook"}
	k := integrationKey{"webhook", 0}
	alerts := codecAlerts()
	alerts.Alerts[0].Annotations = model.LabelSet{"summary": "a storm of alerts"} // JSON kept only valid UTF-8
	entry := &logEntry{Firing: []model.Fingerprint{7, 9}, At: alerts.At, State: map[string]string{"ts": "1"}}
	aj, err := json.Marshal(alerts)
	require.NoError(t, err)
	ej, err := json.Marshal(entry)
	require.NoError(t, err)
	db, err := bolt.Open(filepath.Join(dir, StateFile), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		groups, err := tx.CreateBucket(bucketGroups)
		require.NoError(t, err)
		log, err := tx.CreateBucket(bucketLog)
		require.NoError(t, err)
		require.NoError(t, groups.Put(groupDBKey(g), aj))
		return log.Put(logDBKey(g, k), ej)
	}))
	require.NoError(t, db.Close())

	for range 2 { // opened once it moves the alerts; opened again it finds them moved
		s, err := OpenState(dir, 0)
		require.NoError(t, err)
		requireRestoredGroup(t, s, g, alerts.Alerts[:2]) // the third has no labels
		got := s.logEntryOf(g, k)
		require.Equal(t, entry.Firing, got.Firing)
		require.Equal(t, entry.State, got.State)
		require.NoError(t, s.Close())
	}
}

// requireRestoredGroup: the state restores one group, g, with the alerts
// want in any order.
func requireRestoredGroup(t *testing.T, s *State, g logGroup, want []*model.Alert) {
	t.Helper()
	restored := s.restore()
	require.Len(t, restored, 1)
	require.Equal(t, g, restored[0].group)
	byStart := func(a, b *model.Alert) int { return a.StartsAt.Compare(b.StartsAt) }
	slices.SortFunc(restored[0].alerts, byStart)
	requireSameAlerts(t, slices.SortedFunc(slices.Values(want), byStart), restored[0].alerts)
}

// TestStateMovesAlertsKeptByGroup: a state file that kept each alert under
// its group's key restores them, and keeps them by arrival from then on.
func TestStateMovesAlertsKeptByGroup(t *testing.T) {
	dir := t.TempDir()
	g := logGroup{groupKey: `{}:{group="g001"}`, receiver: "hook"}
	alerts := codecAlerts().Alerts[:2]
	db, err := bolt.Open(filepath.Join(dir, StateFile), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(bucketAlertsByGroup)
		require.NoError(t, err)
		for _, a := range alerts {
			key := fmt.Sprintf("%s\x00%s\x00%016x", g.groupKey, g.receiver, uint64(a.Fingerprint()))
			require.NoError(t, old.Put([]byte(key), encodeAlert(a)))
		}
		return nil
	}))
	require.NoError(t, db.Close())

	for range 2 { // opened once it moves the alerts; opened again it finds them moved
		s, err := OpenState(dir, 0)
		require.NoError(t, err)
		requireRestoredGroup(t, s, g, alerts)
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			require.Nil(t, tx.Bucket(bucketAlertsByGroup))
			require.Equal(t, 2, tx.Bucket(bucketAlerts).Stats().KeyN)
			return nil
		}))
		require.NoError(t, s.Close())
	}
}

// TestStateValuesAreBinary: an alert and an acceptance are written in the
// binary form, and a damaged value stops the state from opening rather
// than restoring wrong alerts.
func TestStateValuesAreBinary(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	g := logGroup{groupKey: `{}:{group="g001"}`, receiver: "hook"}
	k := integrationKey{"webhook", 0}
	a := codecAlerts().Alerts[0]
	s.putAlert(g, a.Fingerprint(), a, a.StartsAt)
	require.NoError(t, s.startFlush(g, []integrationKey{k}, time.Minute))
	require.NoError(t, s.record(g, k, &logEntry{Firing: []model.Fingerprint{1}, At: a.StartsAt}))
	require.NoError(t, s.Close())

	db, err := bolt.Open(filepath.Join(dir, StateFile), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		key, v := tx.Bucket(bucketAlerts).Cursor().First()
		require.Equal(t, byte(codecAlertEntryV1), v[0])
		gotGroup, fp, got, err := decodeAlertEntry(v)
		require.NoError(t, err)
		require.Equal(t, g, gotGroup)
		require.Equal(t, a.Fingerprint(), fp)
		requireSameAlerts(t, []*model.Alert{a}, []*model.Alert{got})
		require.Equal(t, byte(codecLogEntryV1), tx.Bucket(bucketLog).Get(logDBKey(g, k))[0])
		return tx.Bucket(bucketAlerts).Put(key, v[:len(v)/2])
	}))
	require.NoError(t, db.Close())
	_, err = OpenState(dir, 0)
	require.ErrorContains(t, err, "value ends early")
}

// FuzzStateValues: damaged values fail to decode; they never panic
// or allocate without bound.
func FuzzStateValues(f *testing.F) {
	f.Add(encodeAlert(codecAlerts().Alerts[0]))
	f.Add(encodeAlertEntry(logGroup{"{}", "hook"}, 1, codecAlerts().Alerts[0]))
	f.Add(encodeLogEntry(&logEntry{Firing: []model.Fingerprint{1}, State: map[string]string{"a": "b"}}))
	f.Fuzz(func(t *testing.T, v []byte) {
		if a, err := decodeAlert(v); err == nil {
			again, err := decodeAlert(encodeAlert(a))
			require.NoError(t, err)
			require.Equal(t, a.Labels, again.Labels)
		}
		if g, fp, a, err := decodeAlertEntry(v); err == nil {
			g2, fp2, again, err := decodeAlertEntry(encodeAlertEntry(g, fp, a))
			require.NoError(t, err)
			require.Equal(t, g, g2)
			require.Equal(t, fp, fp2)
			require.Equal(t, a.Labels, again.Labels)
		}
		_, _ = decodeLogEntry(v)
	})
}

// BenchmarkStoredAlerts encodes one storm group's 100 alerts as the state
// file keeps them, in the binary form and, for comparison, as the JSON
// group value it kept before.
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
			for _, al := range a.Alerts {
				encodeAlert(al)
			}
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
