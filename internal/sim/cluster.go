package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/raftkv/raftkv/internal/raft"
)

// Options configure a simulated cluster. Zero values get the defaults noted.
type Options struct {
	// Seed drives every random choice of the run.
	Seed int64
	// Nodes is the cluster size. Default 5.
	Nodes int
	// Tick is the virtual time between ticks of each node. Default 10ms.
	Tick Time
	// ElectionTick and HeartbeatTick configure the cores. Defaults 30, 5.
	ElectionTick, HeartbeatTick int
	// FirstElectionTick, as in raft.Config: a fresh cluster's quick first
	// election.
	FirstElectionTick int
	// DisablePreVote and DisableCheckQuorum turn those features off.
	DisablePreVote, DisableCheckQuorum bool
	// LeaseReads lets half of the reads use the leader lease.
	LeaseReads bool
	// Replication, as in raft.Config.
	EagerFollowers     int
	Chain              bool
	ChainAckDelayTicks int
	RetransmitTicks    int
	// ChainFirstRetransmitTicks, as in raft.Config.
	ChainFirstRetransmitTicks int
	MaxEntriesPerMsg          int
	MaxInflight               int
	// SnapshotEvery compacts each node's log after so many applied entries.
	SnapshotEvery uint64
	// Net describes the network's faults.
	Net NetOptions
	// FsyncLatency is how long an fsync takes. Default 1ms.
	FsyncLatency Time
	// LoseUnsynced makes a crash lose writes not yet synced.
	LoseUnsynced bool
	// ReplyByAck answers clients from the node the core names in
	// Ready.Acks (the classroom's way) instead of the node that took the
	// request (the server's way).
	ReplyByAck bool
	// Clients shape the workload.
	Clients ClientOptions
	// Knobs break the protocol on purpose (checker tests only).
	Knobs raft.TestingKnobs
	// Trace records every event as a line of text.
	Trace bool
}

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Tick == 0 {
		o.Tick = Time(10 * time.Millisecond)
	}
	if o.ElectionTick == 0 {
		o.ElectionTick = 30
	}
	if o.HeartbeatTick == 0 {
		o.HeartbeatTick = 5
	}
	if o.FsyncLatency == 0 {
		o.FsyncLatency = Time(time.Millisecond)
	}
	if o.Net.MaxDelay == 0 {
		o.Net.MinDelay, o.Net.MaxDelay = Time(time.Millisecond), Time(5*time.Millisecond)
	}
	if o.Clients.Keys == 0 {
		o.Clients.Keys = 5
	}
	if o.Clients.Timeout == 0 {
		o.Clients.Timeout = Time(400 * time.Millisecond)
	}
}

// Stats count what happened in a run.
type Stats struct {
	Ops, Completed, Retries, Redirects, LateReplies int
	// AckReplies counts acknowledgements by the node Ready.Acks named;
	// DuplicateAcks counts requests acknowledged by more than one node.
	AckReplies, DuplicateAcks int
	// Deduplicated counts applications the state machine recognised as
	// retries of a request that had already taken effect.
	Deduplicated                           int
	Crashes, Partitions, Pauses, Transfers int
	Events                                 uint64
}

// Cluster is a whole simulated cluster on virtual time. Every method must
// be called from the goroutine that created it; nothing runs concurrently.
type Cluster struct {
	opt     Options
	rng     *rand.Rand
	sched   scheduler
	nodes   []*simNode
	net     *network
	clients []*client
	check   *checker
	history []porcupine.Operation
	stats   Stats
	trace   bytes.Buffer
	err     error
	// stopClients stops clients from starting new operations.
	stopClients bool
	// maxEvents bounds a run: a message storm or livelock fails with its
	// seed instead of hanging the test. 0 means no bound.
	maxEvents uint64
}

// New builds a cluster and boots every node.
func New(opt Options) (*Cluster, error) {
	opt.defaults()
	c := &Cluster{opt: opt, rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed))}
	c.nodes = make([]*simNode, opt.Nodes)
	for i := range c.nodes {
		c.nodes[i] = &simNode{c: c, id: uint64(i + 1)}
	}
	c.net = newNetwork(c, opt.Nodes, opt.Net)
	c.check = newChecker(c)
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			return nil, err
		}
		// Stagger the nodes' clocks so they do not tick in lockstep.
		n := n
		c.sched.after(Time(c.rng.Int64N(int64(opt.Tick))), func() { c.tickLoop(n) })
	}
	for i := 0; i < opt.Clients.Clients; i++ {
		cl := &client{c: c, id: clientIDBase + uint64(i), index: i, budget: opt.Clients.Ops}
		c.clients = append(c.clients, cl)
		cl.scheduleNext()
	}
	return c, nil
}

func (c *Cluster) tickLoop(n *simNode) {
	n.tick()
	c.sched.after(c.opt.Tick, func() { c.tickLoop(n) })
}

func (c *Cluster) ids() []uint64 {
	ids := make([]uint64, len(c.nodes))
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

// fail records the first violation; the run stops at the next step.
func (c *Cluster) fail(err error) {
	if c.err == nil {
		c.err = err
		c.tracef(c.sched.now, 0, "VIOLATION: %v", err)
	}
}

// Err returns the first violation seen, or nil.
func (c *Cluster) Err() error { return c.err }

func (c *Cluster) tracef(at Time, node uint64, format string, args ...any) {
	if !c.opt.Trace {
		return
	}
	fmt.Fprintf(&c.trace, "%s n%d ", at, node)
	fmt.Fprintf(&c.trace, format, args...)
	c.trace.WriteByte('\n')
}

// Trace returns the trace recorded so far (Options.Trace).
func (c *Cluster) Trace() []byte { return c.trace.Bytes() }

// Now returns the virtual time.
func (c *Cluster) Now() Time { return c.sched.now }

// errStop ends RunUntil without a violation.
var errStop = errors.New("stop")

// RunFor advances virtual time by d, stopping early at a violation.
func (c *Cluster) RunFor(d Time) error {
	_, err := c.RunUntil(func() bool { return false }, d)
	return err
}

// RunUntil advances virtual time until cond holds (checked after every
// event) or d passes. It reports whether cond held.
func (c *Cluster) RunUntil(cond func() bool, d Time) (bool, error) {
	limit := c.sched.now + d
	for c.err == nil {
		if cond() {
			return true, nil
		}
		if c.maxEvents > 0 && c.sched.runs > c.maxEvents {
			c.fail(fmt.Errorf("event storm: more than %d events by %s (a message storm or livelock)", c.maxEvents, c.sched.now))
			break
		}
		if !c.sched.step(limit) {
			c.sched.now = max(c.sched.now, limit)
			return cond(), c.err
		}
	}
	c.stats.Events = c.sched.runs
	return false, c.err
}

// Node returns the core of node id, or nil while it is down.
func (c *Cluster) Node(id uint64) *raft.Raft {
	n := c.nodes[id-1]
	if !n.up {
		return nil
	}
	return n.drv.Raft()
}

// Up reports whether node id is running.
func (c *Cluster) Up(id uint64) bool { return c.nodes[id-1].up }

// Leader returns the running node that leads the highest term, or 0.
func (c *Cluster) Leader() uint64 {
	var best, term uint64
	for _, n := range c.nodes {
		if n.up && n.soft.Role == raft.Leader {
			if t := n.drv.Raft().Term(); t > term {
				best, term = n.id, t
			}
		}
	}
	return best
}

// Crash stops node id at once; only what its disk made durable survives.
func (c *Cluster) Crash(id uint64) {
	c.stats.Crashes++
	c.nodes[id-1].crash()
}

// Restart boots node id again from its disk.
func (c *Cluster) Restart(id uint64) error {
	n := c.nodes[id-1]
	if n.up {
		return nil
	}
	c.tracef(c.sched.now, id, "RESTART")
	if err := n.start(); err != nil {
		c.fail(err)
		return err
	}
	return nil
}

// Pause freezes node id for d.
func (c *Cluster) Pause(id uint64, d Time) {
	c.stats.Pauses++
	c.nodes[id-1].pause(d)
}

// Partition cuts the links between the given groups (nodes left out are
// isolated).
func (c *Cluster) Partition(groups ...[]uint64) {
	c.stats.Partitions++
	c.net.partition(groups)
	c.tracef(c.sched.now, 0, "PARTITION %v, cuts:%s", groups, c.net.describeCuts())
}

// Cut removes the one-way link from -> to (asymmetric partitions).
func (c *Cluster) Cut(from, to uint64) {
	c.net.blocked[from][to] = true
	c.tracef(c.sched.now, 0, "CUT %d->%d", from, to)
}

// Heal restores every link.
func (c *Cluster) Heal() {
	c.net.heal()
	c.tracef(c.sched.now, 0, "HEAL")
}

// SetLoss changes the message loss probability.
func (c *Cluster) SetLoss(p float64) { c.net.opt.Loss = p }

// SetDup changes the message duplication probability.
func (c *Cluster) SetDup(p float64) { c.net.opt.Dup = p }

// Propose hands data straight to node id's core, as a server would for a
// request without a client session. It returns the index it landed at.
func (c *Cluster) Propose(id uint64, data []byte) (uint64, error) {
	n := c.nodes[id-1]
	if !n.up {
		return 0, fmt.Errorf("node %d is down", id)
	}
	_, last, err := n.drv.Propose(raft.Proposal{Data: data})
	if err == nil {
		n.kick()
	}
	return last, err
}

// Transfer asks node id, if it leads, to hand leadership to to.
func (c *Cluster) Transfer(id, to uint64) error {
	n := c.nodes[id-1]
	if !n.up {
		return fmt.Errorf("node %d is down", id)
	}
	c.stats.Transfers++
	err := n.drv.TransferLeadership(to)
	n.kick()
	return err
}

// AppliedIndex returns the last index node id applied (0 while down).
func (c *Cluster) AppliedIndex(id uint64) uint64 {
	n := c.nodes[id-1]
	if !n.up {
		return 0
	}
	return n.drv.Applied()
}

// CommittedAt returns the data of the entry applied at index, if any node
// applied one.
func (c *Cluster) CommittedAt(index uint64) (raft.Entry, bool) {
	for _, n := range c.nodes {
		if !n.up {
			continue
		}
		if es, err := n.drv.Raft().Entries(index, index+1); err == nil && n.drv.Applied() >= index {
			return es[0], true
		}
	}
	return raft.Entry{}, false
}

// Sent returns how many peer messages of each type were sent.
func (c *Cluster) Sent() map[raft.MessageType]int {
	out := make(map[raft.MessageType]int, len(c.net.sent))
	for k, v := range c.net.sent {
		out[k] = v
	}
	return out
}

// TotalSent returns how many peer messages were sent in all.
func (c *Cluster) TotalSent() int {
	t := 0
	for _, v := range c.net.sent {
		t += v
	}
	return t
}

// Stats returns the run's counters.
func (c *Cluster) Stats() Stats {
	s := c.stats
	s.Events = c.sched.runs
	return s
}

// StopClients stops clients from starting new operations.
func (c *Cluster) StopClients() { c.stopClients = true }

// ClientsIdle reports whether no client operation is pending.
func (c *Cluster) ClientsIdle() bool {
	for _, cl := range c.clients {
		if cl.op != nil {
			return false
		}
	}
	return true
}

// ClientsDone reports whether every client issued all its operations and
// got every answer.
func (c *Cluster) ClientsDone() bool {
	for _, cl := range c.clients {
		if cl.op != nil || (cl.budget > 0 && !c.stopClients) {
			return false
		}
	}
	return true
}

// Converged reports whether every node is up and has applied the same
// last index with the same data.
func (c *Cluster) Converged() bool {
	var idx uint64
	var fp string
	for i, n := range c.nodes {
		if !n.up {
			return false
		}
		a := n.drv.Applied()
		if i == 0 {
			idx, fp = a, n.kv.fingerprint()
			continue
		}
		if a != idx || n.kv.fingerprint() != fp {
			return false
		}
	}
	return idx > 0 && c.nodes[0].drv.Raft().Status().Commit == idx
}
