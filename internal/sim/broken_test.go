package sim

import (
	"bytes"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// Each checker must be able to fail: with a rule of the core broken on
// purpose, the simulator must report a violation within a stated number of
// seeds of the stress profile (which strips pre-vote, CheckQuorum and
// multi-entry appends, the defences that otherwise hide a broken rule).
func TestCheckersCatchBrokenRules(t *testing.T) {
	cases := []struct {
		name  string
		knobs raft.TestingKnobs
		// within is the stated bound: the first violation must come at or
		// before this many seeds.
		within int64
	}{
		{"election restriction (§5.4.1)", raft.TestingKnobs{SkipElectionRestriction: true}, 5},
		{"current-term commit rule (§5.4.2, Figure 8)", raft.TestingKnobs{CommitOldTermEntries: true}, 100},
		{"vote persisted before answering", raft.TestingKnobs{ForgetVote: true}, 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := int64(1); seed <= tc.within; seed++ {
				rep := RunSeed(seed, Profile{Knobs: tc.knobs, Stress: true})
				if rep.Err != nil {
					t.Logf("caught at seed %d of at most %d: %v", seed, tc.within, rep.Err)
					return
				}
			}
			t.Fatalf("no violation within %d seeds: the checkers cannot see this broken rule", tc.within)
		})
	}
}

// A run is a pure function of its seed: the same seed gives the same trace,
// byte for byte, which is what makes a failing seed replayable.
func TestReplayIsByteForByte(t *testing.T) {
	for _, seed := range []int64{7, 21, 1234} {
		a := RunSeed(seed, Profile{Trace: true})
		b := RunSeed(seed, Profile{Trace: true})
		if len(a.Trace) == 0 {
			t.Fatalf("seed %d: empty trace", seed)
		}
		if !bytes.Equal(a.Trace, b.Trace) {
			t.Fatalf("seed %d: two runs produced different traces (%d and %d bytes)", seed, len(a.Trace), len(b.Trace))
		}
		if (a.Err == nil) != (b.Err == nil) {
			t.Fatalf("seed %d: outcomes differ: %v vs %v", seed, a.Err, b.Err)
		}
	}
	if c := RunSeed(8, Profile{Trace: true}); bytes.Equal(c.Trace, RunSeed(7, Profile{Trace: true}).Trace) {
		t.Fatal("different seeds gave the same trace")
	}
}
