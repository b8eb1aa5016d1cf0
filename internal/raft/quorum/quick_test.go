package quorum

import (
	"math/rand/v2"
	"testing"
)

// naiveCommitted is the definition itself: the largest value v such that at
// least a majority of matches are >= v.
func naiveCommitted(matches []uint64) uint64 {
	var best uint64
	for _, v := range matches {
		n := 0
		for _, w := range matches {
			if w >= v {
				n++
			}
		}
		if n >= Majority(len(matches)) && v > best {
			best = v
		}
	}
	return best
}

func TestCommittedIndexMatchesNaiveTwin(t *testing.T) {
	const seed = 20261130
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := 0; i < 20000; i++ {
		n := 1 + rng.IntN(20)
		m := make([]uint64, n)
		for j := range m {
			m[j] = uint64(rng.IntN(8))
		}
		orig := append([]uint64(nil), m...)
		if got, want := CommittedIndex(m), naiveCommitted(m); got != want {
			t.Fatalf("seed %d case %d: CommittedIndex(%v)=%d, want %d", seed, i, m, got, want)
		}
		for j := range m {
			if m[j] != orig[j] {
				t.Fatalf("CommittedIndex modified its input")
			}
		}
	}
}

func TestTallyMatchesNaiveTwin(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for g := 0; g <= n; g++ {
			for r := 0; g+r <= n; r++ {
				want := Pending
				if 2*g > n {
					want = Won
				} else if 2*(n-r) <= n { // even all the rest granting cannot win
					want = Lost
				}
				if got := Tally(n, g, r); got != want {
					t.Fatalf("Tally(%d,%d,%d)=%v want %v", n, g, r, got, want)
				}
			}
		}
	}
}
