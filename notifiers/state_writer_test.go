package notifiers

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestWritesReachTheFileInOrder: changes nobody waits for and changes a
// caller waits for are committed in the order they were queued, so that
// what a waited change follows is on disk with it.
func TestWritesReachTheFileInOrder(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	g := logGroup{groupKey: "{}:{group=\"g\"}", receiver: "hook"}
	other := logGroup{groupKey: "{}:{group=\"g2\"}", receiver: "hook"}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	put := func(g logGroup, name string) model.Fingerprint {
		a := &model.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(name)}, StartsAt: now}
		s.putAlert(g, a.Fingerprint(), a, now)
		return a.Fingerprint()
	}
	gone := put(g, "Gone")
	put(other, "Other")
	s.forget(g) // deletes every alert of g written before
	kept := put(g, "Kept")
	s.deleteAlerts(g, []model.Fingerprint{gone})
	for i := range 50 {
		put(g, "Storm"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	require.NoError(t, s.startFlush(g, []integrationKey{{"webhook", 0}}, time.Minute))

	// Everything queued before the waited change is on disk now.
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		onDisk := alertsOnDisk(t, tx)
		require.NotContains(t, onDisk, alertOnDisk{g, gone})
		require.Contains(t, onDisk, alertOnDisk{g, kept})
		require.Len(t, onDisk, 52, "50 + Kept + Other")
		require.NotNil(t, tx.Bucket(bucketOutbox).Get(groupDBKey(g)))
		return nil
	}))
	require.NoError(t, s.Close())

	s = openState(t, dir)
	byGroup := map[logGroup]int{}
	for _, r := range s.restore() {
		byGroup[r.group] = len(r.alerts)
	}
	require.Equal(t, map[logGroup]int{g: 51, other: 1}, byGroup)
}

// TestALostWriteIsReported: a change nobody waited for that could not be
// written is reported by the next change a caller waits for, which is the
// flush that would otherwise call the vendor believing it on disk.
func TestALostWriteIsReported(t *testing.T) {
	s, err := OpenState(t.TempDir(), 0)
	require.NoError(t, err)
	defer s.Close()
	s.queue(false, op{bucket: bucketAlerts, key: nil, value: []byte{1}}) // bbolt refuses an empty key
	require.Error(t, s.startFlush(logGroup{"g", "r"}, []integrationKey{{"webhook", 0}}, time.Minute))
	require.NoError(t, s.startFlush(logGroup{"g", "r"}, []integrationKey{{"webhook", 0}}, time.Minute), "reported once")
}

// TestAClosedStateRefusesWrites: what is queued at Close is written; what
// comes after is refused.
func TestAClosedStateRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenState(dir, 0)
	require.NoError(t, err)
	g := logGroup{"g", "r"}
	a := &model.Alert{Labels: model.LabelSet{"alertname": "A"}}
	s.putAlert(g, a.Fingerprint(), a, time.Now())
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-s.queue(true, op{bucket: bucketAlerts, key: []byte("k"), value: []byte{1}}), errStateClosed)
	s = openState(t, dir)
	require.Len(t, s.restore(), 1, "the alert queued before Close was written")
}

type alertOnDisk struct {
	group logGroup
	fp    model.Fingerprint
}

// alertsOnDisk lists the alerts bucketAlerts holds, in key order.
func alertsOnDisk(t *testing.T, tx *bolt.Tx) []alertOnDisk {
	t.Helper()
	var out []alertOnDisk
	require.NoError(t, tx.Bucket(bucketAlerts).ForEach(func(_, v []byte) error {
		g, fp, _, err := decodeAlertEntry(v)
		out = append(out, alertOnDisk{g, fp})
		return err
	}))
	return out
}

// TestAlertsAreKeyedByArrival: alerts are written under keys in the order
// they first came, whatever their group, so that a storm appends to the
// end of the file; one sent again keeps its key, and after a restart new
// alerts come after the ones kept.
func TestAlertsAreKeyedByArrival(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var want []alertOnDisk
	put := func(group, instance string) {
		g := logGroup{groupKey: `{}:{group="` + group + `"}`, receiver: "hook"}
		a := &model.Alert{Labels: model.LabelSet{"group": model.LabelValue(group), "instance": model.LabelValue(instance)}, StartsAt: now}
		s.putAlert(g, a.Fingerprint(), a, now)
		if !slices.Contains(want, alertOnDisk{g, a.Fingerprint()}) {
			want = append(want, alertOnDisk{g, a.Fingerprint()})
		}
	}
	keys := func() ([]alertOnDisk, []uint64) {
		var n []uint64
		var got []alertOnDisk
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			got = alertsOnDisk(t, tx)
			return tx.Bucket(bucketAlerts).ForEach(func(k, _ []byte) error {
				n = append(n, binary.BigEndian.Uint64(k))
				return nil
			})
		}))
		return got, n
	}
	for i := range 30 {
		put(fmt.Sprintf("g%d", i%3), fmt.Sprintf("h%d", i))
	}
	put("g0", "h0") // sent again
	require.NoError(t, s.startFlush(logGroup{"g", "hook"}, []integrationKey{{"webhook", 0}}, time.Minute))
	got, n := keys()
	require.Equal(t, want, got)
	require.Equal(t, uint64(1), n[0])
	require.Equal(t, uint64(30), n[len(n)-1])
	require.NoError(t, s.Close())

	s = openState(t, dir)
	put("g9", "new")
	require.NoError(t, s.startFlush(logGroup{"g", "hook"}, []integrationKey{{"webhook", 0}}, time.Minute))
	got, n = keys()
	require.Equal(t, want, got)
	require.Equal(t, uint64(31), n[len(n)-1])
}
