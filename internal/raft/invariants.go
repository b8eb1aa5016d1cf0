package raft

import (
	"fmt"

	"github.com/raftkv/raftkv/internal/raft/progress"
)

// checkInvariants panics if the core's state contradicts itself. It runs
// after every input when Config.CheckInvariants is set; each condition is
// also stated beside the field it constrains.
func (r *Raft) checkInvariants() {
	if !r.cfg.CheckInvariants {
		return
	}
	r.log.check()
	if r.term < r.log.lastTerm() {
		panic(r.invariantf("term %d below last log term %d", r.term, r.log.lastTerm()))
	}
	if r.vote != None && !r.isMember(r.vote) {
		panic(r.invariantf("voted for non-member %d", r.vote))
	}
	switch r.role {
	case Leader:
		if r.lead != r.id || r.vote != r.id {
			panic(r.invariantf("leader with lead=%d vote=%d", r.lead, r.vote))
		}
		last := r.log.lastIndex()
		for _, id := range r.members {
			if id == r.id {
				continue
			}
			pr := r.prs[id]
			if pr.Match >= pr.Next {
				panic(r.invariantf("progress of %d: match %d >= next %d", id, pr.Match, pr.Next))
			}
			if pr.Match > last || (pr.State != progress.Snapshot && pr.Next > last+1) {
				panic(r.invariantf("progress of %d beyond log: %v, last %d", id, pr, last))
			}
		}
	case Candidate:
		if r.vote != r.id {
			panic(r.invariantf("candidate voted for %d", r.vote))
		}
		fallthrough
	case PreCandidate:
		if r.lead != None {
			panic(r.invariantf("%s knows leader %d", r.role, r.lead))
		}
	}
}

func (r *Raft) invariantf(format string, args ...any) string {
	return fmt.Sprintf("raft: invariant broken on node %d (term %d, %s): ", r.id, r.term, r.role) + fmt.Sprintf(format, args...)
}
