package sim

import (
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
)

// NetOptions describe the faults of the simulated network.
type NetOptions struct {
	// Loss is the probability that a message between nodes is lost.
	Loss float64
	// Dup is the probability that a message is delivered twice.
	Dup float64
	// MinDelay and MaxDelay bound a message's delay; delays are drawn
	// uniformly, so messages overtake each other (reordering).
	MinDelay, MaxDelay Time
}

// network carries messages between nodes and to and from clients. Client
// links are reliable but delayed; peer links suffer loss, duplication,
// reordering and partitions.
type network struct {
	c   *Cluster
	opt NetOptions
	// blocked[from][to] cuts the link from one node to another. Indexes
	// are node IDs; index 0 is unused.
	blocked [][]bool
	// sent and dropped count peer messages by type.
	sent    map[raft.MessageType]int
	dropped int
}

func newNetwork(c *Cluster, n int, opt NetOptions) *network {
	nw := &network{c: c, opt: opt, sent: map[raft.MessageType]int{}}
	nw.blocked = make([][]bool, n+1)
	for i := range nw.blocked {
		nw.blocked[i] = make([]bool, n+1)
	}
	return nw
}

func (nw *network) delay() Time {
	lo, hi := nw.opt.MinDelay, nw.opt.MaxDelay
	if hi <= lo {
		return lo
	}
	return lo + Time(nw.c.rng.Int64N(int64(hi-lo)))
}

// send puts m on the wire at time at (which may be later than now: a node
// that waited for an fsync sends when it completes).
func (nw *network) send(m raft.Message, at Time, inc int) {
	nw.sent[m.Type]++
	c := nw.c
	if c.rng.Float64() < nw.opt.Loss {
		nw.dropped++
		c.tracef(at, m.From, "lost %s", raft.DescribeMessage(m))
		return
	}
	copies := 1
	if c.rng.Float64() < nw.opt.Dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		arrive := at + nw.delay()
		c.sched.at(arrive, func() { nw.deliver(m, at, inc) })
	}
}

func (nw *network) deliver(m raft.Message, sentAt Time, inc int) {
	c := nw.c
	from, to := c.nodes[m.From-1], c.nodes[m.To-1]
	switch {
	case !from.sentBeforeCrash(inc, sentAt):
		c.tracef(c.sched.now, m.From, "void %s (sender crashed before sending)", raft.DescribeMessage(m))
		return
	case nw.blocked[m.From][m.To]:
		nw.dropped++
		c.tracef(c.sched.now, m.To, "cut %s", raft.DescribeMessage(m))
		return
	case !to.up:
		c.tracef(c.sched.now, m.To, "down %s", raft.DescribeMessage(m))
		return
	}
	c.tracef(c.sched.now, m.To, "recv %s", raft.DescribeMessage(m))
	to.enqueue(func() {
		if err := to.drv.Step(m); err != nil {
			c.tracef(c.sched.now, to.id, "step error: %v", err)
		}
	})
}

// partition cuts every link between different groups. Nodes not listed
// form a group of their own each.
func (nw *network) partition(groups [][]uint64) {
	group := make([]int, len(nw.blocked))
	for i := range group {
		group[i] = -i // alone unless listed
	}
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g + 1
		}
	}
	for a := 1; a < len(group); a++ {
		for b := 1; b < len(group); b++ {
			nw.blocked[a][b] = a != b && group[a] != group[b]
		}
	}
}

func (nw *network) heal() {
	for a := range nw.blocked {
		clear(nw.blocked[a])
	}
}

func (nw *network) describeCuts() string {
	s := ""
	for a := 1; a < len(nw.blocked); a++ {
		for b := 1; b < len(nw.blocked); b++ {
			if nw.blocked[a][b] {
				s += fmt.Sprintf(" %d-x->%d", a, b)
			}
		}
	}
	if s == "" {
		return " none"
	}
	return s
}
