package raft

import (
	"slices"

	"github.com/raftkv/raftkv/internal/raft/progress"
	"github.com/raftkv/raftkv/internal/raft/quorum"
)

// Propose appends client commands to the leader's log and returns the index
// range they occupy. The entries travel to followers at the next Ready, so
// proposals made between two Readies share one MsgApp per follower.
func (r *Raft) Propose(ps ...Proposal) (first, last uint64, err error) {
	r.guard()
	switch {
	case r.role != Leader:
		return 0, 0, ErrNotLeader
	case r.leadTransferee != None:
		return 0, 0, ErrTransferring
	case len(ps) == 0:
		return 0, 0, nil
	}
	if lim := r.cfg.MaxUncommittedBytes; lim > 0 {
		var size uint64
		for i := range ps {
			size += uint64(len(ps[i].Data)) + 40
		}
		// One proposal always fits an empty tail, so a huge one cannot stall.
		if r.uncommittedSize > 0 && r.uncommittedSize+size > lim {
			return 0, 0, ErrProposalDropped
		}
	}
	ents := make([]Entry, len(ps))
	for i, p := range ps {
		ents[i] = Entry{Type: EntryNormal, ClientID: p.ClientID, RequestID: p.RequestID, Data: p.Data}
	}
	first = r.log.lastIndex() + 1
	r.appendEntries(ents...)
	r.checkInvariants()
	return first, r.log.lastIndex(), nil
}

// appendEntries stamps ents with the leader's term and next indexes and
// appends them. The leader counts its own copy only once persisted (Advance).
func (r *Raft) appendEntries(ents ...Entry) {
	li := r.log.lastIndex()
	for i := range ents {
		ents[i].Term = r.term
		ents[i].Index = li + 1 + uint64(i)
		r.uncommittedSize += ents[i].Size()
	}
	r.log.append(ents...)
	r.needBroadcast = true
}

// flush sends the entries proposed since the last Ready.
func (r *Raft) flush() {
	if r.reads.roundWanted {
		r.reads.roundWanted = false
		if r.role == Leader {
			r.startReadRound()
		}
	}
	if !r.needBroadcast {
		return
	}
	r.needBroadcast = false
	if r.role != Leader {
		return
	}
	if r.cfg.Chain && r.chainBroadcast() {
		return
	}
	for _, id := range r.eagerFollowers() {
		r.maybeSendAppend(id, false)
	}
}

// eagerFollowers returns the followers that get new entries at once: all of
// them, or with EagerFollowers = k the k most recently heard from (ties by
// ID), keeping those already chosen while they stay responsive so that the
// set is stable.
func (r *Raft) eagerFollowers() []uint64 {
	ids := make([]uint64, 0, len(r.members))
	for _, id := range r.members {
		if id != r.id {
			ids = append(ids, id)
		}
	}
	k := r.cfg.EagerFollowers
	if k == 0 || k >= len(ids) {
		return ids
	}
	slices.SortStableFunc(ids, func(a, b uint64) int {
		pa, pb := r.prs[a], r.prs[b]
		ra, rb := r.responsive(pa), r.responsive(pb)
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		}
		// Prefer followers already caught up: they can accept at once.
		switch {
		case pa.State == progress.Replicate && pb.State != progress.Replicate:
			return -1
		case pb.State == progress.Replicate && pa.State != progress.Replicate:
			return 1
		}
		return 0
	})
	return ids[:k]
}

// responsive reports whether a follower answered recently enough to be
// trusted with the entries a commit waits on.
func (r *Raft) responsive(pr *progress.Progress) bool {
	window := uint64(2 * r.cfg.HeartbeatTick)
	if rt := uint64(2 * r.cfg.RetransmitTicks); rt > window {
		window = rt
	}
	window = max(window, uint64(r.cfg.ChainAckDelayTicks)+uint64(r.cfg.HeartbeatTick))
	return r.now-pr.LastHeard <= window
}

// maybeSendAppend sends the follower the entries it lacks, or an empty
// MsgApp if sendIfEmpty, or a snapshot when its next entry is compacted.
// It reports whether it sent anything.
func (r *Raft) maybeSendAppend(to uint64, sendIfEmpty bool) bool {
	pr := r.prs[to]
	if pr.IsPaused() {
		return false
	}
	prevIndex := pr.Next - 1
	prevTerm, err := r.log.term(prevIndex)
	if err != nil {
		return r.sendSnapshot(to, pr)
	}
	var ents []Entry
	if last := r.log.lastIndex(); pr.Next <= last {
		ents = r.log.slice(pr.Next, last+1, r.cfg.MaxEntriesPerMsg, r.cfg.MaxBytesPerMsg)
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	quiet := len(ents) > 0 && r.quietTo(to)
	r.send(Message{To: to, Type: MsgApp, Index: prevIndex, LogTerm: prevTerm, Entries: ents, Commit: r.commitFor(pr), Quiet: quiet})
	pr.LastSend, pr.LastAppend = r.now, r.now
	switch pr.State {
	case progress.Replicate:
		if n := len(ents); n > 0 {
			last := ents[n-1].Index
			pr.OptimisticUpdate(last)
			if !quiet {
				pr.Inflights.Add(last)
			}
		}
	case progress.Probe:
		pr.ProbeSent = true
	}
	return true
}

func (r *Raft) sendSnapshot(to uint64, pr *progress.Progress) bool {
	if !pr.RecentActive {
		// Do not ship a whole image to a node that may be gone.
		return false
	}
	s := r.log.snapshot
	if s == nil {
		panic("raft: log compacted without a snapshot to send")
	}
	r.send(Message{To: to, Type: MsgSnap, Snapshot: s})
	pr.BecomeSnapshot(s.Meta.Index)
	pr.LastSend, pr.LastAppend = r.now, r.now
	r.logger.Debug("sending snapshot", "to", to, "index", s.Meta.Index)
	return true
}

func (r *Raft) sendHeartbeat(to uint64) {
	pr := r.prs[to]
	// Never tell a follower to commit past what it is known to hold: its
	// log may differ beyond Match.
	r.send(Message{To: to, Type: MsgHeartbeat, Commit: min(pr.Match, r.commitFor(pr))})
	pr.LastSend = r.now
}

// quietTo reports whether appends to follower id need no answer unless
// rejected: with chains, the followers outside the chain are caught up in
// batches and nothing waits on their answers, so once their match is
// known (Replicate) they answer only to report a gap. Heartbeats are
// always answered: in idle periods they are how the leader learns these
// followers' match, and so may tell them the commit index.
func (r *Raft) quietTo(id uint64) bool {
	return r.cfg.Chain && r.role == Leader && !r.inChain(id) && r.prs[id].State == progress.Replicate &&
		r.leadTransferee != id
}

// broadcastHeartbeat contacts every follower now (a ReadIndex round).
func (r *Raft) broadcastHeartbeat() {
	for _, id := range r.members {
		if id != r.id {
			r.sendHeartbeat(id)
		}
	}
}

// tickHeartbeat is the leader's tick function.
func tickHeartbeat(r *Raft) {
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTick {
		r.electionElapsed = 0
		if r.cfg.CheckQuorum && !r.quorumActive() {
			r.logger.Info("stepping down: no quorum heard within an election timeout", "term", r.term)
			r.becomeFollower(r.term, None)
			return
		}
		if r.leadTransferee != None {
			r.logger.Info("leadership transfer timed out", "to", r.leadTransferee)
			r.leadTransferee = None
		}
	}
	last := r.log.lastIndex()
	hb := uint64(r.cfg.HeartbeatTick)
	for _, id := range r.members {
		if id == r.id {
			continue
		}
		pr := r.prs[id]
		switch {
		case pr.State == progress.Snapshot && r.now-pr.LastAppend >= uint64(r.cfg.ElectionTick):
			// The snapshot or its answer was lost: treat it as failed and
			// start over from what the follower is known to hold.
			pr.PendingSnapshot = 0
			pr.BecomeProbe()
		case r.cfg.RetransmitTicks > 0 && pr.State != progress.Snapshot && pr.Match < last && !r.inChain(id) && !r.cfg.Chain:
			rt := uint64(r.cfg.RetransmitTicks)
			if r.now-pr.LastAppend >= rt && r.now-pr.LastAck >= rt {
				// Appends went unanswered: assume them lost and resend
				// from what the follower is known to hold.
				pr.BecomeProbe()
				r.maybeSendAppend(id, false)
			}
		}
		if r.now-pr.LastSend >= hb {
			if r.inChain(id) {
				// Chain members get entries only along the chain, so the
				// tail proves and acknowledges them.
				r.sendHeartbeat(id)
				continue
			}
			if pr.State == progress.Probe {
				pr.ProbeSent = false
			}
			// Catch lagging followers up in batches, probe those whose
			// match is unknown, and contact the rest only if nothing else
			// went to them for a heartbeat interval.
			if !r.maybeSendAppend(id, pr.State == progress.Probe && pr.Match < last) {
				r.sendHeartbeat(id)
			}
		}
	}
	r.tickChain()
	r.tickReads()
}

func (r *Raft) inChain(id uint64) bool {
	return r.cfg.Chain && slices.Contains(r.chain.members, id)
}

// quorumActive reports whether a majority was heard from since the last
// call, and starts a new round.
func (r *Raft) quorumActive() bool {
	active := 0
	for _, id := range r.members {
		if id == r.id {
			active++
			continue
		}
		if pr := r.prs[id]; pr.RecentActive {
			active++
		}
		r.prs[id].RecentActive = false
	}
	return active >= r.quorum()
}

// stepLeader handles messages from followers.
func stepLeader(r *Raft, m Message) {
	pr := r.prs[m.From]
	if pr == nil {
		return
	}
	pr.RecentActive = true
	pr.LastHeard = r.now
	if !pr.Heard {
		pr.Heard = true
		pr.FirstCommit = m.Commit
	}
	pr.Commit = max(pr.Commit, m.Commit)
	// A follower's commit index above what the leader told it was proven
	// by the follower itself as a chain tail, which acknowledged clients.
	r.chain.answered = max(r.chain.answered, m.Commit)
	switch m.Type {
	case MsgAppResp:
		r.handleAppendResp(m, pr)
	case MsgHeartbeatResp:
		r.ackSeq(pr, m.Seq)
		if pr.Match < r.log.lastIndex() && !r.inChain(m.From) {
			if pr.State == progress.Replicate && r.now-pr.LastAppend >= uint64(r.cfg.HeartbeatTick) {
				// The follower is alive but its match lags and nothing was
				// sent for a heartbeat interval: appends or their answers
				// were lost. Probe again from Match.
				pr.BecomeProbe()
			}
			if pr.State == progress.Replicate && pr.Inflights.Full() {
				pr.Inflights.FreeFirst()
			}
			r.maybeSendAppend(m.From, pr.State == progress.Probe)
		}
		r.confirmReads()
	}
}

func (r *Raft) ackSeq(pr *progress.Progress, seq uint64) {
	pr.AckedSeq = max(pr.AckedSeq, seq)
}

func (r *Raft) handleAppendResp(m Message, pr *progress.Progress) {
	r.ackSeq(pr, m.Seq)
	if len(m.Chain) > 0 {
		r.handleChainResp(m)
		r.confirmReads()
		return
	}
	if m.Reject {
		hint := m.RejectHint
		if m.LogTerm > 0 {
			// Skip the follower's whole conflicting term at once.
			hint, _ = r.log.findConflictByTerm(m.RejectHint, m.LogTerm)
		}
		if pr.MaybeDecrTo(m.Index, hint) {
			if pr.State == progress.Replicate {
				pr.BecomeProbe()
			}
			r.maybeSendAppend(m.From, false)
		}
		r.confirmReads()
		return
	}
	r.creditMatch(m.From, m.Index)
	r.confirmReads()
}

// creditMatch records that follower id holds the leader's log through
// index, then commits and sends what that allows.
func (r *Raft) creditMatch(id, index uint64) {
	pr := r.prs[id]
	wasPaused := pr.IsPaused()
	if !pr.MaybeUpdate(index) {
		return
	}
	pr.LastAck = r.now
	switch pr.State {
	case progress.Probe:
		pr.BecomeReplicate()
	case progress.Snapshot:
		if pr.Match >= pr.PendingSnapshot {
			pr.BecomeProbe()
		}
	case progress.Replicate:
		pr.Inflights.FreeLE(index)
	}
	r.maybeCommit()
	if wasPaused || r.isEager(id) {
		for r.maybeSendAppend(id, false) {
		}
	}
	if id == r.leadTransferee && pr.Match == r.log.lastIndex() {
		r.sendTimeoutNow(id)
	}
}

// isEager reports whether id gets new entries at once rather than in
// heartbeat-time batches.
func (r *Raft) isEager(id uint64) bool {
	if r.cfg.EagerFollowers == 0 {
		return true
	}
	return slices.Contains(r.eagerFollowers(), id)
}

// maybeCommit advances the commit index to what a majority holds, if the
// entry there is of the current term (§5.4.2).
func (r *Raft) maybeCommit() bool {
	var buf [16]uint64
	matches := buf[:0]
	for _, id := range r.members {
		if id == r.id {
			matches = append(matches, r.log.stable)
		} else {
			matches = append(matches, r.prs[id].Match)
		}
	}
	mci := quorum.CommittedIndex(matches)
	if mci <= r.log.committed {
		return false
	}
	if r.log.termOrZero(mci) != r.term && !r.cfg.Testing.CommitOldTermEntries {
		return false
	}
	r.commitTo(mci)
	return true
}

// commitTo advances the commit index on any role and does the leader's
// bookkeeping that depends on it.
func (r *Raft) commitTo(c uint64) {
	old := r.log.committed
	if c <= old {
		return
	}
	r.log.commitTo(c)
	if r.role != Leader {
		return
	}
	if !r.cfg.Chain {
		// The leader proved these committed by counting: it acknowledges
		// their clients (entries of earlier terms are the caller's call).
		r.addAcks(old, c, r.term)
	}
	if r.cfg.MaxUncommittedBytes > 0 {
		for i := max(old+1, r.log.firstIndex()); i <= c; i++ {
			r.uncommittedSize -= min(r.uncommittedSize, r.log.entryAt(i).Size())
		}
	} else if c == r.log.lastIndex() {
		r.uncommittedSize = 0
	}
	if !r.committedInTerm && r.log.termOrZero(c) == r.term {
		r.committedInTerm = true
		r.admitWaitingReads()
	}
}

// ReportUnreachable tells the leader a message to id could not be
// delivered, so it stops streaming and probes instead.
func (r *Raft) ReportUnreachable(id uint64) {
	r.guard()
	if pr := r.prs[id]; pr != nil && r.role == Leader && pr.State == progress.Replicate {
		pr.BecomeProbe()
	}
}

// ReportSnapshot tells the leader whether sending a snapshot to id
// succeeded. On failure it probes again after a heartbeat interval.
func (r *Raft) ReportSnapshot(id uint64, ok bool) {
	r.guard()
	pr := r.prs[id]
	if pr == nil || r.role != Leader || pr.State != progress.Snapshot {
		return
	}
	if !ok {
		pr.PendingSnapshot = 0
	}
	pr.BecomeProbe()
	pr.ProbeSent = true
}

// Compact drops the log prefix a snapshot covers. s must be at or below the
// applied index and already persisted; its Data is kept to send to
// followers that fall behind the new log start.
func (r *Raft) Compact(s Snapshot) error {
	r.guard()
	if len(s.Meta.Members) == 0 {
		s.Meta.Members = slices.Clone(r.members)
	}
	if err := r.log.compact(&s); err != nil {
		return err
	}
	r.checkInvariants()
	return nil
}
