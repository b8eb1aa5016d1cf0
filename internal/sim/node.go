package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/raftkv/raftkv/internal/node"
	"github.com/raftkv/raftkv/internal/raft"
)

// simNode is one simulated server: the production driver over a simulated
// disk, network and clock. It implements the driver's Storage, Transport
// and Listener.
type simNode struct {
	c  *Cluster
	id uint64
	up bool
	// incarnation counts restarts; crashedAt[i] is when incarnation i
	// ended (messages it meant to send later never left).
	incarnation int
	crashedAt   []Time
	drv         *node.Driver
	kv          *kvStore
	disk        disk
	// busyUntil: the node is inside a Ready waiting for an fsync, or
	// paused; input waits in inbox and ticks accumulate.
	busyUntil    Time
	wakePending  bool
	inbox        []func()
	pendingTicks int
	// outAt is when the output of the Ready being handled leaves: after
	// its fsync completes.
	outAt Time
	soft  raft.SoftState
	// waiters are the client requests this node took, by (client, req).
	waiters map[reqKey]bool
	// reads are registered reads by context.
	reads   map[uint64]*clientReq
	nextCtx uint64
	// chain hashes of the node's written log, for the log matching check.
	logBase  uint64
	logChain []uint64
}

type reqKey struct{ client, req uint64 }

func (n *simNode) config() node.Config {
	o := n.c.opt
	seed := uint64(n.c.opt.Seed)
	rc := raft.Config{
		ID: n.id, Peers: n.c.ids(), ElectionTick: o.ElectionTick, HeartbeatTick: o.HeartbeatTick,
		FirstElectionTick: o.FirstElectionTick,
		PreVote:           !o.DisablePreVote, CheckQuorum: !o.DisableCheckQuorum, CheckInvariants: true,
		MaxEntriesPerMsg: o.MaxEntriesPerMsg, MaxInflightMsgs: o.MaxInflight,
		RetransmitTicks: o.RetransmitTicks, EagerFollowers: o.EagerFollowers,
		Chain: o.Chain, ChainAckDelayTicks: o.ChainAckDelayTicks,
		ChainFirstRetransmitTicks: o.ChainFirstRetransmitTicks,
		Rand:                      rand.New(rand.NewPCG(seed, n.id<<32|uint64(n.incarnation))),
		Testing:                   o.Knobs,
	}
	return node.Config{Raft: rc, Storage: n, Transport: n, StateMachine: n.kv, Listener: n, SnapshotEvery: o.SnapshotEvery}
}

// start boots a new incarnation from the disk.
func (n *simNode) start() error {
	n.kv = newKV()
	st := n.disk.recover()
	if st.Snapshot != nil {
		if err := n.kv.Restore(st.Snapshot.Data); err != nil {
			return fmt.Errorf("node %d: restore snapshot: %w", n.id, err)
		}
	}
	drv, err := node.NewDriver(n.config(), st)
	if err != nil {
		return fmt.Errorf("node %d: %w", n.id, err)
	}
	n.drv = drv
	n.up = true
	n.busyUntil = n.c.sched.now
	n.soft = raft.SoftState{Role: raft.Follower}
	n.waiters = map[reqKey]bool{}
	n.reads = map[uint64]*clientReq{}
	n.rebuildChain(st)
	n.c.check.nodeStarted(n, st)
	return nil
}

func (n *simNode) crash() {
	if !n.up {
		return
	}
	now := n.c.sched.now
	n.up = false
	n.crashedAt = append(n.crashedAt, now)
	n.incarnation++
	n.disk.crash(now, n.c.opt.LoseUnsynced)
	n.drv, n.kv = nil, nil
	n.inbox, n.pendingTicks = nil, 0
	n.wakePending = false
	n.c.tracef(now, n.id, "CRASH (disk keeps snapshot %d, %d entries)", snapIndex(n.disk.durable.snap), len(n.disk.durable.ents))
}

// sentBeforeCrash reports whether output of incarnation inc stamped at
// time at actually left the node.
func (n *simNode) sentBeforeCrash(inc int, at Time) bool {
	if inc == n.incarnation && n.up {
		return true
	}
	return inc < len(n.crashedAt) && at <= n.crashedAt[inc]
}

func snapIndex(s *raft.Snapshot) uint64 {
	if s == nil {
		return 0
	}
	return s.Meta.Index
}

// enqueue runs fn now, or when the node is free again.
func (n *simNode) enqueue(fn func()) {
	if !n.up {
		return
	}
	n.inbox = append(n.inbox, fn)
	n.kick()
}

func (n *simNode) tick() {
	if !n.up {
		return
	}
	n.pendingTicks++
	n.kick()
}

// pause makes the node unresponsive for d, as a long GC pause or a stopped
// process would: its clock does not advance meanwhile.
func (n *simNode) pause(d Time) {
	if !n.up {
		return
	}
	n.busyUntil = max(n.busyUntil, n.c.sched.now+d)
	n.c.tracef(n.c.sched.now, n.id, "PAUSE for %s", d)
	n.kick()
}

func (n *simNode) kick() {
	now := n.c.sched.now
	if now < n.busyUntil {
		if !n.wakePending {
			n.wakePending = true
			inc := n.incarnation
			n.c.sched.at(n.busyUntil, func() {
				if n.incarnation == inc && n.up {
					n.wakePending = false
					n.kick()
				}
			})
		}
		return
	}
	n.run()
}

// run drains pending input and Readies until the node must wait for a
// sync. Ticks that accrued while busy run first, so that after a pause the
// core's clock has caught up before it serves anything (lease safety).
func (n *simNode) run() {
	for n.up {
		for n.pendingTicks > 0 && n.up {
			n.pendingTicks--
			n.drv.Tick()
		}
		if len(n.inbox) > 0 {
			fn := n.inbox[0]
			n.inbox = n.inbox[1:]
			fn()
			continue
		}
		now := n.c.sched.now
		n.outAt = now
		did, err := n.drv.HandleReady()
		if err != nil {
			n.c.fail(fmt.Errorf("node %d: %w", n.id, err))
			return
		}
		if !did {
			return
		}
		if n.outAt > now {
			n.busyUntil = n.outAt
			n.kick()
			return
		}
	}
}

// Save implements node.Storage on the simulated disk.
func (n *simNode) Save(hs raft.HardState, ents []raft.Entry, sync bool) error {
	now := n.c.sched.now
	done := now
	if sync {
		done = now + n.c.opt.FsyncLatency
		n.outAt = max(n.outAt, done)
	}
	if len(ents) > 0 {
		n.c.check.logWritten(n, ents)
	}
	n.disk.add(write{hs: hs, ents: slices.Clone(ents)}, now, done, sync)
	return nil
}

// SaveSnapshot implements node.Storage; snapshots are always synced.
func (n *simNode) SaveSnapshot(s raft.Snapshot) error {
	now := n.c.sched.now
	done := now + n.c.opt.FsyncLatency
	n.outAt = max(n.outAt, done)
	n.disk.add(write{snap: &s}, now, done, true)
	n.c.check.snapshotWritten(n, &s)
	return nil
}

// Send implements node.Transport.
func (n *simNode) Send(msgs []raft.Message) {
	for _, m := range msgs {
		n.c.net.send(m, n.outAt, n.incarnation)
	}
}

// Applied implements node.Listener: it answers the client when this node
// is the one to (by ack, or because the client asked this node).
func (n *simNode) Applied(e raft.Entry, result any, ack bool) {
	// The driver applies right after Save returns; in virtual time the
	// fsync ends at outAt, so the apply takes effect then, and not at all
	// if the node crashes first (like everything else it outputs).
	at, inc, term := n.outAt, n.incarnation, n.drv.Raft().Term()
	register := func() {
		if !n.sentBeforeCrash(inc, at) {
			return
		}
		n.c.check.applied(n, e, term)
		if e.Type == raft.EntryNormal && e.ClientID != 0 {
			n.c.check.appliedOnce(n, reqKey{e.ClientID, e.RequestID}, e.Index, result.(putResult))
		}
	}
	if at > n.c.sched.now {
		n.c.sched.at(at, register)
	} else {
		register()
	}
	if e.Type != raft.EntryNormal || e.ClientID == 0 {
		return
	}
	res := result.(putResult)
	k := reqKey{e.ClientID, e.RequestID}
	if res.Stale {
		return
	}
	waited := n.waiters[k]
	delete(n.waiters, k)
	if ack {
		n.c.stats.AckReplies++
		n.c.tracef(n.c.sched.now, n.id, "ACK %s", raft.DescribeEntry(e))
		n.c.check.acked(k)
	}
	if (n.c.opt.ReplyByAck && ack) || (!n.c.opt.ReplyByAck && waited) {
		n.c.replyPut(n, e.ClientID, e.RequestID, res.Index)
	}
}

// ReadReady implements node.Listener.
func (n *simNode) ReadReady(ctx uint64) {
	req := n.reads[ctx]
	if req == nil {
		return
	}
	delete(n.reads, ctx)
	n.c.replyGet(n, req, n.kv.Data[req.key])
}

// SoftStateChanged implements node.Listener.
func (n *simNode) SoftStateChanged(s raft.SoftState) {
	n.soft = s
	n.c.tracef(n.c.sched.now, n.id, "now %s, leader %d, term %d", s.Role, s.Lead, n.drv.Raft().Term())
	if s.Role == raft.Leader {
		n.c.check.becameLeader(n)
	}
	if s.Role != raft.Leader {
		// Reads registered as leader will never be confirmed: the client
		// times out and retries elsewhere.
		clear(n.reads)
	}
}

// handleRequest serves a client request arriving at this node.
func (n *simNode) handleRequest(req *clientReq) {
	c := n.c
	r := n.drv.Raft()
	if r.Role() != raft.Leader {
		c.replyRedirect(n, req, r.Leader())
		return
	}
	if req.get {
		n.nextCtx++
		mode := raft.ReadIndexSafe
		if c.opt.LeaseReads && c.rng.IntN(2) == 0 {
			mode = raft.ReadLease
		}
		if err := n.drv.ReadIndex(n.nextCtx, mode); err != nil {
			c.replyRedirect(n, req, r.Leader())
			return
		}
		n.reads[n.nextCtx] = req
		return
	}
	_, _, err := n.drv.Propose(raft.Proposal{ClientID: req.client, RequestID: req.req, Data: encodePut(req.key, req.value)})
	if err != nil {
		c.replyRedirect(n, req, r.Leader())
		return
	}
	n.waiters[reqKey{req.client, req.req}] = true
}
