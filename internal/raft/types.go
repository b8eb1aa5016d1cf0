package raft

import "errors"

// None is the node ID that means "nobody": no leader known, no vote cast.
// Real node IDs are therefore never zero.
const None uint64 = 0

// EntryType tells the layer above how to read an entry's payload.
type EntryType uint8

const (
	// EntryNormal carries a client command; Data is opaque to the core.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends to open its term, so
	// that it can commit entries of earlier terms by counting replicas of a
	// current-term entry (Raft paper §5.4.2, §8; thesis §3.6.2).
	EntryNoop
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "Normal"
	case EntryNoop:
		return "Noop"
	}
	return "EntryType(" + itoa(uint64(t)) + ")"
}

// Entry is one slot of the replicated log.
//
// ClientID and RequestID travel with the command so that whichever replica
// applies the entry can find the client's waiting request, and so the state
// machine can apply each request at most once when a client retries.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	// ClientID and RequestID identify the request that proposed this entry;
	// both are zero for entries no client is waiting on.
	ClientID  uint64
	RequestID uint64
	Data      []byte
}

// Size is an estimate of the entry's encoded size, used to bound messages
// and the uncommitted tail by bytes.
func (e *Entry) Size() uint64 { return uint64(len(e.Data)) + 40 }

// HardState is the part of a node's state that must reach stable storage
// before any message that depends on it is sent (paper Figure 2: currentTerm,
// votedFor; Commit is kept so a restart can re-apply without waiting).
type HardState struct {
	Term   uint64
	Vote   uint64
	Commit uint64
}

// IsEmpty reports whether h carries no information at all.
func (h HardState) IsEmpty() bool { return h == HardState{} }

// SnapshotMeta describes the log prefix a snapshot replaces.
type SnapshotMeta struct {
	// Index and Term are those of the last entry the snapshot covers.
	Index uint64
	Term  uint64
	// Members is the cluster membership as of Index, sorted ascending.
	Members []uint64
}

// Snapshot is a state machine image plus the log position it stands for.
// Data is produced and consumed by the layer above; the core only moves it.
type Snapshot struct {
	Meta SnapshotMeta
	Data []byte
}

// IsEmpty reports whether s stands for no log prefix at all.
func (s *Snapshot) IsEmpty() bool { return s == nil || s.Meta.Index == 0 }

// MessageType names the RPCs of the protocol (paper Figure 2, thesis §4.2.3
// for pre-vote, §3.10 for leadership transfer, §6.4 for read index).
type MessageType uint8

const (
	// MsgApp is AppendEntries: Index/LogTerm are prevLogIndex/prevLogTerm.
	MsgApp MessageType = iota + 1
	// MsgAppResp answers MsgApp and MsgSnap. On success Index is the highest
	// index known to match the leader; on reject RejectHint/LogTerm give the
	// conflict hint (see DESIGN.md, "fast backtracking").
	MsgAppResp
	// MsgHeartbeat asserts leadership without entries; Commit is capped at the
	// follower's known match so it never commits what the follower may lack.
	MsgHeartbeat
	// MsgHeartbeatResp answers MsgHeartbeat, echoing Seq.
	MsgHeartbeatResp
	// MsgVote is RequestVote: Index/LogTerm are lastLogIndex/lastLogTerm.
	MsgVote
	// MsgVoteResp answers MsgVote; Reject means "not granted".
	MsgVoteResp
	// MsgPreVote asks "would you vote for me at Term?" without anyone
	// changing term (thesis §9.6).
	MsgPreVote
	// MsgPreVoteResp answers MsgPreVote.
	MsgPreVoteResp
	// MsgSnap is InstallSnapshot: Snapshot carries the image.
	MsgSnap
	// MsgTimeoutNow tells a caught-up follower to campaign at once
	// (leadership transfer, thesis §3.10).
	MsgTimeoutNow
	msgTypeEnd // sentinel for validation; keep last
)

var msgTypeNames = [...]string{
	MsgApp: "App", MsgAppResp: "AppResp", MsgHeartbeat: "Heartbeat",
	MsgHeartbeatResp: "HeartbeatResp", MsgVote: "Vote", MsgVoteResp: "VoteResp",
	MsgPreVote: "PreVote", MsgPreVoteResp: "PreVoteResp", MsgSnap: "Snap",
	MsgTimeoutNow: "TimeoutNow",
}

func (t MessageType) String() string {
	if t > 0 && t < msgTypeEnd {
		return msgTypeNames[t]
	}
	return "MessageType(" + itoa(uint64(t)) + ")"
}

// Valid reports whether t is a known message type; transports drop others.
func (t MessageType) Valid() bool { return t > 0 && t < msgTypeEnd }

// IsResponse reports whether t answers another message.
func (t MessageType) IsResponse() bool {
	switch t {
	case MsgAppResp, MsgHeartbeatResp, MsgVoteResp, MsgPreVoteResp:
		return true
	}
	return false
}

// Message is the unit of communication between cores. Transports carry it
// verbatim; which fields matter depends on Type (see the MsgX docs).
type Message struct {
	Type MessageType
	// From is the node that sent this copy (for a relayed MsgApp, the relay).
	From uint64
	To   uint64
	Term uint64
	// LogTerm and Index locate a log position: prevLogTerm/prevLogIndex in
	// MsgApp, lastLogTerm/lastLogIndex in votes, the match or conflict
	// position in MsgAppResp.
	LogTerm uint64
	Index   uint64
	Entries []Entry
	// Commit is the leader's commit index in MsgApp/MsgHeartbeat, and the
	// sender's own commit index in responses.
	Commit uint64
	Reject bool
	// RejectHint is, in a rejecting MsgAppResp, the follower's conflict
	// index: together with LogTerm it lets the leader skip a whole term per
	// round trip instead of one entry.
	RejectHint uint64
	// Seq is the leader's send sequence number, echoed by responses. It
	// confirms ReadIndex rounds and dates the leader's lease.
	Seq uint64
	// Force marks a vote request sent on a leadership transfer: voters grant
	// it even while they believe the old leader is alive.
	Force bool
	// Quiet marks a MsgApp or MsgHeartbeat that needs no answer unless the
	// receiver rejects it: the leader's batched catch-up of followers it
	// does not count on for commits (classroom chain mode, where every
	// message counts).
	Quiet bool
	// Urgent marks a chain MsgApp whose tail must answer at once rather
	// than hold its answer back: a probe or a retransmission the leader is
	// waiting on.
	Urgent bool
	// Chain lists, in order, the followers a chain-replicated MsgApp visits:
	// the leader sends it to Chain[0]; each member that accepts it relays it
	// to the next; the last member, holding proof that the leader and every
	// member store the entries, answers the leader. In that answer Chain
	// names the members the answer vouches for. Empty for fan-out appends.
	Chain []uint64
	// Lead is the leader that created a relayed MsgApp (From is the relay).
	Lead     uint64
	Snapshot *Snapshot
}

// ReadState reports that a read registered with ReadIndex may be served once
// the local state machine has applied Index.
type ReadState struct {
	Ctx   uint64
	Index uint64
}

// ReadMode chooses how a read proves the leader is still the leader.
type ReadMode uint8

const (
	// ReadIndexSafe confirms leadership with one heartbeat round (thesis §6.4).
	ReadIndexSafe ReadMode = iota
	// ReadLease trusts the leader's lease and sends nothing (thesis §6.4.1);
	// it assumes bounded clock drift, see the package doc.
	ReadLease
)

// Proposal is a client command offered to the leader.
type Proposal struct {
	ClientID  uint64
	RequestID uint64
	Data      []byte
}

// Errors returned by the core. Each is definite: the request was not taken
// and will never apply, so the caller may retry elsewhere.
var (
	// ErrNotLeader: proposals and reads are served by the leader only.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrTransferring: the leader is handing over leadership.
	ErrTransferring = errors.New("raft: leadership transfer in progress")
	// ErrProposalDropped: the uncommitted tail is full; retry later.
	ErrProposalDropped = errors.New("raft: proposal dropped, uncommitted log full")
	// ErrLeaseExpired: a lease read was asked for while the lease is not held.
	ErrLeaseExpired = errors.New("raft: leader lease not held")
	// ErrCompacted: the requested index precedes the log's snapshot.
	ErrCompacted = errors.New("raft: index compacted")
	// ErrUnavailable: the requested index is past the end of the log.
	ErrUnavailable = errors.New("raft: index unavailable")
	// ErrSnapshotTooOld: a snapshot handed to Compact is older than the log start.
	ErrSnapshotTooOld = errors.New("raft: snapshot older than the log start")
	// ErrUnknownPeer: a request named a node outside the membership.
	ErrUnknownPeer = errors.New("raft: unknown peer")
)

// itoa avoids importing strconv into hot describers' callers.
func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
