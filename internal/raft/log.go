package raft

import "fmt"

// raftLog is the core's whole view of the log: the snapshot point it starts
// after, the entries since, and how far they are persisted, committed and
// applied. The core keeps every entry since the last snapshot in memory;
// the layer above bounds that by calling Compact.
type raftLog struct {
	// snapIndex and snapTerm locate the last entry covered by the snapshot
	// the log starts after (0, 0 for a log that was never compacted).
	snapIndex uint64
	snapTerm  uint64
	// entries holds indexes snapIndex+1 .. lastIndex().
	// Invariant: entries[i].Index == snapIndex+1+i; terms never decrease.
	entries []Entry

	// Invariant: snapIndex <= applied <= applying <= committed <= lastIndex().
	committed uint64
	// applying is the highest index handed out for applying in a Ready.
	applying uint64
	// applied is the highest index whose Ready was acknowledged by Advance.
	applied uint64
	// stable is the highest index known to be on stable storage.
	// Invariant: stable <= lastIndex().
	stable uint64

	// snapshot is the latest snapshot, kept to send to lagging followers.
	snapshot *Snapshot
	// pendingSnapshot is a snapshot received from the leader that the
	// caller must persist and restore before applying anything else.
	pendingSnapshot *Snapshot
}

func (l *raftLog) lastIndex() uint64 { return l.snapIndex + uint64(len(l.entries)) }

func (l *raftLog) lastTerm() uint64 {
	if len(l.entries) == 0 {
		return l.snapTerm
	}
	return l.entries[len(l.entries)-1].Term
}

// firstIndex is the first index still held as an entry.
func (l *raftLog) firstIndex() uint64 { return l.snapIndex + 1 }

// term returns the term of the entry at i; the snapshot point has a term too.
func (l *raftLog) term(i uint64) (uint64, error) {
	switch {
	case i == l.snapIndex:
		return l.snapTerm, nil
	case i < l.snapIndex:
		return 0, ErrCompacted
	case i > l.lastIndex():
		return 0, ErrUnavailable
	}
	return l.entries[i-l.snapIndex-1].Term, nil
}

// termOrZero is term for callers that treat a missing entry as "no match".
func (l *raftLog) termOrZero(i uint64) uint64 {
	t, err := l.term(i)
	if err != nil {
		return 0
	}
	return t
}

func (l *raftLog) matchTerm(i, t uint64) bool {
	lt, err := l.term(i)
	return err == nil && lt == t
}

// isUpToDate is the election restriction (paper §5.4.1): a candidate's log
// ending at (index, term) is at least as up to date as ours.
func (l *raftLog) isUpToDate(index, term uint64) bool {
	lt := l.lastTerm()
	return term > lt || (term == lt && index >= l.lastIndex())
}

// entryAt returns the entry at i, which must be held.
func (l *raftLog) entryAt(i uint64) *Entry { return &l.entries[i-l.snapIndex-1] }

// slice returns entries [lo, hi), at most maxCount of them and, beyond the
// first, at most maxBytes. The result aliases the log: callers must not
// modify it. Truncation never reuses the backing array (see truncateAppend),
// so a slice handed out stays valid.
func (l *raftLog) slice(lo, hi uint64, maxCount int, maxBytes uint64) []Entry {
	if lo < l.firstIndex() || hi > l.lastIndex()+1 || lo > hi {
		panic(fmt.Sprintf("raft: slice [%d,%d) outside log [%d,%d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	if lo == hi {
		return nil
	}
	ents := l.entries[lo-l.snapIndex-1 : hi-l.snapIndex-1]
	if maxCount > 0 && len(ents) > maxCount {
		ents = ents[:maxCount]
	}
	if maxBytes > 0 {
		var size uint64
		for i := range ents {
			size += ents[i].Size()
			if i > 0 && size > maxBytes {
				ents = ents[:i]
				break
			}
		}
	}
	return ents[:len(ents):len(ents)]
}

// findConflict returns the index of the first entry of ents that is not in
// the log with the same term, or 0 if all of them are.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, with that term. Both sides of a rejected MsgApp use it to skip a
// whole term per round trip (etcd's refinement of paper §5.3's optimisation).
// At the snapshot point it stops: nothing earlier can conflict.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	index = min(index, l.lastIndex())
	for index > l.snapIndex {
		t := l.entryAt(index).Term
		if t <= term {
			return index, t
		}
		index--
	}
	return l.snapIndex, l.snapTerm
}

// maybeAppend handles the entries of an accepted MsgApp whose previous entry
// (prevIndex, prevTerm) matches. It returns the last index the message
// covers, or ok=false when the previous entry does not match.
func (l *raftLog) maybeAppend(prevIndex, prevTerm, commit uint64, ents []Entry) (last uint64, ok bool) {
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, false
	}
	last = prevIndex + uint64(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			panic(fmt.Sprintf("raft: entry %d conflicts with committed entry (committed=%d)", ci, l.committed))
		}
		l.truncateAppend(ents[ci-prevIndex-1:])
	}
	l.commitTo(min(commit, last))
	return last, true
}

// append adds entries at the end of the log (the leader's own proposals).
func (l *raftLog) append(ents ...Entry) {
	if len(ents) == 0 {
		return
	}
	if ents[0].Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d, last index %d", ents[0].Index, l.lastIndex()))
	}
	l.entries = append(l.entries, ents...)
}

// truncateAppend replaces the log from ents[0].Index on with ents. It never
// writes into the old backing array, so slices already handed out in
// messages or Readies keep their contents.
func (l *raftLog) truncateAppend(ents []Entry) {
	after := ents[0].Index - 1
	switch {
	case after == l.lastIndex():
		l.entries = append(l.entries, ents...)
	case after < l.snapIndex:
		panic(fmt.Sprintf("raft: truncate to %d before snapshot %d", after, l.snapIndex))
	default:
		keep := after - l.snapIndex
		fresh := make([]Entry, 0, int(keep)+len(ents))
		fresh = append(fresh, l.entries[:keep]...)
		l.entries = append(fresh, ents...)
		l.stable = min(l.stable, after)
	}
}

func (l *raftLog) commitTo(c uint64) {
	if c <= l.committed {
		return
	}
	if c > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d beyond last index %d", c, l.lastIndex()))
	}
	l.committed = c
}

// hasNextCommitted reports whether committed entries wait to be applied.
func (l *raftLog) hasNextCommitted() bool {
	return l.pendingSnapshot == nil && l.committed > l.applying
}

// nextCommitted returns the committed entries not yet handed out, bounded
// by maxBytes (at least one entry).
func (l *raftLog) nextCommitted(maxBytes uint64) []Entry {
	if !l.hasNextCommitted() {
		return nil
	}
	return l.slice(l.applying+1, l.committed+1, 0, maxBytes)
}

// unstableEntries returns the entries not yet persisted.
func (l *raftLog) unstableEntries() []Entry {
	if l.stable >= l.lastIndex() {
		return nil
	}
	return l.slice(max(l.stable, l.snapIndex)+1, l.lastIndex()+1, 0, 0)
}

// restore replaces the whole log with a snapshot received from the leader.
func (l *raftLog) restore(s *Snapshot) {
	l.snapIndex, l.snapTerm = s.Meta.Index, s.Meta.Term
	l.entries = nil
	l.committed = s.Meta.Index
	l.applying = s.Meta.Index
	l.applied = s.Meta.Index
	l.stable = s.Meta.Index
	l.snapshot = s
	l.pendingSnapshot = s
}

// compact drops the entries covered by s, which the caller has persisted.
func (l *raftLog) compact(s *Snapshot) error {
	i := s.Meta.Index
	switch {
	case i <= l.snapIndex:
		return fmt.Errorf("compact to %d (log starts after %d): %w", i, l.snapIndex, ErrSnapshotTooOld)
	case i > l.applied:
		return fmt.Errorf("compact to %d beyond applied index %d: %w", i, l.applied, ErrUnavailable)
	}
	t, err := l.term(i)
	if err != nil {
		return fmt.Errorf("compact to %d: %w", i, err)
	}
	if t != s.Meta.Term {
		return fmt.Errorf("compact to %d: snapshot term %d, log term %d", i, s.Meta.Term, t)
	}
	rest := make([]Entry, len(l.entries)-int(i-l.snapIndex))
	copy(rest, l.entries[i-l.snapIndex:])
	l.entries = rest
	l.snapIndex, l.snapTerm = i, t
	l.snapshot = s
	return nil
}

// check panics if an invariant of the log does not hold.
func (l *raftLog) check() {
	last := l.lastIndex()
	if !(l.snapIndex <= l.applied && l.applied <= l.applying && l.applying <= l.committed && l.committed <= last) {
		panic(fmt.Sprintf("raft: log invariant snap=%d <= applied=%d <= applying=%d <= committed=%d <= last=%d broken",
			l.snapIndex, l.applied, l.applying, l.committed, last))
	}
	if l.stable > last {
		panic(fmt.Sprintf("raft: stable %d beyond last index %d", l.stable, last))
	}
	if n := len(l.entries); n > 0 {
		first, lastE := &l.entries[0], &l.entries[n-1]
		if first.Index != l.snapIndex+1 || lastE.Index != last {
			panic(fmt.Sprintf("raft: entries [%d..%d] do not follow snapshot %d", first.Index, lastE.Index, l.snapIndex))
		}
		if first.Term < l.snapTerm || lastE.Term < first.Term {
			panic(fmt.Sprintf("raft: terms go back in the log (snap %d, first %d, last %d)", l.snapTerm, first.Term, lastE.Term))
		}
	}
}
