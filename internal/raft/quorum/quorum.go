// Package quorum holds the majority arithmetic of Raft, kept apart so it can
// be tested exhaustively against a naive twin (see quick_test.go).
package quorum

import "slices"

// Majority returns how many of n voters make a majority.
func Majority(n int) int { return n/2 + 1 }

// CommittedIndex returns the largest index that at least a majority of the
// given match indexes have reached: the commit candidate of paper §5.3/5.4.
// The caller still checks the current-term rule (§5.4.2). It returns 0 for
// an empty slice.
func CommittedIndex(matches []uint64) uint64 {
	n := len(matches)
	if n == 0 {
		return 0
	}
	var stack [16]uint64
	srt := stack[:0]
	if n > len(stack) {
		srt = make([]uint64, 0, n)
	}
	srt = append(srt, matches...)
	slices.Sort(srt)
	// Ascending: the element at n-Majority(n) is reached by Majority(n) voters.
	return srt[n-Majority(n)]
}

// Result is the outcome of an election or a pre-election.
type Result uint8

const (
	// Pending: neither side has a majority yet.
	Pending Result = iota
	// Won: a majority granted.
	Won
	// Lost: a majority refused, so winning is impossible.
	Lost
)

func (r Result) String() string {
	switch r {
	case Won:
		return "Won"
	case Lost:
		return "Lost"
	}
	return "Pending"
}

// Tally decides an election among n voters from the grants and refusals seen.
func Tally(n, granted, rejected int) Result {
	q := Majority(n)
	switch {
	case granted >= q:
		return Won
	case rejected > n-q:
		return Lost
	}
	return Pending
}
