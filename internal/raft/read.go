package raft

import "github.com/raftkv/raftkv/internal/raft/quorum"

// readReq is a read waiting for the leader to prove it still leads.
type readReq struct {
	ctx   uint64
	index uint64
	mode  ReadMode
	// seq is the first sequence number a confirming response must echo:
	// greater than any sent before the read arrived.
	seq uint64
}

// readQueue holds the leader's pending reads, oldest first.
type readQueue struct {
	// waiting holds reads that arrived before the leader committed an
	// entry of its term; until then its commit index may be stale.
	waiting []readReq
	// pending holds reads waiting for a heartbeat round, in seq order.
	pending []readReq
	// roundSeq is the sequence number of the last round sent for reads;
	// roundTick is when.
	roundSeq  uint64
	roundTick uint64
	// roundWanted defers a round to the next Ready, so every read
	// registered until then shares it.
	roundWanted bool
}

func (q *readQueue) reset() { *q = readQueue{} }

// ReadIndex registers a linearizable read identified by ctx. When it is safe
// the read comes back in Ready.ReadStates with the index the state machine
// must have applied before serving it (thesis §6.4). With ReadLease and a
// valid lease that happens without any message; otherwise, or if the lease
// is not held, one heartbeat round confirms leadership for every read
// registered meanwhile.
func (r *Raft) ReadIndex(ctx uint64, mode ReadMode) error {
	r.guard()
	if r.role != Leader {
		return ErrNotLeader
	}
	req := readReq{ctx: ctx, mode: mode}
	if !r.committedInTerm {
		r.reads.waiting = append(r.reads.waiting, req)
		return nil
	}
	r.admitRead(req)
	return nil
}

// admitRead fixes the read's index and either serves it under the lease or
// queues it for a heartbeat round.
func (r *Raft) admitRead(req readReq) {
	req.index = r.readIndexValue()
	if len(r.members) == 1 || (req.mode == ReadLease && r.LeaseValid()) {
		r.readStates = append(r.readStates, ReadState{Ctx: req.ctx, Index: req.index})
		return
	}
	req.seq = r.lastSeq() + 1
	r.reads.pending = append(r.reads.pending, req)
	if !r.roundInFlight() {
		r.reads.roundWanted = true
	}
}

// readIndexValue is the index a read must wait for. With chain replication
// a follower may acknowledge a client before the leader learns the entry
// committed, so reads wait for the whole log instead of the commit index.
func (r *Raft) readIndexValue() uint64 {
	if r.cfg.Chain {
		return r.log.lastIndex()
	}
	return r.log.committed
}

func (r *Raft) lastSeq() uint64 {
	if r.seqTick == 0 && r.seqN == 0 {
		return 0
	}
	return r.seqTick<<seqTickShift | r.seqN
}

func (r *Raft) startReadRound() {
	r.reads.roundSeq = r.lastSeq() + 1
	r.reads.roundTick = r.now
	r.broadcastHeartbeat()
}

// roundInFlight reports whether a read round was sent and not yet
// confirmed by a quorum.
func (r *Raft) roundInFlight() bool {
	return r.reads.roundWanted || (r.reads.roundSeq != 0 && r.quorumSeq() < r.reads.roundSeq)
}

// quorumSeq is the highest sequence number echoed by a majority, the
// leader counting itself as having echoed everything.
func (r *Raft) quorumSeq() uint64 {
	var buf [16]uint64
	seqs := buf[:0]
	for _, id := range r.members {
		if id == r.id {
			seqs = append(seqs, ^uint64(0))
		} else {
			seqs = append(seqs, r.prs[id].AckedSeq)
		}
	}
	return quorum.CommittedIndex(seqs)
}

// confirmReads releases the reads a majority has confirmed and starts a
// new round for any that arrived after the last one was sent.
func (r *Raft) confirmReads() {
	if r.role != Leader || len(r.reads.pending) == 0 {
		return
	}
	qs := r.quorumSeq()
	n := 0
	for _, req := range r.reads.pending {
		if req.seq > qs {
			break
		}
		r.readStates = append(r.readStates, ReadState{Ctx: req.ctx, Index: req.index})
		n++
	}
	r.reads.pending = r.reads.pending[n:]
	if len(r.reads.pending) > 0 && !r.roundInFlight() {
		r.reads.roundWanted = true
	}
}

// admitWaitingReads runs once the leader has committed in its term.
func (r *Raft) admitWaitingReads() {
	w := r.reads.waiting
	r.reads.waiting = nil
	for _, req := range w {
		r.admitRead(req)
	}
}

// tickReads repeats a read round whose messages may have been lost.
func (r *Raft) tickReads() {
	if len(r.reads.pending) > 0 && r.now-r.reads.roundTick >= uint64(r.cfg.HeartbeatTick) {
		r.startReadRound()
	}
}

// LeaseValid reports whether the leader may serve reads without contacting
// anyone. The lease starts when the leader sent the messages a majority
// last acknowledged, and lasts ElectionTick - LeaseDriftTicks ticks: until
// then no follower that acknowledged will vote for another candidate, since
// followers refuse votes for ElectionTick ticks after hearing from a leader.
func (r *Raft) LeaseValid() bool {
	if r.role != Leader || !r.cfg.CheckQuorum || r.leadTransferee != None || !r.committedInTerm {
		return false
	}
	start := seqTick(r.quorumSeq())
	if start == 0 {
		return false
	}
	return r.now < start+uint64(r.cfg.ElectionTick-r.cfg.LeaseDriftTicks)
}
