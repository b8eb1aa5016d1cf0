package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/raftkv/raftkv/internal/raft/progress"
	"github.com/raftkv/raftkv/internal/raft/quorum"
)

// Role is what a node currently is in the protocol.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "Follower"
	case PreCandidate:
		return "PreCandidate"
	case Candidate:
		return "Candidate"
	case Leader:
		return "Leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Rand is the only source of randomness the core uses (election timeouts).
// *math/rand/v2.Rand satisfies it; a seeded one makes runs reproducible.
type Rand interface {
	IntN(n int) int
}

// TestingKnobs break the protocol on purpose, so tests can show that the
// simulator's checkers catch each broken rule. Never set them in production.
type TestingKnobs struct {
	// SkipElectionRestriction grants votes without comparing logs (§5.4.1).
	SkipElectionRestriction bool
	// CommitOldTermEntries commits by counting replicas of entries of any
	// term, the mistake Figure 8 of the paper illustrates (§5.4.2).
	CommitOldTermEntries bool
	// ForgetVote hands out hard states without the vote, so a restarted
	// node may vote twice in one term.
	ForgetVote bool
}

// Config configures one core. Zero values get the defaults documented on
// each field; New validates the rest.
type Config struct {
	// ID identifies this node; it must not be None.
	ID uint64
	// Peers is the membership, this node included, for a node that has no
	// snapshot yet. A snapshot's member list takes precedence.
	Peers []uint64

	// ElectionTick is the minimum election timeout in ticks; each node
	// draws its timeout from [ElectionTick, 2*ElectionTick). Default 10.
	ElectionTick int
	// FirstElectionTick, when > 0, replaces ElectionTick as the minimum
	// timeout of a node that has never seen a term (a brand-new cluster),
	// so a fresh cluster elects its first leader quickly. Such a node has
	// promised nothing to any leader, so it also skips the boot quiet
	// period (see the package doc on leases).
	FirstElectionTick int
	// HeartbeatTick is how often, in ticks, the leader contacts an
	// otherwise idle follower. Default 1. Must be < ElectionTick.
	HeartbeatTick int
	// PreVote enables the pre-vote phase (thesis §9.6).
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// majority within an election timeout, and makes followers that hear
	// from a live leader ignore vote requests (thesis §6.2, §9.6). Lease
	// reads require it.
	CheckQuorum bool
	// LeaseDriftTicks is the bound on clock drift between nodes over one
	// election timeout, in ticks; the lease lasts ElectionTick minus this.
	// Default ElectionTick/10, at least 1.
	LeaseDriftTicks int

	// MaxEntriesPerMsg bounds the entries in one MsgApp. Default 1024.
	MaxEntriesPerMsg int
	// MaxBytesPerMsg bounds the bytes of entries in one MsgApp (one entry
	// always goes, however large). Default 1 MiB.
	MaxBytesPerMsg uint64
	// MaxInflightMsgs bounds the MsgApp in flight to one follower in
	// Replicate state (optimistic pipelining). Default 256.
	MaxInflightMsgs int
	// MaxUncommittedBytes bounds the proposed but uncommitted tail; 0 means
	// no bound. Proposals beyond it fail with ErrProposalDropped.
	MaxUncommittedBytes uint64
	// MaxApplyBytes bounds the committed entries handed out in one Ready.
	// Default 4 MiB.
	MaxApplyBytes uint64
	// RetransmitTicks resends to a follower whose appends went unanswered
	// this long, and makes a (pre-)candidate resend its vote requests to
	// members that have not answered (at most three times), so that one
	// lost datagram does not cost a whole election timeout; 0 relies on
	// heartbeat responses and election timeouts alone.
	RetransmitTicks int

	// EagerFollowers, when > 0, sends new entries at once to only that
	// many followers (the most recently responsive) and catches the others
	// up at heartbeat time, in batches. 0 sends to every follower at once.
	EagerFollowers int
	// Chain replicates new entries along a chain of the eager followers
	// instead of fanning out; see DESIGN.md "chain replication".
	Chain bool
	// ChainAckDelayTicks lets a chain's last member hold its answer to the
	// leader up to this many ticks, so that one answer covers several
	// entries. 0 answers at once.
	ChainAckDelayTicks int
	// ChainFirstRetransmitTicks resends along the chain once when a chain
	// MsgApp has gone this long without the tail's answer, before the
	// steady RetransmitTicks cadence takes over. A lost append otherwise
	// leaves its entry on the leader alone for a whole RetransmitTicks,
	// and a leader that dies then takes it along unanswered. It should be
	// a few chain round trips: each spurious resend costs one chain pass.
	// 0 waits RetransmitTicks.
	ChainFirstRetransmitTicks int

	// Applied is the index the state machine had already applied when the
	// node restarted, for state machines that persist it; 0 means the
	// snapshot's index.
	Applied uint64
	// Rand draws election timeouts; nil uses a generator seeded with ID.
	Rand Rand
	// Logger receives state changes at Debug and Info; nil discards.
	Logger *slog.Logger
	// CheckInvariants verifies the core's invariants after every input
	// and panics on a violation. Tests and the simulator turn it on.
	CheckInvariants bool
	// Testing breaks rules on purpose; see TestingKnobs.
	Testing TestingKnobs
}

func (c *Config) normalize() error {
	if c.ID == None {
		return errors.New("raft: config: ID must not be zero")
	}
	if c.ElectionTick == 0 {
		c.ElectionTick = 10
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = 1
	}
	if c.HeartbeatTick < 1 || c.HeartbeatTick >= c.ElectionTick {
		return fmt.Errorf("raft: config: heartbeat tick %d must be in [1, election tick %d)", c.HeartbeatTick, c.ElectionTick)
	}
	if c.LeaseDriftTicks == 0 {
		c.LeaseDriftTicks = max(1, c.ElectionTick/10)
	}
	if c.LeaseDriftTicks < 0 || c.LeaseDriftTicks >= c.ElectionTick {
		return fmt.Errorf("raft: config: lease drift %d must be in [0, election tick %d)", c.LeaseDriftTicks, c.ElectionTick)
	}
	if c.MaxEntriesPerMsg == 0 {
		c.MaxEntriesPerMsg = 1024
	}
	if c.MaxBytesPerMsg == 0 {
		c.MaxBytesPerMsg = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxApplyBytes == 0 {
		c.MaxApplyBytes = 4 << 20
	}
	if c.RetransmitTicks < 0 || c.EagerFollowers < 0 || c.ChainAckDelayTicks < 0 || c.FirstElectionTick < 0 || c.ChainFirstRetransmitTicks < 0 {
		return errors.New("raft: config: negative tick or follower count")
	}
	if c.Chain && c.EagerFollowers == 0 {
		return errors.New("raft: config: Chain needs EagerFollowers > 0")
	}
	if c.Chain && c.RetransmitTicks > 0 && c.RetransmitTicks <= c.ChainAckDelayTicks {
		return fmt.Errorf("raft: config: retransmit ticks %d must exceed chain ack delay %d", c.RetransmitTicks, c.ChainAckDelayTicks)
	}
	if c.Rand == nil {
		c.Rand = newSplitMix(c.ID)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// State is what a node recovered from stable storage when it restarts.
type State struct {
	HardState HardState
	// Snapshot is the latest persisted snapshot, or nil. Its Data is kept
	// to send to followers that fall behind the log's start.
	Snapshot *Snapshot
	// Entries are the persisted entries after the snapshot, in order.
	Entries []Entry
}

// Raft is one node's consensus core. It is not safe for concurrent use: one
// goroutine owns it. See the package doc for the contract with its driver.
type Raft struct {
	id  uint64
	cfg Config

	// Invariant: term >= log.lastTerm(); vote is None or a member.
	term uint64
	vote uint64
	lead uint64
	role Role
	log  raftLog

	// members is the membership, sorted; prs has an entry for every member
	// but this node. Iterate members, never the map, so order is fixed.
	members []uint64
	prs     map[uint64]*progress.Progress
	// votes records the answers of the current (pre-)election.
	votes map[uint64]bool

	// now counts ticks since the core was created: its only clock.
	now uint64
	// electionElapsed counts ticks since the last reset of the election
	// timer (leader contact, vote granted, campaign, CheckQuorum round).
	electionElapsed           int
	randomizedElectionTimeout int
	// lastLeaderContact is the tick at which this node last heard from a
	// leader of its term; 0 means never. It starts at the boot tick so a
	// node that just booted refuses votes for one election timeout: a
	// leader's lease may still count on the vote it forgot (see DESIGN.md
	// "leases"). A node booting at term 0 never promised anything and
	// starts at 0.
	lastLeaderContact uint64

	// seq numbers the leader's messages; the high bits hold the tick of
	// sending, so an echoed seq dates the follower's contact (leases).
	seqTick uint64
	seqN    uint64

	leadTransferee uint64
	// campaignForce remembers that the running election is a leadership
	// transfer, for resent vote requests.
	campaignForce bool
	// voteResends counts the resends of the running election.
	voteResends int
	// termStart is the index of the no-op that opened the leader's term.
	termStart uint64
	// electionCommit is the leader's commit index when it was elected.
	electionCommit uint64
	// committedInTerm is set once the leader commits an entry of its own
	// term; reads wait for it (thesis §6.4 step 1).
	committedInTerm bool
	uncommittedSize uint64
	// needBroadcast defers sending new entries until Ready, so proposals
	// made meanwhile travel in one MsgApp per follower.
	needBroadcast bool
	reads         readQueue
	chain         chainState

	msgs       []Message
	readStates []ReadState
	acks       []AckRange

	prevSoft SoftState
	prevHard HardState
	inReady  bool

	step   func(r *Raft, m Message)
	tickFn func(r *Raft)
	logger *slog.Logger
}

// New returns a core restored from st (the zero State for a new node).
func New(cfg Config, st State) (*Raft, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r := &Raft{
		id:     cfg.ID,
		cfg:    cfg,
		prs:    map[uint64]*progress.Progress{},
		votes:  map[uint64]bool{},
		logger: cfg.Logger.With("raft", cfg.ID),
		// The clock starts at 1 so that tick 0 can mean "never"; the node
		// behaves as if it heard from a leader at boot (see lastLeaderContact).
		now:               1,
		lastLeaderContact: 1,
	}
	members := cfg.Peers
	if st.Snapshot != nil && !st.Snapshot.IsEmpty() {
		s := st.Snapshot
		if len(s.Meta.Members) > 0 {
			members = s.Meta.Members
		}
		r.log.snapIndex, r.log.snapTerm = s.Meta.Index, s.Meta.Term
		r.log.snapshot = s
	}
	if len(members) == 0 {
		return nil, errors.New("raft: no members: give Config.Peers or a snapshot with members")
	}
	r.setMembers(members)
	for i, e := range st.Entries {
		if e.Index != r.log.snapIndex+1+uint64(i) {
			return nil, fmt.Errorf("raft: restored entry %d at position of %d: log not contiguous", e.Index, r.log.snapIndex+1+uint64(i))
		}
		if prev := r.log.lastTerm(); e.Term < prev {
			return nil, fmt.Errorf("raft: restored entry %d has term %d after term %d", e.Index, e.Term, prev)
		}
		r.log.entries = append(r.log.entries, e)
	}
	r.log.stable = r.log.lastIndex()
	hs := st.HardState
	if hs.Term < r.log.lastTerm() {
		return nil, fmt.Errorf("raft: hard state term %d below last log term %d", hs.Term, r.log.lastTerm())
	}
	commit := max(hs.Commit, r.log.snapIndex)
	if commit > r.log.lastIndex() {
		return nil, fmt.Errorf("raft: hard state commit %d beyond last index %d", hs.Commit, r.log.lastIndex())
	}
	r.term, r.vote = hs.Term, hs.Vote
	if r.term == 0 {
		r.lastLeaderContact = 0 // never heard of a leader: no promise to keep
	}
	r.log.committed = commit
	applied := max(cfg.Applied, r.log.snapIndex)
	if applied > commit {
		return nil, fmt.Errorf("raft: applied %d beyond commit %d", applied, commit)
	}
	r.log.applied, r.log.applying = applied, applied
	r.prevHard = r.hardState()
	r.becomeFollower(r.term, None)
	r.prevSoft = r.softState()
	r.checkInvariants()
	return r, nil
}

func (r *Raft) setMembers(ids []uint64) {
	r.members = slices.Clone(ids)
	slices.Sort(r.members)
	r.members = slices.Compact(r.members)
	for _, id := range r.members {
		if id != r.id && r.prs[id] == nil {
			r.prs[id] = progress.New(r.log.lastIndex()+1, r.cfg.MaxInflightMsgs)
		}
	}
}

// promotable reports whether this node may campaign: only members vote.
func (r *Raft) promotable() bool {
	_, ok := slices.BinarySearch(r.members, r.id)
	return ok
}

func (r *Raft) isMember(id uint64) bool {
	_, ok := slices.BinarySearch(r.members, id)
	return ok
}

func (r *Raft) quorum() int { return quorum.Majority(len(r.members)) }

func (r *Raft) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}

// SoftState is the volatile part of a node's state that callers watch.
type SoftState struct {
	Lead uint64
	Role Role
}

func (r *Raft) softState() SoftState { return SoftState{Lead: r.lead, Role: r.role} }

func (r *Raft) resetRandomizedElectionTimeout() {
	base := r.cfg.ElectionTick
	if r.term == 0 && r.cfg.FirstElectionTick > 0 {
		base = r.cfg.FirstElectionTick
	}
	r.randomizedElectionTimeout = base + r.cfg.Rand.IntN(base)
}

// reset clears what every role change clears.
func (r *Raft) reset(term uint64) {
	if r.term != term {
		r.term = term
		r.vote = None
	}
	r.lead = None
	r.electionElapsed = 0
	r.resetRandomizedElectionTimeout()
	r.leadTransferee = None
	r.committedInTerm = false
	r.uncommittedSize = 0
	r.needBroadcast = false
	clear(r.votes)
	r.reads.reset()
	r.chain.reset()
	for _, id := range r.members {
		if pr := r.prs[id]; pr != nil {
			*pr = *progress.New(r.log.lastIndex()+1, r.cfg.MaxInflightMsgs)
		}
	}
}

func (r *Raft) becomeFollower(term, lead uint64) {
	r.reset(term)
	r.role = Follower
	r.lead = lead
	r.step = stepFollower
	r.tickFn = tickElection
	r.logger.Debug("became follower", "term", term, "lead", lead)
}

func (r *Raft) becomePreCandidate() {
	// Pre-candidates keep their term and vote: nobody changes state until
	// the real election (thesis §9.6).
	r.role = PreCandidate
	r.lead = None
	r.step = stepCandidate
	r.tickFn = tickElection
	clear(r.votes)
	r.logger.Debug("became pre-candidate", "term", r.term)
}

func (r *Raft) becomeCandidate() {
	if r.role == Leader {
		panic("raft: leader cannot become candidate")
	}
	r.reset(r.term + 1)
	r.vote = r.id
	r.role = Candidate
	r.step = stepCandidate
	r.tickFn = tickElection
	r.logger.Debug("became candidate", "term", r.term)
}

func (r *Raft) becomeLeader() {
	if r.role == Follower {
		panic("raft: follower cannot become leader without an election")
	}
	r.reset(r.term)
	r.role = Leader
	r.lead = r.id
	r.step = stepLeader
	r.tickFn = tickHeartbeat
	for _, id := range r.members {
		if pr := r.prs[id]; pr != nil {
			pr.RecentActive = true // give everyone one CheckQuorum round
			pr.LastHeard = r.now
		}
	}
	r.chain.answered = r.log.committed
	r.electionCommit = r.log.committed
	// Open the term with an empty entry so earlier entries can commit by
	// counting replicas of a current-term one (§5.4.2, §8).
	r.appendEntries(Entry{Type: EntryNoop})
	r.termStart = r.log.lastIndex()
	// Announce the new term to everyone at once, eager or not.
	for _, id := range r.members {
		if id != r.id {
			r.maybeSendAppend(id, true)
		}
	}
	r.logger.Info("became leader", "term", r.term, "last", r.log.lastIndex())
}

// Role returns the node's current role.
func (r *Raft) Role() Role { return r.role }

// Leader returns the node's current belief about the leader (None if unknown).
func (r *Raft) Leader() uint64 { return r.lead }

// Term returns the node's current term.
func (r *Raft) Term() uint64 { return r.term }

// ID returns the node's ID.
func (r *Raft) ID() uint64 { return r.id }

// Tick advances the core's logical clock by one tick.
func (r *Raft) Tick() {
	r.guard()
	r.now++
	r.tickFn(r)
	r.checkInvariants()
}

func (r *Raft) guard() {
	if r.inReady {
		panic("raft: called between Ready and Advance")
	}
}

// tickElection is the tick function of followers and candidates.
func tickElection(r *Raft) {
	r.electionElapsed++
	r.tickChainAck()
	if rt := r.cfg.RetransmitTicks; rt > 0 && r.electionElapsed%rt == 0 &&
		(r.role == PreCandidate || r.role == Candidate) && r.voteResends < maxVoteResends {
		r.voteResends++
		r.requestVotes()
	}
	if r.promotable() && r.electionElapsed >= r.randomizedElectionTimeout {
		r.electionElapsed = 0
		r.hup(false)
	}
}

// hup starts an election, through a pre-election when PreVote is on and
// the election is not a leadership transfer.
func (r *Raft) hup(transfer bool) {
	if r.role == Leader || !r.promotable() {
		return
	}
	if r.log.pendingSnapshot != nil {
		// Campaigning before the snapshot is persisted could win with a
		// log that exists only in memory.
		return
	}
	if r.cfg.PreVote && !transfer {
		r.campaign(MsgPreVote, false)
	} else {
		r.campaign(MsgVote, transfer)
	}
}

func (r *Raft) campaign(kind MessageType, force bool) {
	if kind == MsgPreVote {
		r.becomePreCandidate()
	} else {
		r.becomeCandidate()
	}
	if res := r.poll(r.id, true); res == quorum.Won {
		// A single-member cluster wins at once.
		if kind == MsgPreVote {
			r.campaign(MsgVote, force)
		} else {
			r.becomeLeader()
		}
		return
	}
	r.campaignForce = force
	r.voteResends = 0
	r.requestVotes()
}

// maxVoteResends bounds the resends of one election: enough that losing
// every copy is rare (four tries that each fail 28% of the time, at 15%
// loss each way: under 1%), few enough that a node cut off by a partition
// does not keep the network busy.
const maxVoteResends = 3

// requestVotes asks every member that has not answered the running
// (pre-)election for its vote: all of them when the campaign starts, the
// silent ones on a resend. Asking twice is harmless: a voter answers the
// same request the same way, and a granted vote is granted again. A
// pre-vote asks for the term the node would campaign at.
func (r *Raft) requestVotes() {
	kind, term := MsgVote, r.term
	if r.role == PreCandidate {
		kind, term = MsgPreVote, r.term+1
	}
	for _, id := range r.members {
		if _, answered := r.votes[id]; answered || id == r.id {
			continue
		}
		r.send(Message{Type: kind, To: id, Term: term, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm(), Force: r.campaignForce})
	}
}

// poll records a vote and returns the election's outcome so far.
func (r *Raft) poll(id uint64, granted bool) quorum.Result {
	if _, seen := r.votes[id]; !seen {
		r.votes[id] = granted
	}
	g, rej := 0, 0
	for _, m := range r.members {
		if v, ok := r.votes[m]; ok {
			if v {
				g++
			} else {
				rej++
			}
		}
	}
	return quorum.Tally(len(r.members), g, rej)
}

// inLease reports whether this node believes a leader is alive, in which
// case it refuses to help depose it (CheckQuorum, thesis §6.2 and §9.6).
func (r *Raft) inLease() bool {
	if !r.cfg.CheckQuorum {
		return false
	}
	if r.role == Leader {
		return true
	}
	if r.lastLeaderContact == 0 {
		return false
	}
	return r.now-r.lastLeaderContact < uint64(r.cfg.ElectionTick)
}

// Step feeds the core one message from a peer.
func (r *Raft) Step(m Message) error {
	r.guard()
	if err := r.stepMsg(m); err != nil {
		return err
	}
	r.checkInvariants()
	return nil
}

// errDropped marks messages the core ignores on purpose.
var errDropped = errors.New("raft: message dropped")

func (r *Raft) stepMsg(m Message) error {
	if !m.Type.Valid() {
		return fmt.Errorf("raft: step: %w: unknown type %d", errDropped, m.Type)
	}
	if m.To != r.id {
		return fmt.Errorf("raft: step %s: %w: addressed to %d", DescribeMessage(m), errDropped, m.To)
	}
	if m.From == None || m.From == r.id {
		return fmt.Errorf("raft: step %s: %w: bad sender", DescribeMessage(m), errDropped)
	}
	if !r.isMember(m.From) {
		return fmt.Errorf("raft: step %s: %w: %d is not a member", DescribeMessage(m), ErrUnknownPeer, m.From)
	}
	switch {
	case m.Term > r.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			if !m.Force && r.inLease() {
				// A live leader exists as far as we know: neither grant nor
				// adopt the higher term, so a partitioned node rejoining
				// cannot depose a healthy leader. No answer, on purpose: a
				// rejection would make the pre-candidate give up until its
				// next election timeout, while silence lets it ask again
				// (RetransmitTicks) once this lease has run out, which after
				// a leader's death is a few ticks later (DESIGN.md "Lost
				// vote requests").
				return nil
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// Never change term on a pre-vote request.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// A granted pre-vote echoes the term we would campaign at.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			r.becomeFollower(m.Term, leaderOf(m))
		default:
			r.becomeFollower(m.Term, None)
		}
	case m.Term < r.term:
		switch {
		case (r.cfg.CheckQuorum || r.cfg.PreVote) && (m.Type == MsgHeartbeat || m.Type == MsgApp):
			// A stale leader cut off for a while: tell it our term so it
			// steps down rather than retrying forever.
			r.send(Message{To: leaderOf(m), Type: MsgAppResp})
		case m.Type == MsgPreVote:
			r.send(Message{To: m.From, Type: MsgPreVoteResp, Reject: true})
		}
		return nil
	}

	switch m.Type {
	case MsgVote, MsgPreVote:
		r.handleVoteRequest(m)
	default:
		r.step(r, m)
	}
	return nil
}

// leaderOf returns the leader that originated a leader message.
func leaderOf(m Message) uint64 {
	if m.Lead != None {
		return m.Lead
	}
	return m.From
}

func (r *Raft) handleVoteRequest(m Message) {
	canVote := r.vote == m.From ||
		(r.vote == None && r.lead == None) ||
		(m.Type == MsgPreVote && m.Term > r.term)
	upToDate := r.log.isUpToDate(m.Index, m.LogTerm) || r.cfg.Testing.SkipElectionRestriction
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	if canVote && upToDate {
		// Answer at the request's term, so a pre-candidate counts it.
		r.send(Message{To: m.From, Type: resp, Term: m.Term})
		if m.Type == MsgVote {
			r.electionElapsed = 0
			r.vote = m.From
		}
		return
	}
	r.send(Message{To: m.From, Type: resp, Term: r.term, Reject: true})
}

func stepFollower(r *Raft, m Message) {
	switch m.Type {
	case MsgApp:
		r.noteLeaderContact(m)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.noteLeaderContact(m)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.noteLeaderContact(m)
		r.handleSnapshot(m)
	case MsgTimeoutNow:
		r.logger.Info("leadership transfer: campaigning at once", "from", m.From, "term", r.term)
		r.hup(true)
	}
}

func (r *Raft) noteLeaderContact(m Message) {
	r.electionElapsed = 0
	r.lastLeaderContact = r.now
	r.lead = leaderOf(m)
}

func stepCandidate(r *Raft, m Message) {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// A leader of our term exists: we lost.
		r.becomeFollower(m.Term, leaderOf(m))
		stepFollower(r, m)
	case MsgPreVoteResp:
		if r.role != PreCandidate {
			return
		}
		switch r.poll(m.From, !m.Reject) {
		case quorum.Won:
			r.campaign(MsgVote, false)
		case quorum.Lost:
			r.becomeFollower(r.term, None)
		}
	case MsgVoteResp:
		if r.role != Candidate {
			return
		}
		switch r.poll(m.From, !m.Reject) {
		case quorum.Won:
			r.becomeLeader()
		case quorum.Lost:
			r.becomeFollower(r.term, None)
		}
	}
}

// send queues a message for the next Ready. It fills in From and, unless
// given, the current term; leader messages get a sequence number.
func (r *Raft) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		if m.Lead == None || m.Lead == r.id {
			m.Seq = r.nextSeq()
			m.Lead = None
		}
	case MsgAppResp:
		// One acknowledgement supersedes an earlier one still queued for
		// the same leader: fewer messages, same information.
		if n := len(r.msgs); n > 0 && !m.Reject && len(m.Chain) == 0 {
			last := &r.msgs[n-1]
			if last.Type == MsgAppResp && !last.Reject && len(last.Chain) == 0 &&
				last.To == m.To && last.Term == m.Term && last.Index <= m.Index {
				*last = m
				return
			}
		}
	}
	r.msgs = append(r.msgs, m)
}

const seqTickShift = 24

// nextSeq returns a fresh, strictly increasing leader sequence number whose
// high bits are the current tick. If 2^24 messages go out in one tick the
// counter saturates: later messages repeat a seq, which only delays reads.
func (r *Raft) nextSeq() uint64 {
	if r.seqTick != r.now {
		r.seqTick, r.seqN = r.now, 0
	}
	if r.seqN < 1<<seqTickShift-1 {
		r.seqN++
	}
	return r.now<<seqTickShift | r.seqN
}

func seqTick(seq uint64) uint64 { return seq >> seqTickShift }

// splitMix is the fallback randomness: deterministic per node ID.
type splitMix struct{ s uint64 }

func newSplitMix(seed uint64) *splitMix { return &splitMix{s: seed} }

func (g *splitMix) IntN(n int) int {
	g.s += 0x9e3779b97f4a7c15
	z := g.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}
