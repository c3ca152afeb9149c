package cluster

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Assignment decides which members run each probe, by rendezvous (highest
// random weight) hashing: every member scores a probe's name and the n
// highest scores own it. Every replica that sees the same members computes
// the same owners without talking to the others, and when a member joins or
// leaves, only the probes it wins or held move, each by one owner.
//
// grafana/dskit's ring does the same with tokens in a replicated KV store,
// zones and a lifecycle of its own; over memberlist's member list, which
// every replica already has, one score per member is all tocsin needs.
type Assignment struct {
	members []string
	hashes  []uint64
	n       int
}

// NewAssignment assigns each probe to n of members (their names, each
// once). With n ≤ 0 or n ≥ len(members) every member runs every probe.
func NewAssignment(members []string, n int) *Assignment {
	a := &Assignment{members: slices.Clone(members), n: n}
	slices.Sort(a.members)
	a.members = slices.Compact(a.members)
	if n <= 0 || n > len(a.members) {
		a.n = len(a.members)
	}
	a.hashes = make([]uint64, len(a.members))
	for i, m := range a.members {
		a.hashes[i] = xxhash.Sum64String(m)
	}
	return a
}

// Members are the members assigned over, sorted.
func (a *Assignment) Members() []string { return slices.Clone(a.members) }

// Owners returns the members that run probe, highest score first.
func (a *Assignment) Owners(probe string) []string {
	kh := xxhash.Sum64String(probe)
	idx := make([]int, len(a.members))
	scores := make([]uint64, len(a.members))
	for i, h := range a.hashes {
		idx[i], scores[i] = i, score(kh, h)
	}
	slices.SortFunc(idx, func(x, y int) int {
		if c := cmp.Compare(scores[y], scores[x]); c != 0 {
			return c
		}
		return strings.Compare(a.members[x], a.members[y])
	})
	out := make([]string, a.n)
	for i := range out {
		out[i] = a.members[idx[i]]
	}
	return out
}

// Owns reports whether member is one of probe's owners, without allocating:
// it is when fewer than n members outscore it.
func (a *Assignment) Owns(probe, member string) bool {
	i, found := slices.BinarySearch(a.members, member)
	if !found {
		return false
	}
	if a.n == len(a.members) {
		return true
	}
	kh := xxhash.Sum64String(probe)
	mine := score(kh, a.hashes[i])
	above := 0
	for j, h := range a.hashes {
		s := score(kh, h)
		if s > mine || (s == mine && j < i) {
			if above++; above >= a.n {
				return false
			}
		}
	}
	return true
}

// score mixes the hashes of a probe and a member into the member's weight
// for the probe (splitmix64's finaliser), so that every bit of both counts.
func score(probe, member uint64) uint64 {
	z := probe ^ (member * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
