package raft

// TransferLeadership hands leadership to the member to (thesis §3.10): the
// leader stops taking proposals, brings to's log up to date, then tells it
// to campaign at once. The transfer is abandoned after an election timeout.
func (r *Raft) TransferLeadership(to uint64) error {
	r.guard()
	switch {
	case r.role != Leader:
		return ErrNotLeader
	case to == r.id:
		return nil
	case !r.isMember(to):
		return ErrUnknownPeer
	case r.leadTransferee == to:
		return nil
	}
	r.leadTransferee = to
	r.electionElapsed = 0
	r.logger.Info("transferring leadership", "to", to, "term", r.term)
	if pr := r.prs[to]; pr.Match == r.log.lastIndex() {
		r.sendTimeoutNow(to)
	} else {
		r.maybeSendAppend(to, true)
	}
	r.checkInvariants()
	return nil
}

func (r *Raft) sendTimeoutNow(to uint64) {
	r.send(Message{To: to, Type: MsgTimeoutNow})
}
