package notifiers

import (
	"bytes"
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// op is one change to the state file: a put, or a delete when value is nil.
type op struct {
	bucket, key, value []byte
}

// writeQueue commits the state's changes in the order they were queued,
// as many as have gathered in one synced transaction (group commit): the
// changes a storm makes at once share a sync, and a change that must be on
// disk before a vendor call (a pending delivery) is committed with or
// after every change queued before it (the group's alerts). Changes that
// nothing waits for (an alert that arrived) do not hold up their caller.
type writeQueue struct {
	db *bolt.DB

	mu      sync.Mutex
	units   []writeUnit
	running bool
	closed  bool
	// lost holds the failure of changes nobody waited for, which the next
	// change that is waited for reports.
	lost error
	wg   sync.WaitGroup
}

// writeUnit is the changes of one call, committed together or not at all.
type writeUnit struct {
	ops  []op
	done chan error // nil when nobody waits
}

var errStateClosed = errors.New("the notification state is closed")

// enqueue queues ops; the returned channel, when wait is set, receives the
// outcome once they are on disk. It never blocks on the disk, so it may be
// called under the locks that order the changes.
func (q *writeQueue) enqueue(wait bool, ops ...op) <-chan error {
	var done chan error
	if wait {
		done = make(chan error, 1)
	}
	if q == nil || len(ops) == 0 {
		if done != nil {
			done <- nil
		}
		return done
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		if done != nil {
			done <- errStateClosed
		}
		return done
	}
	q.units = append(q.units, writeUnit{ops: ops, done: done})
	if !q.running {
		q.running = true
		q.wg.Add(1)
		go q.drain()
	}
	return done
}

// drain commits what has been queued until the queue is empty.
func (q *writeQueue) drain() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		units := q.units
		q.units = nil
		if len(units) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		errs := q.commit(units)
		q.mu.Lock()
		for i, u := range units {
			if u.done == nil {
				q.lost = errors.Join(q.lost, errs[i])
				continue
			}
			err := errors.Join(errs[i], q.lost)
			q.lost = nil
			u.done <- err
		}
		q.mu.Unlock()
	}
}

// commit writes units in one transaction; when that fails, each unit alone,
// so that one bad change does not sink the others.
func (q *writeQueue) commit(units []writeUnit) []error {
	errs := make([]error, len(units))
	err := q.db.Update(func(tx *bolt.Tx) error {
		for _, u := range units {
			if err := applyOps(tx, u.ops); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(units) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, u := range units {
		errs[i] = q.db.Update(func(tx *bolt.Tx) error { return applyOps(tx, u.ops) })
	}
	return errs
}

func applyOps(tx *bolt.Tx, ops []op) error {
	for _, o := range ops {
		b := tx.Bucket(o.bucket)
		if bytes.Equal(o.bucket, bucketAlerts) {
			// New alerts are appended in key order: full pages, as
			// bbolt advises for sequential writes, rather than halves.
			b.FillPercent = 1
		}
		var err error
		if o.value != nil {
			err = b.Put(o.key, o.value)
		} else {
			err = b.Delete(o.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// close commits what is queued and refuses what comes after.
func (q *writeQueue) close() error {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lost
}
