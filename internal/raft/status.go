package raft

import "github.com/raftkv/raftkv/internal/raft/progress"

// Status is a snapshot of a node's state for operators and tests.
type Status struct {
	ID             uint64
	Term           uint64
	Vote           uint64
	Lead           uint64
	Role           Role
	Commit         uint64
	Applied        uint64
	LastIndex      uint64
	SnapshotIndex  uint64
	LeadTransferee uint64
	LeaseValid     bool
	// Peers is the leader's view of each follower, sorted by ID; empty on
	// followers.
	Peers []PeerStatus
}

// PeerStatus is the leader's view of one follower.
type PeerStatus struct {
	ID           uint64
	Match        uint64
	Next         uint64
	State        string
	RecentActive bool
	Inflight     int
	// Commit is the follower's commit index as it last reported it;
	// meaningful once Heard.
	Commit uint64
	// Heard reports whether the follower answered anything in this term;
	// FirstCommit is the commit index of its first answer, what it knew
	// before this leader told it more than its own commit at election.
	Heard       bool
	FirstCommit uint64
	// TicksSinceHeard counts ticks since the follower's last message.
	TicksSinceHeard uint64
}

// Status returns the node's current state.
func (r *Raft) Status() Status {
	s := Status{
		ID: r.id, Term: r.term, Vote: r.vote, Lead: r.lead, Role: r.role,
		Commit: r.log.committed, Applied: r.log.applied, LastIndex: r.log.lastIndex(),
		SnapshotIndex: r.log.snapIndex, LeadTransferee: r.leadTransferee,
	}
	if r.role != Leader {
		return s
	}
	s.LeaseValid = r.LeaseValid()
	for _, id := range r.members {
		if id == r.id {
			continue
		}
		pr := r.prs[id]
		s.Peers = append(s.Peers, peerStatus(id, pr, r.now))
	}
	return s
}

func peerStatus(id uint64, pr *progress.Progress, now uint64) PeerStatus {
	return PeerStatus{
		ID: id, Match: pr.Match, Next: pr.Next, State: pr.State.String(),
		RecentActive: pr.RecentActive, Inflight: pr.Inflights.Count(),
		Commit: pr.Commit, Heard: pr.Heard, FirstCommit: pr.FirstCommit, TicksSinceHeard: now - pr.LastHeard,
	}
}

// Members returns the current membership, sorted.
func (r *Raft) Members() []uint64 { return append([]uint64(nil), r.members...) }

// Entries returns a copy of the log entries in [lo, hi), for tests and
// tools. It fails with ErrCompacted or ErrUnavailable outside the log.
func (r *Raft) Entries(lo, hi uint64) ([]Entry, error) {
	if lo < r.log.firstIndex() {
		return nil, ErrCompacted
	}
	if hi > r.log.lastIndex()+1 || lo > hi {
		return nil, ErrUnavailable
	}
	return append([]Entry(nil), r.log.slice(lo, hi, 0, 0)...), nil
}

// LogTerm returns the term of the entry at index i.
func (r *Raft) LogTerm(i uint64) (uint64, error) { return r.log.term(i) }
