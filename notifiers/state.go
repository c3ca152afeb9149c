package notifiers

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	bolt "go.etcd.io/bbolt"
)

// StateFile is the name of the notification state file under storage.path.
const StateFile = "notify.db"

// DefaultStateRetention is how long the notification log keeps an entry
// after its last change, as Alertmanager's --data.retention.
const DefaultStateRetention = 120 * time.Hour

// Buckets of the state file, one per concern.
var (
	bucketLog        = []byte("nflog")             // group+receiver+integration → logEntry (state_codec.go)
	bucketAlerts     = []byte("alerts_by_arrival") // arrival number → group+receiver+fingerprint and one alert (state_codec.go)
	bucketOutbox     = []byte("outbox")            // group+receiver → pending deliveries by integration
	bucketRetryAfter = []byte("retry_after")       // receiver+integration → time
	// bucketGroups held a group's alerts together, all written again at
	// each flush (group+receiver → storedAlerts as JSON). Opening a file
	// that has it moves them into bucketAlerts.
	bucketGroups = []byte("groups")
	// bucketAlertsByGroup held each alert under its group and fingerprint
	// (group+receiver+fingerprint → one alert). A storm's alerts, spread
	// over every group, then rewrote most pages of the tree in each
	// commit, and the file's pages that a commit reads count in tocsin's
	// resident memory. Opening a file that has it moves them into
	// bucketAlerts.
	bucketAlertsByGroup = []byte("alerts")
)

// State is the dispatcher's memory that must survive a crash: the
// notification log, the alerts each group holds with its pending
// deliveries (the outbox), and the vendors' Retry-After windows. Reads come
// from memory; every change is written through to an embedded bbolt file
// and synced to disk before the vendor call it leads to. A State without a
// file (OpenMemoryState) keeps everything in memory only.
//
// A group's alerts are written one by one as they arrive or change, while
// the group waits for its group_wait, and nothing waits for those writes;
// the flush then writes only the small pending delivery and waits for it.
// Changes are committed in the order they were made (see writeQueue), so
// once the pending delivery is on disk, so is every alert the flush
// notifies of.
//
// Alertmanager's nflog package was weighed for this: it writes snapshots
// on a timer (15 minutes by default), so a kill -9 loses every entry since
// the last one and re-pages those groups. tocsin syncs each change instead;
// docs/benchmarks.md gives what the syncs cost.
type State struct {
	db        *bolt.DB
	writes    *writeQueue
	retention time.Duration

	mu         sync.Mutex
	log        map[logGroup]map[integrationKey]*logEntry
	groups     map[logGroup]*groupRecord
	retryAfter map[healthKey]time.Time
	broadcast  func([]byte)
	// alertKeys finds each alert's key in bucketAlerts. Alerts are keyed
	// by the order they were first written in, so that a storm's new
	// alerts go to the end of the file's tree, a few pages per commit,
	// rather than into the pages of every group.
	alertKeys    map[logGroup]map[model.Fingerprint]uint64
	lastAlertKey uint64
}

// groupRecord is what the state knows of a group of one receiver: the
// integrations whose delivery has not ended yet, and when its alerts last
// changed. The alerts themselves are only kept in memory as the file held
// them when it was opened, for the restore; on disk each alert is its own
// key, and the pending deliveries another.
type groupRecord struct {
	Alerts []*model.Alert
	// Pending maps an integration ("slack[0]") to its delivery in flight.
	Pending map[string]pendingDelivery
	At      time.Time
}

// storedAlerts is a group's alerts as bucketGroups held them.
type storedAlerts struct {
	Alerts []*model.Alert `json:"alerts"`
	At     time.Time      `json:"at"`
}

// groupLocked returns g's record, creating it.
func (s *State) groupLocked(g logGroup) *groupRecord {
	rec := s.groups[g]
	if rec == nil {
		rec = &groupRecord{Pending: map[string]pendingDelivery{}}
		s.groups[g] = rec
	}
	if rec.Pending == nil {
		rec.Pending = map[string]pendingDelivery{}
	}
	return rec
}

// outboxOp writes g's pending deliveries, or deletes the key when none is
// left; nil without a file.
func (s *State) outboxOp(g logGroup, rec *groupRecord) []op {
	if s.db == nil {
		return nil
	}
	if rec == nil || len(rec.Pending) == 0 {
		return []op{{bucket: bucketOutbox, key: groupDBKey(g)}}
	}
	return []op{putOp(bucketOutbox, groupDBKey(g), rec.Pending)}
}

// pendingDelivery is an outbox entry: a delivery that was started and has
// neither been accepted nor refused for good.
type pendingDelivery struct {
	Attempts int `json:"attempts"`
	// Budget is the time left for retries when the entry was last written;
	// a delivery resumed after a restart gets what was left.
	Budget time.Duration `json:"budget"`
}

// OpenState opens (or creates) the state file in dir and loads it.
func OpenState(dir string, retention time.Duration) (*State, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("notification state: %w", err)
	}
	path := filepath.Join(dir, StateFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("notification state %s: %w", path, err)
	}
	s := newState(retention)
	s.db = db
	s.writes = &writeQueue{db: db}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("notification state %s: %w", path, err)
	}
	return s, nil
}

// OpenMemoryState returns a State that keeps nothing across restarts.
func OpenMemoryState() *State { return newState(DefaultStateRetention) }

func newState(retention time.Duration) *State {
	if retention <= 0 {
		retention = DefaultStateRetention
	}
	return &State{
		retention:  retention,
		log:        map[logGroup]map[integrationKey]*logEntry{},
		groups:     map[logGroup]*groupRecord{},
		retryAfter: map[healthKey]time.Time{},
		alertKeys:  map[logGroup]map[model.Fingerprint]uint64{},
	}
}

// Close writes what is queued and closes the state file.
func (s *State) Close() error {
	if s == nil || s.db == nil {
		return nil
	}
	return errors.Join(s.writes.close(), s.db.Close())
}

// Keys are the parts joined by a NUL, which no label value or name holds
// in practice and which sorts a group's entries together.
const keySep = "\x00"

func groupDBKey(g logGroup) []byte { return []byte(g.groupKey + keySep + g.receiver) }

// alertDBKey is an alert's arrival number, big-endian so that the keys
// sort in the order they were given.
func alertDBKey(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n) }

// alertKeyLocked returns the key of g's alert fp, giving it the next one
// when it has none.
func (s *State) alertKeyLocked(g logGroup, fp model.Fingerprint) uint64 {
	keys := s.alertKeys[g]
	if keys == nil {
		keys = map[model.Fingerprint]uint64{}
		s.alertKeys[g] = keys
	}
	n, ok := keys[fp]
	if !ok {
		s.lastAlertKey++
		n = s.lastAlertKey
		keys[fp] = n
	}
	return n
}

// forgetAlertsLocked deletes the alerts fps of g, or all of g's alerts
// when all is set.
func (s *State) forgetAlertsLocked(g logGroup, fps []model.Fingerprint, all bool) []op {
	keys := s.alertKeys[g]
	if all {
		fps = slices.Collect(maps.Keys(keys))
	}
	ops := make([]op, 0, len(fps))
	for _, fp := range fps {
		if n, ok := keys[fp]; ok {
			ops = append(ops, op{bucket: bucketAlerts, key: alertDBKey(n)})
			delete(keys, fp)
		}
	}
	if len(keys) == 0 {
		delete(s.alertKeys, g)
	}
	return ops
}

func parseGroupDBKey(k []byte) (logGroup, bool) {
	parts := strings.Split(string(k), keySep)
	if len(parts) != 2 {
		return logGroup{}, false
	}
	return logGroup{groupKey: parts[0], receiver: parts[1]}, true
}

func logDBKey(g logGroup, k integrationKey) []byte {
	return []byte(g.groupKey + keySep + g.receiver + keySep + k.String())
}

func retryAfterDBKey(k healthKey) []byte { return []byte(k.receiver + keySep + k.String()) }

func (k integrationKey) String() string { return fmt.Sprintf("%s[%d]", k.name, k.index) }

func parseIntegrationKey(s string) (integrationKey, bool) {
	var k integrationKey
	i := strings.LastIndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return k, false
	}
	if _, err := fmt.Sscanf(s[i:], "[%d]", &k.index); err != nil {
		return k, false
	}
	k.name = s[:i]
	return k, true
}

// load reads the whole file into memory.
func (s *State) load() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLog, bucketAlerts, bucketOutbox, bucketRetryAfter} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		err := tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			parts := strings.Split(string(k), keySep)
			ik, ok := parseIntegrationKey(parts[len(parts)-1])
			if len(parts) != 3 || !ok {
				return nil // not ours; left alone
			}
			e, err := decodeLogEntry(v)
			if err != nil {
				return fmt.Errorf("notification log entry %q: %w", k, err)
			}
			g := logGroup{groupKey: parts[0], receiver: parts[1]}
			if s.log[g] == nil {
				s.log[g] = map[integrationKey]*logEntry{}
			}
			s.log[g][ik] = e
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.loadAlerts(tx); err != nil {
			return err
		}
		if err := s.moveGroups(tx); err != nil {
			return err
		}
		if err := s.moveAlertsByGroup(tx); err != nil {
			return err
		}
		err = tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			g, ok := parseGroupDBKey(k)
			if !ok {
				return nil
			}
			var p map[string]pendingDelivery
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("outbox %q: %w", k, err)
			}
			s.groupLocked(g).Pending = p
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRetryAfter).ForEach(func(k, v []byte) error {
			parts := strings.Split(string(k), keySep)
			ik, ok := parseIntegrationKey(parts[len(parts)-1])
			if len(parts) != 2 || !ok {
				return nil
			}
			var t time.Time
			if err := t.UnmarshalText(v); err != nil {
				return fmt.Errorf("retry-after %q: %w", k, err)
			}
			s.retryAfter[healthKey{parts[0], ik}] = t
			return nil
		})
	})
}

// loadAlerts reads bucketAlerts. Should an alert be there twice, the
// later write wins and the earlier is deleted.
func (s *State) loadAlerts(tx *bolt.Tx) error {
	b := tx.Bucket(bucketAlerts)
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil // not ours; left alone
		}
		g, fp, a, err := decodeAlertEntry(v)
		if err != nil {
			return fmt.Errorf("alert %x: %w", k, err)
		}
		n := binary.BigEndian.Uint64(k)
		if s.alertKeys[g] == nil {
			s.alertKeys[g] = map[model.Fingerprint]uint64{}
		}
		if old, ok := s.alertKeys[g][fp]; ok {
			stale = append(stale, alertDBKey(old))
		}
		s.alertKeys[g][fp] = n
		s.lastAlertKey = max(s.lastAlertKey, n)
		s.loadAlert(g, a)
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// moveAlert writes an alert read from an older layout of the file into
// bucketAlerts, and files it into its group's record.
func (s *State) moveAlert(tx *bolt.Tx, g logGroup, a *model.Alert) error {
	fp := a.Fingerprint()
	if err := tx.Bucket(bucketAlerts).Put(alertDBKey(s.alertKeyLocked(g, fp)), encodeAlertEntry(g, fp, a)); err != nil {
		return err
	}
	s.loadAlert(g, a)
	return nil
}

// moveAlertsByGroup moves the alerts a file kept under their group's key
// (bucketAlertsByGroup) into bucketAlerts, and drops the old bucket.
func (s *State) moveAlertsByGroup(tx *bolt.Tx) error {
	old := tx.Bucket(bucketAlertsByGroup)
	if old == nil {
		return nil
	}
	err := old.ForEach(func(k, v []byte) error {
		parts := strings.Split(string(k), keySep)
		if len(parts) != 3 {
			return nil
		}
		a, err := decodeAlert(v)
		if err != nil {
			return fmt.Errorf("alert %q: %w", k, err)
		}
		return s.moveAlert(tx, logGroup{groupKey: parts[0], receiver: parts[1]}, a)
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketAlertsByGroup)
}

// loadAlert files an alert read from the file into its group's record;
// the record counts as changed when the alert last started or ended.
func (s *State) loadAlert(g logGroup, a *model.Alert) {
	rec := s.groupLocked(g)
	rec.Alerts = append(rec.Alerts, a)
	for _, t := range []time.Time{a.StartsAt, a.EndsAt} {
		if t.After(rec.At) {
			rec.At = t
		}
	}
}

// moveGroups moves the alerts a file kept per group (bucketGroups) into
// bucketAlerts, one key each, and drops the old bucket.
func (s *State) moveGroups(tx *bolt.Tx) error {
	old := tx.Bucket(bucketGroups)
	if old == nil {
		return nil
	}
	err := old.ForEach(func(k, v []byte) error {
		g, ok := parseGroupDBKey(k)
		if !ok {
			return nil
		}
		sa, err := decodeStoredAlerts(v)
		if err != nil {
			return fmt.Errorf("group %q: %w", k, err)
		}
		for _, a := range sa.Alerts {
			if a == nil || len(a.Labels) == 0 {
				continue
			}
			if err := s.moveAlert(tx, g, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketGroups)
}

func putOp(bucket, key []byte, v any) op {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings, numbers and times
	}
	return op{bucket: bucket, key: key, value: data}
}

// queue hands ops to the file's writer; without a file it does nothing.
// Callers queue under s.mu, so that the writes of one key reach the file
// in the order they were made, and wait for the returned channel (when
// wait is set) without it, so that writes that come together (a storm, a
// fan-out to several vendors) share one transaction and one sync.
func (s *State) queue(wait bool, ops ...op) <-chan error {
	if s.db == nil {
		ops = nil
	}
	return s.writes.enqueue(wait, ops...)
}

// putAlert writes one of a group's alerts as it arrives or changes,
// without waiting for the disk: a flush that notifies of it queues its
// pending delivery later and waits for that.
func (s *State) putAlert(g logGroup, fp model.Fingerprint, a *model.Alert, now time.Time) {
	if s.db == nil {
		return
	}
	v := encodeAlertEntry(g, fp, a)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupLocked(g).At = now
	s.queue(false, op{bucket: bucketAlerts, key: alertDBKey(s.alertKeyLocked(g, fp)), value: v})
}

// deleteAlerts forgets alerts that left their group, without waiting for
// the disk: until it is written, a restart restores them as they were.
func (s *State) deleteAlerts(g logGroup, fps []model.Fingerprint) {
	if s.db == nil || len(fps) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue(false, s.forgetAlertsLocked(g, fps, false)...)
}

// logEntryOf returns what integration k of g last accepted, or nil.
func (s *State) logEntryOf(g logGroup, k integrationKey) *logEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log[g][k]
}

// record stores what integration k accepted for g and ends its pending
// delivery, in one transaction.
func (s *State) record(g logGroup, k integrationKey, e *logEntry) error {
	s.mu.Lock()
	m := s.log[g]
	if m == nil {
		m = map[integrationKey]*logEntry{}
		s.log[g] = m
	}
	m[k] = e
	var ops []op
	if s.db != nil {
		ops = append(ops, op{bucket: bucketLog, key: logDBKey(g, k), value: encodeLogEntry(e)})
	}
	if rec := s.endPendingLocked(g, k); rec != nil {
		ops = append(ops, s.outboxOp(g, rec)...)
	}
	done := s.queue(true, ops...)
	s.mu.Unlock()
	err := <-done
	s.gossip(g, k, e)
	return err
}

// startFlush marks a delivery pending for each of ins, before any of them
// is called, and returns once that and the group's alerts, queued when
// they arrived, are on disk.
func (s *State) startFlush(g logGroup, ins []integrationKey, budget time.Duration) error {
	s.mu.Lock()
	rec := s.groupLocked(g)
	for _, k := range ins {
		p := rec.Pending[k.String()]
		p.Budget = budget
		rec.Pending[k.String()] = p
	}
	done := s.queue(true, s.outboxOp(g, rec)...)
	s.mu.Unlock()
	return <-done
}

// attempted counts one more attempt of k's pending delivery and the budget
// left after it.
func (s *State) attempted(g logGroup, k integrationKey, budget time.Duration) error {
	s.mu.Lock()
	rec := s.groups[g]
	p, ok := rec.pendingOf(k)
	if !ok {
		s.mu.Unlock()
		return nil
	}
	p.Attempts++
	p.Budget = max(budget, 0)
	rec.Pending[k.String()] = p
	done := s.queue(true, s.outboxOp(g, rec)...)
	s.mu.Unlock()
	return <-done
}

func (r *groupRecord) pendingOf(k integrationKey) (pendingDelivery, bool) {
	if r == nil {
		return pendingDelivery{}, false
	}
	p, ok := r.Pending[k.String()]
	return p, ok
}

// endPending ends k's pending delivery without a log entry (the vendor
// refused it for good).
func (s *State) endPending(g logGroup, k integrationKey) error {
	s.mu.Lock()
	rec := s.endPendingLocked(g, k)
	if rec == nil {
		s.mu.Unlock()
		return nil
	}
	done := s.queue(true, s.outboxOp(g, rec)...)
	s.mu.Unlock()
	return <-done
}

func (s *State) endPendingLocked(g logGroup, k integrationKey) *groupRecord {
	rec := s.groups[g]
	if _, ok := rec.pendingOf(k); !ok {
		return nil
	}
	delete(rec.Pending, k.String())
	return rec
}

// pending returns k's pending delivery of g, if any.
func (s *State) pending(g logGroup, k integrationKey) (pendingDelivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[g].pendingOf(k)
}

// forget drops a group that has resolved completely and left the
// dispatcher, with its log entries. It does not wait for the disk: a
// restart before the write finds the group as it was just before.
func (s *State) forget(g logGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.groupOpsLocked(g)
	for k := range s.log[g] {
		ops = append(ops, op{bucket: bucketLog, key: logDBKey(g, k)})
	}
	delete(s.log, g)
	delete(s.groups, g)
	s.queue(false, ops...)
}

// dropAlerts forgets a group's alerts, as a reload moves them into other
// groups, without waiting for the disk.
func (s *State) dropAlerts(g logGroup) {
	if s.db == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue(false, s.forgetAlertsLocked(g, nil, true)...)
}

// groupOpsLocked deletes a group's alerts and pending deliveries.
func (s *State) groupOpsLocked(g logGroup) []op {
	return append(s.forgetAlertsLocked(g, nil, true), op{bucket: bucketOutbox, key: groupDBKey(g)})
}

// setRetryAfter records until when the vendor asked not to be called.
func (s *State) setRetryAfter(k healthKey, until time.Time) error {
	data, _ := until.MarshalText()
	s.mu.Lock()
	s.retryAfter[k] = until
	done := s.queue(true, op{bucket: bucketRetryAfter, key: retryAfterDBKey(k), value: data})
	s.mu.Unlock()
	return <-done
}

// retryAfterOf returns the integration's Retry-After window, forgetting it
// once it has passed.
func (s *State) retryAfterOf(k healthKey, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	until, ok := s.retryAfter[k]
	if !ok || until.After(now) {
		s.mu.Unlock()
		return until, ok
	}
	delete(s.retryAfter, k)
	done := s.queue(true, op{bucket: bucketRetryAfter, key: retryAfterDBKey(k)})
	s.mu.Unlock()
	<-done
	return time.Time{}, false
}

// restored is one group as the state file kept it.
type restored struct {
	group   logGroup
	alerts  []*model.Alert
	pending map[integrationKey]pendingDelivery
}

// restore lists the groups kept from before the restart.
func (s *State) restore() []restored {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]restored, 0, len(s.groups))
	for g, rec := range s.groups {
		r := restored{group: g, alerts: rec.Alerts, pending: map[integrationKey]pendingDelivery{}}
		for ks, p := range rec.Pending {
			if k, ok := parseIntegrationKey(ks); ok {
				r.pending[k] = p
			}
		}
		out = append(out, r)
	}
	return out
}

// GC drops what has not changed for the retention: log entries of groups
// the dispatcher no longer holds, and the alerts and records of such
// groups. live reports whether the dispatcher still holds a group.
func (s *State) GC(now time.Time, live func(logGroup) bool) (int, error) {
	s.mu.Lock()
	cutoff := now.Add(-s.retention)
	var ops []op
	dropped := 0
	for g, m := range s.log {
		if live(g) {
			continue
		}
		for k, e := range m {
			if e.At.Before(cutoff) {
				ops = append(ops, op{bucket: bucketLog, key: logDBKey(g, k)})
				delete(m, k)
				dropped++
			}
		}
		if len(m) == 0 {
			delete(s.log, g)
		}
	}
	for g, rec := range s.groups {
		if !live(g) && rec.At.Before(cutoff) {
			ops = append(ops, s.groupOpsLocked(g)...)
			delete(s.groups, g)
			dropped++
		}
	}
	done := s.queue(true, ops...)
	s.mu.Unlock()
	return dropped, <-done
}
