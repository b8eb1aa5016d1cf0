package wal

import (
	"fmt"
	"slices"

	"github.com/raftkv/raftkv/internal/raft"
)

// termRun says entries from first on (up to the next run) have term.
// Terms never decrease along a Raft log, so a log of millions of entries
// needs only one run per term it spans.
type termRun struct{ first, term uint64 }

// logState is the log as the WAL understands it, without the entries'
// payloads: replay builds it from disk, and the writer keeps it current to
// validate every request before anything is written. The same checks run
// on both paths, so whatever Save accepts, recovery accepts, and a record
// recovery rejects can only come from damage or a bug.
type logState struct {
	hs   raft.HardState
	snap raft.SnapshotMeta
	// Invariant: snap.Index <= last.
	last     uint64
	lastTerm uint64
	// known is the first index whose term (and, in replay, entry) is known.
	// Entries in (snap.Index, known) are unknown: that only happens during
	// replay that starts at a segment whose predecessors were compacted
	// away, and must be resolved (covered by a snapshot) by the end.
	// Invariant: snap.Index < known <= last+1.
	known uint64
	// runs covers [known, last].
	runs []termRun
	// ents holds entries [known, last] during replay (keepEntries); nil in
	// the writer.
	ents        []raft.Entry
	keepEntries bool
}

// summary is the part of logState a segment header records.
type summary struct {
	hs       raft.HardState
	snap     raft.SnapshotMeta
	last     uint64
	lastTerm uint64
}

func (s *logState) summary() summary {
	return summary{hs: s.hs, snap: s.snap, last: s.last, lastTerm: s.lastTerm}
}

// resetTo makes s the log a segment header describes, with nothing known
// about the entries in (h.snap.Index, h.lastIndex].
func (s *logState) resetTo(h *segHeader) {
	s.hs, s.snap = h.hs, h.snap
	s.last, s.lastTerm = h.lastIndex, h.lastTerm
	s.known = h.lastIndex + 1
	s.runs, s.ents = nil, nil
}

// termAt returns the term of entry i if the WAL knows it.
func (s *logState) termAt(i uint64) (uint64, bool) {
	switch {
	case i == s.snap.Index:
		return s.snap.Term, true
	case i == s.last:
		return s.lastTerm, true
	case i < s.known || i > s.last:
		return 0, false
	}
	k, found := slices.BinarySearchFunc(s.runs, i, func(r termRun, i uint64) int {
		switch {
		case r.first < i:
			return -1
		case r.first > i:
			return 1
		}
		return 0
	})
	if !found {
		k--
	}
	if k < 0 {
		return 0, false
	}
	return s.runs[k].term, true
}

// checkEntries reports why appending ents would break the log's invariants.
func (s *logState) checkEntries(ents []raft.Entry) error {
	first := ents[0].Index
	for i := range ents {
		e := &ents[i]
		switch {
		case e.Index != first+uint64(i):
			return fmt.Errorf("entries not consecutive: index %d at position %d after index %d", e.Index, i, first)
		case e.Term == 0:
			return fmt.Errorf("entry %d has term 0", e.Index)
		case i > 0 && e.Term < ents[i-1].Term:
			return fmt.Errorf("term goes backwards from %d to %d at entry %d", ents[i-1].Term, e.Term, e.Index)
		case e.Type > raft.EntryNoop:
			return fmt.Errorf("entry %d has unknown type %d", e.Index, e.Type)
		}
	}
	switch {
	case first == 0:
		return fmt.Errorf("entry index 0 is invalid: the log starts at 1")
	case first <= s.snap.Index:
		return fmt.Errorf("entry %d is already covered by the snapshot at index %d", first, s.snap.Index)
	case first > s.last+1:
		return fmt.Errorf("entry %d leaves a gap after the last index %d", first, s.last)
	case first <= s.hs.Commit:
		return fmt.Errorf("entry %d would overwrite a committed entry (commit index %d)", first, s.hs.Commit)
	}
	if t, ok := s.termAt(first - 1); ok && ents[0].Term < t {
		return fmt.Errorf("entry %d has term %d, below term %d of entry %d", first, ents[0].Term, t, first-1)
	}
	return nil
}

// applyEntries overwrites the log from ents[0].Index on. ents must have
// passed checkEntries.
func (s *logState) applyEntries(ents []raft.Entry) {
	first := ents[0].Index
	if first < s.known {
		s.runs, s.ents, s.known = s.runs[:0], s.ents[:0], first
	} else {
		for len(s.runs) > 0 && s.runs[len(s.runs)-1].first >= first {
			s.runs = s.runs[:len(s.runs)-1]
		}
		if s.keepEntries {
			s.ents = s.ents[:first-s.known]
		}
	}
	for i := range ents {
		if n := len(s.runs); n == 0 || s.runs[n-1].term != ents[i].Term {
			s.runs = append(s.runs, termRun{first: ents[i].Index, term: ents[i].Term})
		}
	}
	if s.keepEntries {
		s.ents = append(s.ents, ents...)
	}
	last := &ents[len(ents)-1]
	s.last, s.lastTerm = last.Index, last.Term
}

// checkHardState reports why persisting hs would break Raft's rules: terms
// never go back, a node votes at most once per term (paper §5.2), the commit
// index never goes back and never passes the end of the log.
func (s *logState) checkHardState(hs raft.HardState) error {
	cur := s.hs
	switch {
	case hs.Term < cur.Term:
		return fmt.Errorf("term goes backwards from %d to %d", cur.Term, hs.Term)
	case hs.Term == cur.Term && cur.Vote != raft.None && hs.Vote != cur.Vote:
		return fmt.Errorf("vote changes within term %d from %d to %d", hs.Term, cur.Vote, hs.Vote)
	case hs.Commit < cur.Commit:
		return fmt.Errorf("commit index goes backwards from %d to %d", cur.Commit, hs.Commit)
	case hs.Commit > s.last:
		return fmt.Errorf("commit index %d is past the last index %d", hs.Commit, s.last)
	}
	return nil
}

// retains reports whether installing a snapshot at m keeps the entries after
// m.Index: Raft keeps them only if the log holds m.Index at m.Term (paper
// Figure 13). known is false when the answer depends on compacted entries.
func (s *logState) retains(m *raft.SnapshotMeta) (retain, known bool) {
	if m.Index > s.last {
		return false, true
	}
	t, ok := s.termAt(m.Index)
	return ok && t == m.Term, ok
}

// checkSnapshot reports why recording a snapshot at m would be wrong, given
// whether the entries after it are retained.
func (s *logState) checkSnapshot(m *raft.SnapshotMeta, retain bool) error {
	switch {
	case m.Index == 0 || m.Term == 0:
		return fmt.Errorf("snapshot at index %d term %d: index and term must be positive", m.Index, m.Term)
	case m.Index <= s.snap.Index:
		return fmt.Errorf("snapshot at index %d is not newer than the current one at %d", m.Index, s.snap.Index)
	case m.Term < s.snap.Term:
		return fmt.Errorf("snapshot term %d is below the current snapshot's term %d", m.Term, s.snap.Term)
	case !retain && m.Index <= s.hs.Commit:
		return fmt.Errorf("snapshot %d/%d conflicts with the committed log (commit index %d)", m.Index, m.Term, s.hs.Commit)
	}
	return nil
}

// applySnapshot makes the log start after m. m must have passed checkSnapshot.
func (s *logState) applySnapshot(m *raft.SnapshotMeta, retain bool) {
	s.snap = raft.SnapshotMeta{Index: m.Index, Term: m.Term, Members: slices.Clone(m.Members)}
	if !retain {
		s.last, s.lastTerm, s.known = m.Index, m.Term, m.Index+1
		s.runs, s.ents = nil, nil
		return
	}
	if s.known > m.Index {
		return // everything known is already after the snapshot
	}
	drop := m.Index + 1 - s.known
	// Keep the run that covers m.Index+1 (if any), starting it there.
	k := 0
	for k+1 < len(s.runs) && s.runs[k+1].first <= m.Index+1 {
		k++
	}
	runs := slices.Clone(s.runs[k:])
	if len(runs) > 0 && runs[0].first < m.Index+1 {
		runs[0].first = m.Index + 1
	}
	if m.Index == s.last {
		runs = nil
	}
	s.runs = runs
	if s.keepEntries {
		s.ents = slices.Clone(s.ents[drop:])
	}
	s.known = m.Index + 1
}

// sameMeta reports whether two snapshot descriptions are equal.
func sameMeta(a, b *raft.SnapshotMeta) bool {
	return a.Index == b.Index && a.Term == b.Term && slices.Equal(a.Members, b.Members)
}
