package notifiers

import (
	"encoding/json"
	"fmt"
)

// The notification log is replicated between tocsin replicas through the
// cluster's gossip: each entry a replica records is broadcast, and a full
// copy is exchanged when replicas sync. State implements Alertmanager's
// cluster.State for that. Entries merge last-writer-wins by their time,
// as Alertmanager's nflog does, and merged entries are written to the
// state file like local ones, so a restarted replica keeps what its peers
// told it.

// gossipEntry is one log entry as replicas exchange it.
type gossipEntry struct {
	Group       string    `json:"g"`
	Receiver    string    `json:"r"`
	Integration string    `json:"i"`
	Entry       *logEntry `json:"e"`
}

// SetBroadcast sets the function that sends an encoded entry to the
// other replicas; nil sends nothing.
func (s *State) SetBroadcast(f func([]byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcast = f
}

// MarshalBinary encodes the whole notification log for a full sync.
func (s *State) MarshalBinary() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []gossipEntry
	for g, m := range s.log {
		for k, e := range m {
			all = append(all, gossipEntry{Group: g.groupKey, Receiver: g.receiver, Integration: k.String(), Entry: e})
		}
	}
	return json.Marshal(all)
}

// Merge takes entries from another replica; an entry newer than the one
// this replica has replaces it.
func (s *State) Merge(b []byte) error {
	var in []gossipEntry
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("notification log from a peer: %w", err)
	}
	s.mu.Lock()
	var ops []op
	for _, ge := range in {
		k, ok := parseIntegrationKey(ge.Integration)
		if !ok || ge.Entry == nil {
			continue
		}
		g := logGroup{groupKey: ge.Group, receiver: ge.Receiver}
		m := s.log[g]
		if m == nil {
			m = map[integrationKey]*logEntry{}
			s.log[g] = m
		}
		if old := m[k]; old != nil && !ge.Entry.At.After(old.At) {
			continue
		}
		m[k] = ge.Entry
		ops = append(ops, op{bucket: bucketLog, key: logDBKey(g, k), value: encodeLogEntry(ge.Entry)})
	}
	done := s.queue(true, ops...)
	s.mu.Unlock()
	return <-done
}

// gossip sends one entry this replica recorded to the others.
func (s *State) gossip(g logGroup, k integrationKey, e *logEntry) {
	s.mu.Lock()
	f := s.broadcast
	s.mu.Unlock()
	if f == nil {
		return
	}
	b, err := json.Marshal([]gossipEntry{{Group: g.groupKey, Receiver: g.receiver, Integration: k.String(), Entry: e}})
	if err == nil {
		f(b)
	}
}
