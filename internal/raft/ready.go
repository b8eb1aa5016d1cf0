package raft

// Ready is one batch of work the core hands its driver. The driver must
// handle it in this order, then call Advance:
//
//  1. persist HardState (if not empty), Entries (replacing any persisted
//     entries at or after Entries[0].Index) and Snapshot, syncing to stable
//     storage when MustSync;
//  2. send Messages;
//  3. restore the state machine from Snapshot if set, then apply
//     CommittedEntries in order;
//  4. serve each ReadState once the state machine has applied its Index.
//
// Persisting before sending is what makes a vote or an acknowledgement a
// promise (paper Figure 2: "respond to RPCs only after updating stable
// storage").
type Ready struct {
	// SoftState is set when the leader or role changed.
	SoftState *SoftState
	// HardState is empty when unchanged.
	HardState HardState
	// Entries are to be appended to stable storage.
	Entries []Entry
	// Snapshot, when set, is a snapshot from the leader to persist and
	// restore the state machine from.
	Snapshot *Snapshot
	// Messages are to be sent once the above is durable.
	Messages []Message
	// CommittedEntries are to be applied, in order.
	CommittedEntries []Entry
	// ReadStates are reads that became safe to serve.
	ReadStates []ReadState
	// Acks are the committed entries this node established as committed
	// itself (by counting replicas as leader, or as a chain's tail), whose
	// clients it is therefore the one node to acknowledge, exactly once.
	// Only entries of the proving leader's term are listed: entries a new
	// leader inherits from earlier terms may have been acknowledged by a
	// node that has since failed, and the caller decides (DESIGN.md).
	// A range may cover entries handed out in a later Ready's
	// CommittedEntries.
	Acks []AckRange
	// MustSync is true when the batch must reach stable storage before
	// anything is sent: new entries, a new term or vote, a snapshot.
	MustSync bool
}

// IsEmpty reports whether rd asks for nothing.
func (rd *Ready) IsEmpty() bool {
	return rd.SoftState == nil && rd.HardState.IsEmpty() && len(rd.Entries) == 0 &&
		rd.Snapshot == nil && len(rd.Messages) == 0 && len(rd.CommittedEntries) == 0 &&
		len(rd.ReadStates) == 0
}

// HasReady reports whether Ready would hand out any work.
func (r *Raft) HasReady() bool {
	if r.inReady {
		return false
	}
	return r.needBroadcast || r.reads.roundWanted || len(r.msgs) > 0 || len(r.readStates) > 0 || len(r.acks) > 0 ||
		r.softState() != r.prevSoft || r.hardState() != r.prevHard ||
		r.log.stable < r.log.lastIndex() || r.log.pendingSnapshot != nil ||
		r.log.hasNextCommitted()
}

// Ready returns the pending work. Until Advance is called the core must not
// be given any other input.
func (r *Raft) Ready() Ready {
	r.guard()
	r.flush()
	rd := Ready{
		Entries:          r.log.unstableEntries(),
		Messages:         r.msgs,
		CommittedEntries: r.log.nextCommitted(r.cfg.MaxApplyBytes),
		ReadStates:       r.readStates,
		Acks:             r.acks,
		Snapshot:         r.log.pendingSnapshot,
	}
	if ss := r.softState(); ss != r.prevSoft {
		rd.SoftState = &ss
	}
	if hs := r.hardState(); hs != r.prevHard {
		rd.HardState = hs
		if r.cfg.Testing.ForgetVote {
			rd.HardState.Vote = None
		}
		rd.MustSync = hs.Term != r.prevHard.Term || hs.Vote != r.prevHard.Vote
	}
	if len(rd.Entries) > 0 || rd.Snapshot != nil {
		rd.MustSync = true
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applying = rd.CommittedEntries[n-1].Index
	}
	r.msgs = nil
	r.readStates = nil
	r.acks = nil
	r.inReady = true
	return rd
}

// Advance acknowledges the last Ready: its entries are persisted, its
// committed entries applied. The leader counts its own copy of new entries
// from here on, which may commit more.
func (r *Raft) Advance() {
	if !r.inReady {
		panic("raft: Advance without Ready")
	}
	r.inReady = false
	r.prevSoft = r.softState()
	r.prevHard = r.hardState()
	r.log.stable = r.log.lastIndex()
	r.log.pendingSnapshot = nil
	r.log.applied = r.log.applying
	if r.role == Leader {
		r.maybeCommit()
	}
	r.checkInvariants()
}
