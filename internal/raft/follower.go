package raft

import "fmt"

// handleAppend is AppendEntries on the receiver (paper Figure 2).
func (r *Raft) handleAppend(m Message) {
	lead := leaderOf(m)
	if m.Index < r.log.committed && len(m.Chain) > 0 {
		// Our log matches any leader's up to our commit index: take what
		// lies beyond it and relay the whole message, which a member
		// further down the chain may need from its start.
		c := r.log.committed
		last := m.Index + uint64(len(m.Entries))
		if last > c {
			if _, ok := r.log.maybeAppend(c, r.log.termOrZero(c), m.Commit, m.Entries[c-m.Index:]); !ok {
				panic(fmt.Sprintf("raft: committed entry %d does not match the leader's", c))
			}
		}
		r.relayChain(m, last)
		return
	}
	if m.Index < r.log.committed {
		// Everything up to our commit index matches any leader's log:
		// say where we are so the leader can skip ahead.
		r.send(Message{To: lead, Type: MsgAppResp, Index: r.log.committed, Seq: m.Seq, Commit: r.log.committed})
		return
	}
	last, ok := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries)
	if !ok {
		// Give the leader the largest index whose term is <= the term it
		// asked about, and that term: it can skip the rest of the term.
		hint, hintTerm := r.log.findConflictByTerm(min(m.Index, r.log.lastIndex()), m.LogTerm)
		// A chain member says so (Chain), so the leader resends along the
		// chain at once rather than to this member alone.
		r.send(Message{To: lead, Type: MsgAppResp, Index: m.Index, Reject: true,
			RejectHint: hint, LogTerm: hintTerm, Seq: m.Seq, Commit: r.log.committed, Chain: m.Chain})
		return
	}
	if len(m.Chain) > 0 {
		r.relayChain(m, last)
		return
	}
	if m.Quiet {
		return
	}
	r.send(Message{To: lead, Type: MsgAppResp, Index: last, Seq: m.Seq, Commit: r.log.committed})
}

func (r *Raft) handleHeartbeat(m Message) {
	r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	if m.Quiet {
		return
	}
	// Index tells the leader how long our log is, so it notices entries
	// that were lost in flight even when it has nothing new to send.
	r.send(Message{To: m.From, Type: MsgHeartbeatResp, Seq: m.Seq, Commit: r.log.committed, Index: r.log.lastIndex()})
}

// handleSnapshot is InstallSnapshot on the receiver (paper §7).
func (r *Raft) handleSnapshot(m Message) {
	s := m.Snapshot
	if s == nil || s.IsEmpty() {
		return
	}
	resp := Message{To: m.From, Type: MsgAppResp, Seq: m.Seq}
	switch {
	case s.Meta.Index <= r.log.committed:
		resp.Index = r.log.committed
	case r.log.matchTerm(s.Meta.Index, s.Meta.Term):
		// We hold the snapshot's last entry: no need to restore, the
		// prefix is committed.
		r.log.commitTo(s.Meta.Index)
		resp.Index = r.log.committed
	default:
		r.logger.Info("restoring snapshot", "index", s.Meta.Index, "term", s.Meta.Term)
		r.log.restore(s)
		if len(s.Meta.Members) > 0 {
			r.setMembers(s.Meta.Members)
		}
		resp.Index = s.Meta.Index
	}
	resp.Commit = r.log.committed
	r.send(resp)
}
