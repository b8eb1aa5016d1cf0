// Package progress tracks, on the leader, what it knows of each follower's
// log, and decides when the leader may send it more (thesis §10.2.2,
// "probe" and "replicate" states after etcd's design).
package progress

import "fmt"

// State is the replication mode toward one follower.
type State uint8

const (
	// Probe: the leader does not know where the follower's log matches; it
	// sends one MsgApp at a time and waits for the answer.
	Probe State = iota
	// Replicate: the follower's log matches up to Match; the leader streams
	// entries optimistically, bounded by the inflight window.
	Replicate
	// Snapshot: the follower needs a snapshot; nothing else is sent until it
	// is installed or reported failed.
	Snapshot
)

func (s State) String() string {
	switch s {
	case Probe:
		return "Probe"
	case Replicate:
		return "Replicate"
	case Snapshot:
		return "Snapshot"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Progress is the leader's view of one follower.
//
// Invariant: Match < Next.
type Progress struct {
	// Match is the highest index known to be in the follower's log and to
	// match the leader's.
	Match uint64
	// Next is the index of the next entry to send.
	Next  uint64
	State State
	// PendingSnapshot is the index of the snapshot being sent (Snapshot state).
	PendingSnapshot uint64
	// ProbeSent pauses a Probe-state follower until it answers or a
	// heartbeat interval passes.
	ProbeSent bool
	// RecentActive is set by any message from the follower and cleared by
	// each CheckQuorum round.
	RecentActive bool
	Inflights    *Inflights

	// LastSend is the tick at which the leader last sent this follower
	// anything; heartbeats go only to followers idle for a heartbeat interval.
	LastSend uint64
	// LastAppend is the tick of the last MsgApp or MsgSnap sent.
	LastAppend uint64
	// LastAck is the tick of the last accepted MsgAppResp.
	LastAck uint64
	// LastHeard is the tick of the last message of any kind from the follower.
	LastHeard uint64
	// AckedSeq is the highest leader sequence number the follower echoed.
	AckedSeq uint64
	// Commit is the follower's commit index as it last reported it.
	Commit uint64
	// Heard is set once the follower answered anything in this leader's
	// term: until then Commit says nothing.
	Heard bool
	// FirstCommit is the commit index of the follower's first answer in
	// this term: what it knew before this leader could tell it anything
	// beyond the leader's own commit index at election.
	FirstCommit uint64
}

// New returns a Probe-state progress expecting next as the next index.
func New(next uint64, inflight int) *Progress {
	return &Progress{Next: next, Inflights: NewInflights(inflight)}
}

func (p *Progress) reset(state State) {
	p.State = state
	p.ProbeSent = false
	p.PendingSnapshot = 0
	p.Inflights.Reset()
}

// BecomeProbe restarts probing from the entry after Match (or after the
// snapshot just installed).
func (p *Progress) BecomeProbe() {
	if p.State == Snapshot {
		pending := p.PendingSnapshot
		p.reset(Probe)
		p.Next = max(p.Match+1, pending+1)
		return
	}
	p.reset(Probe)
	p.Next = p.Match + 1
}

// BecomeReplicate starts streaming after Match.
func (p *Progress) BecomeReplicate() {
	p.reset(Replicate)
	p.Next = p.Match + 1
}

// BecomeSnapshot waits for the follower to install the snapshot at index.
func (p *Progress) BecomeSnapshot(index uint64) {
	p.reset(Snapshot)
	p.PendingSnapshot = index
}

// MaybeUpdate records that the follower matches through n. It reports
// whether Match moved forward.
func (p *Progress) MaybeUpdate(n uint64) bool {
	updated := false
	if p.Match < n {
		p.Match = n
		updated = true
		p.ProbeSent = false
	}
	p.Next = max(p.Next, n+1)
	return updated
}

// OptimisticUpdate advances Next past a message just sent in Replicate state.
func (p *Progress) OptimisticUpdate(last uint64) { p.Next = last + 1 }

// MaybeDecrTo handles a rejected MsgApp whose prevLogIndex was rejected,
// moving Next back to just after matchHint, the highest index that may still
// match. It reports false when the rejection is stale (already superseded).
func (p *Progress) MaybeDecrTo(rejected, matchHint uint64) bool {
	if p.State == Replicate {
		if rejected <= p.Match {
			return false
		}
		p.Next = p.Match + 1
		return true
	}
	if p.Next-1 != rejected {
		return false
	}
	p.Next = max(min(rejected, matchHint+1), p.Match+1)
	p.ProbeSent = false
	return true
}

// IsPaused reports whether the leader must hold back new MsgApp.
func (p *Progress) IsPaused() bool {
	switch p.State {
	case Probe:
		return p.ProbeSent
	case Replicate:
		return p.Inflights.Full()
	default:
		return true
	}
}

func (p *Progress) String() string {
	s := fmt.Sprintf("%s match=%d next=%d", p.State, p.Match, p.Next)
	if p.State == Snapshot {
		s += fmt.Sprintf(" snap=%d", p.PendingSnapshot)
	}
	if n := p.Inflights.Count(); n > 0 {
		s += fmt.Sprintf(" inflight=%d", n)
	}
	return s
}
