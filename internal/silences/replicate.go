package silences

import (
	amcluster "github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/silence"
)

// GossipKey is the name the silences go by in the cluster, Alertmanager's.
const GossipKey = "sil"

// Replicate joins the silences to a cluster: join registers the store as
// the state of GossipKey (MarshalBinary and Merge) and returns the
// function that gossips a change to every peer, which the silence package
// calls on each Set and Expire. Call it once, after Open.
func (s *Store) Replicate(join func(key string, st amcluster.State) func([]byte)) {
	s.silences.SetBroadcast(join(GossipKey, s))
}

// MarshalBinary encodes every silence, for a peer's full sync.
func (s *Store) MarshalBinary() ([]byte, error) {
	if s.silences == nil {
		return nil, errNotOpen
	}
	return s.silences.MarshalBinary()
}

// Merge takes silences from a peer, as the silence package merges them
// (the latest change of each silence wins), and writes the snapshot so
// that what the cluster agreed survives a crash of this replica too.
func (s *Store) Merge(b []byte) error {
	return s.change(func(sils *silence.Silences) error { return sils.Merge(b) })
}
