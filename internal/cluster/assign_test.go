package cluster

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestAssignmentPicksNOwnersAgreeingWithOwns(t *testing.T) {
	probes := names("probe-", 500)
	for _, tc := range []struct {
		members, n, want int
	}{
		{members: 1, n: 1, want: 1},
		{members: 3, n: 1, want: 1},
		{members: 3, n: 2, want: 2},
		{members: 6, n: 2, want: 2},
		{members: 6, n: 3, want: 3},
		{members: 2, n: 3, want: 2}, // fewer members than n: all of them
		{members: 4, n: 0, want: 4}, // 0: every member runs every probe
	} {
		t.Run(fmt.Sprintf("%d members n=%d", tc.members, tc.n), func(t *testing.T) {
			members := names("tocsin-", tc.members)
			a := NewAssignment(members, tc.n)
			for _, p := range probes {
				owners := a.Owners(p)
				require.Len(t, owners, tc.want)
				require.Len(t, slices.Compact(slices.Sorted(slices.Values(owners))), tc.want, "owners of %s repeat", p)
				for _, m := range members {
					require.Equal(t, slices.Contains(owners, m), a.Owns(p, m), "probe %s member %s", p, m)
				}
			}
			require.False(t, a.Owns(probes[0], "stranger"))
		})
	}
}

func TestAssignmentIsTheSameWhateverTheMembersOrder(t *testing.T) {
	members := names("tocsin-", 5)
	reversed := slices.Clone(members)
	slices.Reverse(reversed)
	a, b := NewAssignment(members, 2), NewAssignment(reversed, 2)
	for _, p := range names("probe-", 200) {
		require.Equal(t, a.Owners(p), b.Owners(p), p)
	}
	// Fixed values: every replica, on every version, must agree.
	require.Equal(t, []string{"tocsin-4", "tocsin-1"}, a.Owners("broker-roundtrip"))
}

func TestAssignmentMovesOnlyWhatAJoinOrALeaveMust(t *testing.T) {
	probes := names("probe-", 3000)
	for _, tc := range []struct {
		name           string
		before, after  []string
		n              int
		joined, gone   string
		wantMovedShare float64 // share of probes expected to change an owner
	}{
		{name: "join 3→4 n=2", before: names("r", 3), after: names("r", 4), n: 2, joined: "r3", wantMovedShare: 2.0 / 4},
		{name: "leave 4→3 n=2", before: names("r", 4), after: names("r", 3), n: 2, gone: "r3", wantMovedShare: 2.0 / 4},
		{name: "join 5→6 n=1", before: names("r", 5), after: names("r", 6), n: 1, joined: "r5", wantMovedShare: 1.0 / 6},
		{name: "leave 6→5 n=3", before: names("r", 6), after: names("r", 5), n: 3, gone: "r5", wantMovedShare: 3.0 / 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := NewAssignment(tc.before, tc.n), NewAssignment(tc.after, tc.n)
			moved := 0
			for _, p := range probes {
				was, is := before.Owners(p), after.Owners(p)
				lost := without(was, is)
				gained := without(is, was)
				if len(lost) == 0 && len(gained) == 0 {
					continue
				}
				moved++
				// One owner changes, and only for the member that came or went.
				require.Len(t, lost, 1, "probe %s: %v → %v", p, was, is)
				require.Len(t, gained, 1, "probe %s: %v → %v", p, was, is)
				if tc.joined != "" {
					require.Equal(t, tc.joined, gained[0], "probe %s", p)
				} else {
					require.Equal(t, tc.gone, lost[0], "probe %s", p)
				}
			}
			share := float64(moved) / float64(len(probes))
			require.InDelta(t, tc.wantMovedShare, share, 0.03, "moved %d of %d", moved, len(probes))
		})
	}
}

func TestAssignmentIsBalanced(t *testing.T) {
	probes := names("probe-", 10000)
	for _, tc := range []struct{ members, n int }{{3, 1}, {3, 2}, {6, 2}, {10, 3}} {
		t.Run(fmt.Sprintf("%d members n=%d", tc.members, tc.n), func(t *testing.T) {
			members := names("tocsin-", tc.members)
			a := NewAssignment(members, tc.n)
			count := map[string]int{}
			for _, p := range probes {
				for _, m := range a.Owners(p) {
					count[m]++
				}
			}
			want := float64(len(probes)*tc.n) / float64(tc.members)
			for _, m := range members {
				// A binomial share: 5% is over 4 standard deviations here.
				require.InEpsilon(t, want, float64(count[m]), 0.05, "member %s runs %d probes, want about %.0f", m, count[m], want)
			}
		})
	}
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(x string) bool { return slices.Contains(b, x) })
}

func BenchmarkAssignmentOwns(b *testing.B) {
	a := NewAssignment(names("tocsin-", 6), 2)
	probes := names("probe-", 10000)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range probes {
			a.Owns(p, "tocsin-3")
		}
	}
}
