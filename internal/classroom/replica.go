// Package classroom is the replica of the classroom protocol: the program
// the course's network simulator starts as `3700kvstore <port> <id> <peers>`
// (see docs/classroom-simulator.md). It runs the same Raft core and driver
// as the server, over the UDP/JSON transport and in-memory storage, and adds
// the classroom's own rules for answering clients:
//
//   - a put is answered by the one replica that establishes it committed
//     (the tail of the replication chain, raft.Ready.Acks), with the client's
//     ID and MID carried in the log entry;
//   - a get is answered by the leader from its state under its lease, at
//     once unless a write to the same key is still in flight;
//   - a request is never answered twice, and never answered "ok" after
//     "redirect": a redirect for a put the leader took is sent only once the
//     log holds another entry at its index, committed, so it can never apply;
//   - a new leader answers the puts it inherited from a failed leader that
//     no live replica reports having answered.
//
// The Replica is single-threaded and has no I/O of its own: the caller feeds
// it datagrams and ticks and it writes through a Sender, so it can be
// tested, and run, deterministically.
package classroom

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/raftkv/raftkv/internal/node"
	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport/udpjson"
)

// Sender writes datagrams to the simulator.
type Sender interface {
	// Send writes Raft messages, each stamped with the leader we believe in.
	Send(msgs []raft.Message, leader udpjson.ID) error
	// SendClient writes a reply to a client.
	SendClient(d udpjson.Datagram) error
}

// Config configures a replica. Zero values get the defaults noted; the
// defaults are tuned for the classroom scoring (DESIGN.md).
type Config struct {
	Self  udpjson.ID
	Peers []udpjson.ID // the other replicas
	// ElectionTick, FirstElectionTick, HeartbeatTick, RetransmitTicks and
	// AckDelayTicks are in ticks of the caller's clock (1 ms in
	// cmd/3700kvstore); see raft.Config. AckDelayTicks defaults to 0: a
	// chain's tail tells the leader at once, which lets the leader serve
	// reads of the key sooner and keeps the replication traffic above the
	// classroom's floor (DESIGN.md).
	ElectionTick      int
	FirstElectionTick int
	HeartbeatTick     int
	RetransmitTicks   int
	AckDelayTicks     int
	// FirstRetransmitTicks is raft's ChainFirstRetransmitTicks: the one
	// early resend of a chain append the tail has not answered. Default
	// 10, a few dozen chain round trips; negative turns it off.
	FirstRetransmitTicks int
	// InheritWaitTicks bounds how long a new leader waits to hear from
	// every follower before answering inherited puts.
	InheritWaitTicks int
	// FanOut replicates to every follower and lets the leader answer,
	// instead of chain replication (for comparison runs).
	FanOut bool
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.ElectionTick == 0 {
		c.ElectionTick = 3000
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = 1000
	}
	if c.RetransmitTicks == 0 {
		c.RetransmitTicks = 100
	}
	if c.FirstRetransmitTicks == 0 {
		c.FirstRetransmitTicks = 10
	}
	if c.FirstElectionTick == 0 {
		c.FirstElectionTick = 150
	}
	if c.InheritWaitTicks == 0 {
		c.InheritWaitTicks = 200
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

type cmdKey struct {
	client udpjson.ID
	mid    string
}

// pendingPut is a put this replica took as leader.
type pendingPut struct {
	cmd  udpjson.Command
	term uint64
}

// getReq is a get waiting for the last write to its key to be applied
// and acknowledged.
type getReq struct {
	cmd udpjson.Command
}

// Replica is one classroom replica. It is not safe for concurrent use.
type Replica struct {
	cfg  Config
	self udpjson.ID
	out  Sender
	drv  *node.Driver
	log  *slog.Logger

	data map[string]string
	// done holds every put applied, so a repeated one is not applied twice.
	done map[cmdKey]bool
	// answered holds every request this replica answered.
	answered map[cmdKey]bool
	// pending holds puts this replica proposed, by log index.
	pending map[uint64]pendingPut
	// lastWrite is, per key, the last log index whose entry writes it.
	lastWrite map[string]uint64
	// waiting are leader gets waiting for a write to their key to apply;
	// reads are gets waiting for a ReadIndex round (no lease).
	waiting []getReq
	reads   map[uint64]udpjson.Command
	nextCtx uint64

	now  uint64 // ticks
	soft raft.SoftState
	// lastLead is the last leader seen, in term lastLeadTerm (leaderID).
	lastLead, lastLeadTerm uint64
	// outbox holds the Raft messages of the Ready being handled.
	outbox []raft.Message
	// sent counts Raft messages sent, by type; redirects counts redirect
	// replies. Both may be read from another goroutine (SentCounts).
	sent      [16]atomic.Uint64
	redirects atomic.Uint64
	// A new leader's record of what it inherited.
	leaderSince      uint64
	commitAtElection uint64
	// inherited are puts of earlier terms this leader applied and has not
	// decided about yet; reads of their keys wait (canRead).
	inherited      []udpjson.Command
	inheritedIndex []uint64
	// inheritKeys counts, per key, the entries of earlier terms past the
	// commit index this leader found in its log when elected; inheritEnd
	// is the last of them. Until it has decided about them, new puts to
	// those keys wait in heldPuts: their answers must not overtake the
	// inherited puts' answers, or a client would see writes acknowledged
	// out of order.
	inheritKeys map[string]int
	inheritEnd  uint64
	heldPuts    []udpjson.Command
}

// New returns a replica ready to run.
func New(cfg Config, out Sender) (*Replica, error) {
	cfg.defaults()
	ids := []uint64{udpjson.RaftID(cfg.Self)}
	for _, p := range cfg.Peers {
		ids = append(ids, udpjson.RaftID(p))
	}
	r := &Replica{
		cfg: cfg, self: cfg.Self, out: out, log: cfg.Logger,
		data: map[string]string{}, done: map[cmdKey]bool{}, answered: map[cmdKey]bool{},
		pending: map[uint64]pendingPut{}, lastWrite: map[string]uint64{}, reads: map[uint64]udpjson.Command{},
		inheritKeys: map[string]int{},
	}
	rc := raft.Config{
		ID: udpjson.RaftID(cfg.Self), Peers: ids,
		ElectionTick: cfg.ElectionTick, HeartbeatTick: cfg.HeartbeatTick,
		FirstElectionTick: cfg.FirstElectionTick,
		PreVote:           true, CheckQuorum: true,
		RetransmitTicks: cfg.RetransmitTicks,
		// Datagrams hold 64 KiB: keep each append well under.
		MaxBytesPerMsg: 24 << 10,
		Logger:         cfg.Logger,
	}
	if !cfg.FanOut {
		rc.EagerFollowers = len(ids) / 2 // a majority with the leader
		rc.Chain = true
		rc.ChainAckDelayTicks = cfg.AckDelayTicks
		rc.ChainFirstRetransmitTicks = max(cfg.FirstRetransmitTicks, 0)
	}
	drv, err := node.NewDriver(node.Config{
		Raft: rc, Storage: r, Transport: r, StateMachine: r, Listener: r, Logger: cfg.Logger,
	}, raft.State{})
	if err != nil {
		return nil, fmt.Errorf("classroom: %w", err)
	}
	r.drv = drv
	return r, nil
}

// leaderID is the replica's belief about the leader, for the "leader"
// field of everything it sends and for redirects: the leader it follows,
// or else the last leader it knew of in its current term. A follower that
// stops hearing from its leader starts a pre-vote but keeps its term, and
// no other leader can exist in that term, so naming that leader is still
// the best answer; a minority cut off by a partition would otherwise
// announce "no leader" with every pre-vote, and the simulator, which learns
// the leader from these fields, would aim its next partition or kill at a
// guess.
func (r *Replica) leaderID() udpjson.ID {
	rf := r.drv.Raft()
	lead, term := rf.Leader(), rf.Term()
	if lead != raft.None {
		r.lastLead, r.lastLeadTerm = lead, term
	} else if term == r.lastLeadTerm && r.lastLead != rf.ID() {
		// (A deposed leader does not name itself: clients it redirected
		// would come straight back.)
		lead = r.lastLead
	}
	id, err := udpjson.ClassroomID(lead)
	if err != nil {
		return udpjson.Broadcast
	}
	return id
}

func (r *Replica) isLeader() bool { return r.drv.Raft().Role() == raft.Leader }

// SentCounts returns how many Raft messages of each type the replica sent,
// and how many redirects it answered: what the classroom simulator counts
// and what floods it. Safe to call from any goroutine.
func (r *Replica) SentCounts() (map[string]uint64, uint64) {
	out := map[string]uint64{}
	for t := range r.sent {
		if n := r.sent[t].Load(); n > 0 {
			out[raft.MessageType(t).String()] = n
		}
	}
	return out, r.redirects.Load()
}

// Tick advances the replica's clock by one tick.
func (r *Replica) Tick() {
	r.now++
	r.drv.Tick()
}

// Handle acts on one datagram. Call Flush afterwards.
func (r *Replica) Handle(d udpjson.Datagram) {
	switch {
	case d.Type == udpjson.TypeRaft:
		if err := r.drv.Step(d.Raft); err != nil {
			r.log.Debug("dropped raft message", "msg", raft.DescribeMessage(d.Raft), "err", err)
		}
	case d.Type.IsRequest():
		cmd, err := udpjson.CommandOf(&d)
		if err != nil {
			r.log.Warn("dropped malformed request", "err", err)
			return
		}
		r.request(cmd)
	}
}

func (r *Replica) request(cmd udpjson.Command) {
	k := cmdKey{cmd.Client, cmd.MID}
	if r.answered[k] {
		return
	}
	if !r.isLeader() {
		// A follower keeps nothing of a request it redirects: it never
		// answers it again, and during elections clients send thousands.
		r.redirects.Add(1)
		d := cmd.Reply(udpjson.TypeRedirect, r.leaderID(), "")
		if err := r.out.SendClient(d); err != nil {
			r.log.Warn("reply failed", "err", err)
		}
		return
	}
	if cmd.Op == udpjson.OpGet {
		r.get(cmd)
		return
	}
	if r.done[k] {
		// Already applied (a copy of a request we answered elsewhere).
		r.reply(cmd, udpjson.TypeOK, "")
		return
	}
	if r.inheritKeys[cmd.Key] > 0 {
		r.heldPuts = append(r.heldPuts, cmd)
		return
	}
	p, err := cmd.Proposal()
	if err != nil {
		r.log.Warn("dropped unencodable put", "err", err)
		return
	}
	_, last, err := r.drv.Propose(p)
	if err != nil {
		// Not leader after all, or handing over: the client retries.
		r.reply(cmd, udpjson.TypeRedirect, "")
		return
	}
	r.pending[last] = pendingPut{cmd: cmd, term: r.drv.Raft().Term()}
	r.lastWrite[cmd.Key] = max(r.lastWrite[cmd.Key], last)
}

// get serves a read on the leader: under a valid lease at once, unless a
// write to the key is still in flight, in which case when it has applied;
// without a lease, after a ReadIndex round.
func (r *Replica) get(cmd udpjson.Command) {
	core := r.drv.Raft()
	if core.LeaseValid() {
		if r.canRead(cmd.Key) {
			r.reply(cmd, udpjson.TypeOK, r.data[cmd.Key])
			return
		}
		r.waiting = append(r.waiting, getReq{cmd: cmd})
		return
	}
	r.nextCtx++
	if err := r.drv.ReadIndex(r.nextCtx, raft.ReadIndexSafe); err != nil {
		r.reply(cmd, udpjson.TypeRedirect, "")
		return
	}
	r.reads[r.nextCtx] = cmd
}

// canRead reports whether a read of key may be served now: the last write
// to it is applied here and its client has been answered, by a chain's
// tail or, for a put inherited from a failed leader, by us. A client must
// never see a write before the write's own acknowledgement.
func (r *Replica) canRead(key string) bool {
	if !r.readable(r.lastWrite[key]) {
		return false
	}
	for _, in := range r.inherited {
		if in.Key == key {
			return false
		}
	}
	return true
}

// readable reports whether a read may reflect the log up to index: the
// entry there is applied here and its client has been answered. A client
// must never see a write before the write's own acknowledgement.
func (r *Replica) readable(index uint64) bool {
	return index <= r.drv.Applied() && index <= r.drv.Raft().AckedIndex()
}

// reply answers a client once. An ok is final; a redirect is sent only for
// requests that did not and will not apply.
func (r *Replica) reply(cmd udpjson.Command, typ udpjson.Type, value string) {
	k := cmdKey{cmd.Client, cmd.MID}
	if r.answered[k] {
		return
	}
	r.answered[k] = true
	if typ == udpjson.TypeRedirect {
		r.redirects.Add(1)
	}
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.log.Debug("reply", "type", typ.String(), "mid", cmd.MID, "client", cmd.Client.String(), "key", cmd.Key,
			"value", value, "op", string(cmd.Op), "applied", r.drv.Applied(), "term", r.drv.Raft().Term())
	}
	d := cmd.Reply(typ, r.leaderID(), value)
	if err := r.out.SendClient(d); err != nil {
		r.log.Warn("reply failed", "err", err)
	}
}

// Flush processes every batch of work the core has.
func (r *Replica) Flush() error {
	for {
		did, err := r.drv.HandleReady()
		if err != nil {
			return fmt.Errorf("classroom: %w", err)
		}
		r.sendOutbox()
		if !did {
			break
		}
	}
	r.serveWaiting()
	r.answerInherited()
	return nil
}

func (r *Replica) serveWaiting() {
	if len(r.waiting) == 0 {
		return
	}
	keep := r.waiting[:0]
	for _, g := range r.waiting {
		// The key's state now, not when the get queued: a newer write
		// applied meanwhile must be acknowledged before a read shows it.
		if r.canRead(g.cmd.Key) {
			r.reply(g.cmd, udpjson.TypeOK, r.data[g.cmd.Key])
		} else {
			keep = append(keep, g)
		}
	}
	r.waiting = keep
}

// answerInherited answers, once every follower has been heard from (or a
// bound passed), the puts of earlier terms this leader committed that no
// live replica had known committed: those the failed leader's chain never
// acknowledged.
func (r *Replica) answerInherited() {
	if len(r.inheritKeys) == 0 || !r.isLeader() || r.drv.Applied() < r.inheritEnd {
		return
	}
	st := r.drv.Raft().Status()
	watermark := r.commitAtElection
	all := true
	for _, p := range st.Peers {
		if !p.Heard {
			all = false
			continue
		}
		watermark = max(watermark, p.FirstCommit)
	}
	if !all && r.now-r.leaderSince < uint64(r.cfg.InheritWaitTicks) {
		return
	}
	for i, cmd := range r.inherited {
		if r.inheritedIndex[i] > watermark {
			r.reply(cmd, udpjson.TypeOK, "")
		}
	}
	r.inherited, r.inheritedIndex = nil, nil
	clear(r.inheritKeys)
	r.serveWaiting()
	held := r.heldPuts
	r.heldPuts = nil
	for _, cmd := range held {
		r.request(cmd)
	}
}
