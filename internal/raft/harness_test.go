package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testNode is one core plus what its driver would keep: the persisted log
// and hard state, and what it applied.
type testNode struct {
	r       *Raft
	hs      HardState
	snap    *Snapshot
	ents    []Entry
	applied []Entry
	reads   []ReadState
	acks    []AckRange
}

// testNet runs cores synchronously: each step drains every Ready and
// delivers every message, in a fixed order, until nothing moves.
type testNet struct {
	t     *testing.T
	ids   []uint64
	nodes map[uint64]*testNode
	cfg   func(*Config)
	// drop, when set, decides which messages are lost.
	drop func(m Message) bool
	// isolated nodes neither send nor receive.
	isolated map[uint64]bool
	inflight []Message
	// sent counts messages handed to the network, by type.
	sent map[MessageType]int
}

func newTestNet(t *testing.T, n int, cfg func(*Config)) *testNet {
	t.Helper()
	tn := &testNet{t: t, nodes: map[uint64]*testNode{}, cfg: cfg, isolated: map[uint64]bool{}, sent: map[MessageType]int{}}
	for i := 1; i <= n; i++ {
		tn.ids = append(tn.ids, uint64(i))
	}
	for _, id := range tn.ids {
		tn.nodes[id] = &testNode{}
		tn.start(id)
	}
	return tn
}

func (tn *testNet) config(id uint64) Config {
	c := Config{
		ID: id, Peers: tn.ids, ElectionTick: 10, HeartbeatTick: 1,
		PreVote: true, CheckQuorum: true, CheckInvariants: true,
		Rand: rand.New(rand.NewPCG(id, 7)),
	}
	if tn.cfg != nil {
		tn.cfg(&c)
	}
	return c
}

// start (re)creates node id's core from what it persisted.
func (tn *testNet) start(id uint64) {
	tn.t.Helper()
	n := tn.nodes[id]
	r, err := New(tn.config(id), State{HardState: n.hs, Snapshot: n.snap, Entries: slices.Clone(n.ents)})
	if err != nil {
		tn.t.Fatalf("start node %d: %v", id, err)
	}
	n.r = r
	n.applied = nil
	if n.snap != nil {
		n.applied = nil
	}
}

func (tn *testNet) handleReady(id uint64) bool {
	n := tn.nodes[id]
	if !n.r.HasReady() {
		return false
	}
	rd := n.r.Ready()
	if !rd.HardState.IsEmpty() {
		n.hs = rd.HardState
	}
	if rd.Snapshot != nil {
		n.snap = rd.Snapshot
		n.ents = nil
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		base := uint64(0)
		if n.snap != nil {
			base = n.snap.Meta.Index
		}
		keep := int(first - base - 1)
		if keep > len(n.ents) {
			tn.t.Fatalf("node %d persists entries from %d with a gap (have %d)", id, first, len(n.ents))
		}
		n.ents = append(n.ents[:keep:keep], rd.Entries...)
	}
	for _, m := range rd.Messages {
		tn.sent[m.Type]++
		if tn.isolated[m.From] || tn.isolated[m.To] || (tn.drop != nil && tn.drop(m)) {
			continue
		}
		tn.inflight = append(tn.inflight, m)
	}
	n.applied = append(n.applied, rd.CommittedEntries...)
	n.reads = append(n.reads, rd.ReadStates...)
	n.acks = append(n.acks, rd.Acks...)
	n.r.Advance()
	return true
}

// settle delivers messages and drains Readies until quiescent.
func (tn *testNet) settle() {
	tn.t.Helper()
	for round := 0; ; round++ {
		if round > 10000 {
			tn.t.Fatal("network did not settle")
		}
		moved := false
		for _, id := range tn.ids {
			for tn.handleReady(id) {
				moved = true
			}
		}
		msgs := tn.inflight
		tn.inflight = nil
		for _, m := range msgs {
			moved = true
			if err := tn.nodes[m.To].r.Step(m); err != nil && tn.t != nil {
				tn.t.Logf("step %s: %v", DescribeMessage(m), err)
			}
		}
		if !moved {
			return
		}
	}
}

func (tn *testNet) tickAll(n int) {
	for i := 0; i < n; i++ {
		for _, id := range tn.ids {
			tn.nodes[id].r.Tick()
		}
		tn.settle()
	}
}

// elect ticks until some node leads and returns it.
func (tn *testNet) elect() uint64 {
	tn.t.Helper()
	for i := 0; i < 200; i++ {
		tn.tickAll(1)
		if l := tn.leader(); l != None {
			return l
		}
	}
	tn.t.Fatal("no leader elected within 200 ticks")
	return None
}

func (tn *testNet) leader() uint64 {
	var l uint64
	for _, id := range tn.ids {
		if !tn.isolated[id] && tn.nodes[id].r.Role() == Leader {
			if l != None && tn.nodes[l].r.Term() == tn.nodes[id].r.Term() {
				tn.t.Fatalf("two leaders in term %d: %d and %d", tn.nodes[id].r.Term(), l, id)
			}
			if l == None || tn.nodes[id].r.Term() > tn.nodes[l].r.Term() {
				l = id
			}
		}
	}
	return l
}

func (tn *testNet) propose(id uint64, data string) uint64 {
	tn.t.Helper()
	_, last, err := tn.nodes[id].r.Propose(Proposal{Data: []byte(data)})
	if err != nil {
		tn.t.Fatalf("propose on %d: %v", id, err)
	}
	return last
}

// appliedData lists the normal entries node id applied.
func (tn *testNet) appliedData(id uint64) []string {
	var out []string
	for _, e := range tn.nodes[id].applied {
		if e.Type == EntryNormal {
			out = append(out, string(e.Data))
		}
	}
	return out
}

func (tn *testNet) String() string {
	s := ""
	for _, id := range tn.ids {
		st := tn.nodes[id].r.Status()
		s += fmt.Sprintf("%d: %s term=%d lead=%d commit=%d last=%d\n", id, st.Role, st.Term, st.Lead, st.Commit, st.LastIndex)
	}
	return s
}
