package raft

import (
	"slices"

	"github.com/raftkv/raftkv/internal/raft/progress"
)

// Chain replication (Config.Chain; DESIGN.md "chain replication").
//
// The leader sends new entries to the first member of a chain of
// followers; each member that accepts them relays the same MsgApp to the
// next; the last member (the tail) then knows that the leader and every
// member hold the entries. When the chain plus the leader is a majority and
// the last entry is of the message's term, that is exactly Raft's commit
// rule (§5.4.2), so the tail commits, acknowledges the clients of those
// entries itself, and answers the leader, crediting every member. A put then
// costs two messages on its critical path instead of four (fan-out to two
// followers and their answers), and the answer to the leader can wait.
//
// Exactly one node acknowledges each entry of the current term: the tail
// that proves it. The leader tells followers a commit index no higher than
// what some tail has reported committing (chainState.answered), so a tail
// never mistakes an entry nobody answered for one already answered.

// chainState is the chain bookkeeping of both roles.
type chainState struct {
	// Leader side.
	members  []uint64 // ordered; members[len-1] is the tail
	answered uint64   // highest index some follower reported committed
	lastSend uint64   // tick of the last chain MsgApp
	lastAck  uint64   // tick of the last answer from a tail
	failures int      // consecutive retransmit timeouts
	// waiting says a chain MsgApp through sentThrough went out that no
	// tail's answer has covered yet; waitingSince is when the oldest such
	// went out, and resent that the chain was resent since. clean says the
	// last such stretch ended without a resend: only then is an early
	// resend (Config.ChainFirstRetransmitTicks) made, once per stretch.
	waiting      bool
	waitingSince uint64
	sentThrough  uint64
	resent       bool
	clean        bool
	// reprove makes the next chain message go out even if every member
	// already holds every entry, so the tail proves the last one.
	reprove bool
	// probedAt is the tick of the last direct probe of the members.
	probedAt uint64
	// suspect was rotated out of the chain and is not taken back before
	// suspectUntil.
	suspect      uint64
	suspectUntil uint64

	// Tail side: an answer to the leader held back to cover more entries.
	pendingAck *Message
	ackDue     uint64
}

func (c *chainState) reset() { *c = chainState{} }

// AckRange is an inclusive range of committed indexes whose clients this
// node is the one to acknowledge (Ready.Acks).
type AckRange struct{ Lo, Hi uint64 }

// addAcks records that this node acknowledges the entries of term in
// (from, to]. Entries of a term form a contiguous suffix of the log, so the
// range is cut where the term starts.
func (r *Raft) addAcks(from, to, term uint64) {
	lo := to + 1
	for lo > from+1 && lo-1 > r.log.snapIndex && r.log.entryAt(lo-1).Term == term {
		lo--
	}
	if lo > to {
		return
	}
	if n := len(r.acks); n > 0 && r.acks[n-1].Hi+1 >= lo {
		r.acks[n-1].Hi = max(r.acks[n-1].Hi, to)
		return
	}
	r.acks = append(r.acks, AckRange{Lo: lo, Hi: to})
}

// AckedIndex returns, on a leader, the highest index up to which every
// entry of its term is known acknowledged to its client: with chains, the
// highest commit index some follower reported (only a chain's tail
// acknowledges); otherwise the commit index (the leader acknowledges as it
// commits). A read that must not reveal an unacknowledged write waits for
// it. Entries of earlier terms count as acknowledged here: only the layer
// above knows how it answers those (Ready.Acks).
func (r *Raft) AckedIndex() uint64 {
	if r.role != Leader {
		return 0
	}
	return r.followerCommit()
}

// commitFor is the commit index the leader tells follower pr: until the
// follower has answered once in this term, no more than the leader's own
// commit index at election, so that its first answer reports what it knew
// before (Progress.FirstCommit: who had seen which inherited entries
// committed, and so may have answered their clients).
func (r *Raft) commitFor(pr *progress.Progress) uint64 {
	c := r.followerCommit()
	if !pr.Heard {
		c = min(c, r.electionCommit)
	}
	return c
}

// followerCommit is the commit index the leader tells followers. With
// chains it never exceeds what some follower reported committing, except
// for entries of earlier terms, which tails never acknowledge.
func (r *Raft) followerCommit() uint64 {
	if r.cfg.Chain && r.role == Leader {
		return min(r.log.committed, max(r.chain.answered, r.termStart-1))
	}
	return r.log.committed
}

// repairChain keeps the chain usable: members must be followers not waiting
// for a snapshot. Replacements go to the front so the tail, the node that
// acknowledged clients so far, stays the tail whenever it can.
func (r *Raft) repairChain() bool {
	want := min(r.cfg.EagerFollowers, len(r.members)-1)
	keep := r.chain.members[:0]
	for _, id := range r.chain.members {
		if pr := r.prs[id]; pr != nil && pr.State != progress.Snapshot {
			keep = append(keep, id)
		}
	}
	r.chain.members = keep
	if len(keep) >= want {
		return len(keep)+1 >= r.quorum()
	}
	var cands []uint64
	for _, id := range r.members {
		if id == r.id || slices.Contains(keep, id) {
			continue
		}
		if id == r.chain.suspect && r.now < r.chain.suspectUntil {
			continue
		}
		if pr := r.prs[id]; pr.State != progress.Snapshot {
			cands = append(cands, id)
		}
	}
	// Most recently heard first; ties by ID for determinism.
	slices.SortStableFunc(cands, func(a, b uint64) int {
		ha, hb := r.prs[a].LastHeard, r.prs[b].LastHeard
		switch {
		case ha > hb:
			return -1
		case ha < hb:
			return 1
		}
		return 0
	})
	for _, id := range cands {
		if len(r.chain.members) >= want {
			break
		}
		r.chain.members = append([]uint64{id}, r.chain.members...)
	}
	return len(r.chain.members)+1 >= r.quorum()
}

// chainBroadcast sends the entries the chain lacks along it. It returns
// false when no chain can prove a commit, and the caller fans out instead.
func (r *Raft) chainBroadcast() bool {
	if !r.repairChain() {
		return false
	}
	for _, id := range r.chain.members {
		if !r.prs[id].Heard {
			// Wait until every member has answered a plain message of this
			// term (the term's announcement, or the chain's probe): its
			// first answer must report what it knew before this term
			// (FirstCommit), not a commit it just proved as a tail.
			return true
		}
	}
	from := r.log.lastIndex() + 1
	for _, id := range r.chain.members {
		from = min(from, r.prs[id].Next)
	}
	reprove := r.chain.reprove
	r.chain.reprove = false
	if reprove && from > r.log.lastIndex() {
		// Every member holds everything: an empty append whose previous
		// entry is the last one lets the tail prove it from its own log,
		// even if the leader has compacted it away.
		from = r.log.lastIndex() + 1
	}
	prevTerm, err := r.log.term(from - 1)
	if err != nil {
		// A member needs a snapshot: send it directly; the chain forms
		// again once it has caught up.
		for _, id := range r.chain.members {
			r.maybeSendAppend(id, false)
		}
		return true
	}
	ents := r.log.slice(from, r.log.lastIndex()+1, r.cfg.MaxEntriesPerMsg, r.cfg.MaxBytesPerMsg)
	if len(ents) == 0 && !reprove {
		return true
	}
	// A member probing for its match, or whose inflight window is full,
	// holds the chain back: one chain message at a time then, or every
	// stale rejection would start another round. The probe is urgent: the
	// tail answers it at once, so the pause lasts one round trip.
	urgent := reprove
	for _, id := range r.chain.members {
		pr := r.prs[id]
		if pr.IsPaused() {
			r.chain.reprove = r.chain.reprove || reprove
			return true
		}
		if pr.State == progress.Probe {
			urgent = true
		}
	}
	commit := r.followerCommit()
	for _, id := range r.chain.members {
		commit = min(commit, r.commitFor(r.prs[id]))
	}
	r.send(Message{Type: MsgApp, To: r.chain.members[0], Index: from - 1, LogTerm: prevTerm,
		Entries: ents, Commit: commit, Chain: slices.Clone(r.chain.members), Urgent: urgent})
	last := from - 1
	if n := len(ents); n > 0 {
		last = ents[n-1].Index
	}
	for _, id := range r.chain.members {
		pr := r.prs[id]
		switch pr.State {
		case progress.Replicate:
			if last >= pr.Next {
				pr.OptimisticUpdate(last)
				pr.Inflights.Add(last)
			}
		case progress.Probe:
			pr.Next = max(pr.Next, last+1)
			pr.ProbeSent = true
		}
		pr.LastSend, pr.LastAppend = r.now, r.now
	}
	r.chain.lastSend = r.now
	if !r.chain.waiting {
		r.chain.waiting, r.chain.waitingSince, r.chain.resent = true, r.now, false
	}
	r.chain.sentThrough = max(r.chain.sentThrough, last)
	if last < r.log.lastIndex() {
		// More than one message's worth: keep going next Ready.
		r.needBroadcast = true
	}
	return true
}

// relayChain continues a chain MsgApp this follower accepted through last.
func (r *Raft) relayChain(m Message, last uint64) {
	lead := leaderOf(m)
	pos := slices.Index(m.Chain, r.id)
	if pos < 0 {
		r.send(Message{To: lead, Type: MsgAppResp, Index: last, Seq: m.Seq, Commit: r.log.committed})
		return
	}
	if pos < len(m.Chain)-1 {
		fwd := m
		fwd.To = m.Chain[pos+1]
		fwd.Lead = lead
		r.send(fwd)
		return
	}
	// Tail: the leader and every member hold the log through last.
	if len(m.Chain)+1 >= r.quorum() && r.log.termOrZero(last) == m.Term && last > r.log.committed {
		prev := r.log.committed
		r.log.commitTo(last)
		r.addAcks(prev, last, m.Term)
	}
	ack := Message{To: lead, Type: MsgAppResp, Term: r.term, Index: last, Seq: m.Seq, Chain: m.Chain}
	if r.cfg.ChainAckDelayTicks == 0 || m.Urgent {
		// Fold in any answer still held back: this one covers it.
		if p := r.chain.pendingAck; p != nil && p.Term == r.term && p.To == lead {
			ack.Index = max(ack.Index, p.Index)
			ack.Seq = max(ack.Seq, p.Seq)
		}
		r.chain.pendingAck = nil
		ack.Commit = r.log.committed
		r.send(ack)
		return
	}
	if p := r.chain.pendingAck; p != nil && p.Term == r.term && p.To == lead {
		ack.Index = max(ack.Index, p.Index)
		ack.Seq = max(ack.Seq, p.Seq)
	} else {
		r.chain.ackDue = r.now + uint64(r.cfg.ChainAckDelayTicks)
	}
	r.chain.pendingAck = &ack
}

// tickChainAck sends a held-back tail answer once it is due.
func (r *Raft) tickChainAck() {
	if p := r.chain.pendingAck; p != nil && r.now >= r.chain.ackDue {
		r.flushChainAck()
	}
}

func (r *Raft) flushChainAck() {
	p := r.chain.pendingAck
	if p == nil {
		return
	}
	r.chain.pendingAck = nil
	if p.Term != r.term {
		return
	}
	ack := *p
	ack.Commit = r.log.committed
	r.send(ack)
}

// handleChainResp handles a tail's answer, or a member's rejection, of a
// chain MsgApp.
func (r *Raft) handleChainResp(m Message) {
	if m.Reject {
		pr := r.prs[m.From]
		// Only a rejection of a position we still thought might match
		// teaches anything; one from an older message in flight does not.
		// Each useful rejection lowers Next, so resends cannot multiply.
		if m.Index < pr.Match || m.Index+1 > pr.Next {
			return
		}
		hint := m.RejectHint
		if m.LogTerm > 0 {
			hint, _ = r.log.findConflictByTerm(m.RejectHint, m.LogTerm)
		}
		next := max(pr.Match+1, min(m.Index, hint+1))
		pr.BecomeProbe()
		pr.Next = next
		r.needBroadcast = true
		return
	}
	r.chain.lastAck = r.now
	r.chain.failures = 0
	if m.Index >= r.chain.sentThrough {
		if r.chain.waiting {
			r.chain.clean = !r.chain.resent
		}
		r.chain.waiting = false
	} else {
		// Progress, but later messages are still out: time them anew.
		r.chain.waitingSince = r.now
	}
	for _, id := range m.Chain {
		pr := r.prs[id]
		if pr == nil {
			continue
		}
		// The tail vouches that each member accepted this leader's
		// message. LastHeard stays for direct contact: it tells a live
		// member from a dead one when the chain fails.
		pr.RecentActive = true
		r.ackSeq(pr, m.Seq)
		if pr.State == progress.Probe {
			// The probe is answered, even if it taught us nothing new.
			pr.Match = max(pr.Match, m.Index)
			pr.BecomeReplicate()
			pr.LastAck = r.now
		} else {
			r.creditMatchQuiet(pr, m.Index)
		}
	}
	r.maybeCommit()
	if r.leadTransferee != None {
		if pr := r.prs[r.leadTransferee]; pr != nil && pr.Match == r.log.lastIndex() {
			r.sendTimeoutNow(r.leadTransferee)
		}
	}
}

// creditMatchQuiet records a match without sending anything: the chain
// carries the next entries.
func (r *Raft) creditMatchQuiet(pr *progress.Progress, index uint64) {
	if pr.MaybeUpdate(index) {
		pr.LastAck = r.now
		if pr.State == progress.Replicate {
			pr.Inflights.FreeLE(index)
		}
	}
}

// tickChain retransmits along the chain when its entries went unanswered,
// rotating a member out after repeated failures in case it is down. It
// also re-proves entries the leader knows committed (by counting plain
// acknowledgements) that no tail has reported: only a tail's proof
// acknowledges their clients and lets followers learn the commit.
func (r *Raft) tickChain() {
	if !r.cfg.Chain || r.cfg.RetransmitTicks == 0 {
		return
	}
	// A member rotated out leaves a gap only a broadcast would refill; an
	// idle leader must refill it here or nothing is ever re-proven.
	if !r.repairChain() {
		return
	}
	last := r.log.lastIndex()
	outstanding := r.followerCommit() < r.log.committed
	for _, id := range r.chain.members {
		if r.prs[id].Match < last {
			outstanding = true
		}
	}
	if !outstanding {
		return
	}
	if first := uint64(r.cfg.ChainFirstRetransmitTicks); first > 0 && r.chain.waiting &&
		r.chain.clean && !r.chain.resent && r.now-r.chain.waitingSince >= first {
		// One early resend: on a chain whose last stretch went through
		// without one, most likely a single datagram was lost, and until it
		// is resent the new entries may live on this node alone. On a chain
		// that keeps failing (heavy loss) early resends would mostly fail
		// too, and each costs a pass: the steady cadence takes over.
		r.chain.lastSend = r.now
		r.resendChain()
		return
	}
	rt := uint64(r.cfg.RetransmitTicks)
	if r.now-r.chain.lastSend < rt || r.now-r.chain.lastAck < rt {
		return
	}
	r.chain.failures++
	r.logger.Debug("chain unanswered", "failures", r.chain.failures, "members", r.chain.members, "last", last, "answered", r.chain.answered, "commit", r.log.committed)
	// The next failure counts only after another retransmit interval,
	// whether or not this one manages to send anything.
	r.chain.lastSend = r.now
	switch {
	case r.chain.failures == 2:
		// Ask every member directly whether it is alive before blaming
		// one: on a lossy network the chain fails without anyone down.
		r.chain.probedAt = r.now
		for _, id := range r.chain.members {
			r.sendHeartbeat(id)
		}
	case r.chain.failures >= 3:
		r.chain.failures = 0
		old := slices.Clone(r.chain.members)
		tail := r.chain.members[len(r.chain.members)-1]
		kept := r.chain.members[:0]
		for _, id := range r.chain.members {
			pr := r.prs[id]
			alive := pr.LastHeard >= r.chain.probedAt
			// A tail that has answered in this term goes only after a long
			// silence: a new tail answers again the entries the old one
			// proved but whose answers the leader has not heard, so a lost
			// probe answer must not cost duplicates. A dead tail still goes
			// within half an election timeout, and one that never answered
			// in this term has proved nothing and goes at once.
			if id == tail && !alive && pr.Heard {
				alive = r.now-pr.LastHeard < uint64(r.cfg.ElectionTick/2)
			}
			if alive {
				kept = append(kept, id)
				continue
			}
			// Down or cut off. Keep it out for an election timeout;
			// repairChain fills its place at the front.
			r.chain.suspect = id
			r.chain.suspectUntil = r.now + uint64(r.cfg.ElectionTick)
		}
		r.chain.members = kept
		r.repairChain()
		if !slices.Equal(old, r.chain.members) {
			r.logger.Debug("chain changed", "from", old, "to", r.chain.members)
		}
	}
	r.resendChain()
}

// resendChain makes the next chain message start over from what each
// member is known to hold, and go out even if it carries no entry.
func (r *Raft) resendChain() {
	r.chain.resent = true
	for _, id := range r.chain.members {
		r.prs[id].BecomeProbe()
	}
	r.chain.reprove = true
	r.needBroadcast = true
}
