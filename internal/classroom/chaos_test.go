package classroom

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport/udpjson"
)

var (
	flagChaosSeeds = flag.Int("chaos-seeds", 30, "seeds of TestChaos to run")
	flagChaosKey   = flag.String("chaos-key", "", "log every request and reply for this key")
	flagChaosSeed  = flag.Int("chaos-seed", 0, "run only this seed of TestChaos")
)

// chaosNet is the classroom network with the simulator's faults: delays,
// drops between replicas, partitions and kills, on a tick clock.
type chaosNet struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	now   int
	ids   []udpjson.ID
	reps  map[udpjson.ID]*Replica
	dead  map[udpjson.ID]bool
	group map[udpjson.ID]int // partition group; replicas talk within a group
	drops float64
	queue []timed
	// leader is what the simulator believes, from the leader field of
	// replica messages (FFFF forgets).
	leader  udpjson.ID
	clients []*chaosClient
	errs    []string
	dups    []string
	log     []string // faults, for failure reports
}

type timed struct {
	at   int
	to   udpjson.ID
	data []byte
	// fromReplica marks replica-to-replica traffic, which may be dropped.
	fromReplica bool
}

type chaosClient struct {
	id      udpjson.ID
	leader  udpjson.ID
	seen    map[string]string // last value acknowledged per key
	pending map[string]pendingReq
	done    map[string]udpjson.Type // MIDs answered, and how
	by      map[string]udpjson.ID   // and by whom
	nextMID int
}

type pendingReq struct {
	get        bool
	key, value string
}

type chaosSender struct {
	n    *chaosNet
	self udpjson.ID
}

func (s chaosSender) Send(msgs []raft.Message, leader udpjson.ID) error {
	for i := range msgs {
		b, err := udpjson.AppendRaft(nil, &msgs[i], leader)
		if err != nil {
			return err
		}
		to, _ := udpjson.ClassroomID(msgs[i].To)
		s.n.noteLeader(leader)
		s.n.queue = append(s.n.queue, timed{at: s.n.now + s.n.rng.IntN(3), to: to, data: b, fromReplica: true})
	}
	return nil
}

func (s chaosSender) SendClient(d udpjson.Datagram) error {
	d.Src = s.self
	b, err := udpjson.AppendDatagram(nil, &d)
	if err != nil {
		return err
	}
	s.n.noteLeader(d.Leader)
	// The simulator relays a replica's datagrams in order: fixed delay.
	s.n.queue = append(s.n.queue, timed{at: s.n.now + 1, to: d.Dst, data: b})
	return nil
}

func (n *chaosNet) noteLeader(l udpjson.ID) { n.leader = l }

func newChaos(t *testing.T, seed uint64) *chaosNet {
	n := &chaosNet{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 42)), reps: map[udpjson.ID]*Replica{},
		dead: map[udpjson.ID]bool{}, group: map[udpjson.ID]int{}, leader: udpjson.Broadcast}
	for i := 0; i < 5; i++ {
		n.ids = append(n.ids, udpjson.ID(i))
	}
	for _, id := range n.ids {
		var peers []udpjson.ID
		for _, p := range n.ids {
			if p != id {
				peers = append(peers, p)
			}
		}
		// The classroom timings scaled down: 1 tick here is 1 ms there.
		r, err := New(Config{Self: id, Peers: peers, ElectionTick: 300, HeartbeatTick: 100, RetransmitTicks: 15,
			AckDelayTicks: 10, InheritWaitTicks: 20}, chaosSender{n: n, self: id})
		if err != nil {
			t.Fatal(err)
		}
		n.reps[id] = r
	}
	for i := 0; i < 8; i++ {
		n.clients = append(n.clients, &chaosClient{id: udpjson.ID(0x15 + i), leader: udpjson.Broadcast,
			seen: map[string]string{}, pending: map[string]pendingReq{}, done: map[string]udpjson.Type{}, by: map[string]udpjson.ID{}})
	}
	return n
}

func (n *chaosNet) failf(format string, args ...any) {
	n.errs = append(n.errs, fmt.Sprintf("tick %d: ", n.now)+fmt.Sprintf(format, args...))
}

func (n *chaosNet) living() []udpjson.ID {
	var out []udpjson.ID
	for _, id := range n.ids {
		if !n.dead[id] {
			out = append(out, id)
		}
	}
	return out
}

// step advances one tick: replicas tick, due datagrams are delivered.
func (n *chaosNet) step() {
	n.now++
	for _, id := range n.ids {
		if !n.dead[id] {
			n.reps[id].Tick()
			n.flush(id)
		}
	}
	for {
		var due []timed
		rest := n.queue[:0]
		for _, m := range n.queue {
			if m.at <= n.now {
				due = append(due, m)
			} else {
				rest = append(rest, m)
			}
		}
		n.queue = rest
		if len(due) == 0 {
			return
		}
		for _, m := range due {
			n.deliver(m)
		}
	}
}

func (n *chaosNet) flush(id udpjson.ID) {
	if err := n.reps[id].Flush(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *chaosNet) deliver(m timed) {
	d, err := udpjson.Decode(m.data)
	if err != nil {
		n.t.Fatalf("seed %d: datagram does not decode: %v", n.seed, err)
	}
	if m.to >= 0x15 {
		n.clientReceive(d)
		return
	}
	if n.dead[m.to] {
		return
	}
	if m.fromReplica {
		if n.group[d.Src] != n.group[m.to] || n.rng.Float64() < n.drops {
			return
		}
	}
	n.reps[m.to].Handle(d)
	n.flush(m.to)
}

func (n *chaosNet) clientReceive(d udpjson.Datagram) {
	c := n.clients[d.Dst-0x15]
	if prev, ok := c.done[d.MID]; ok {
		if prev == udpjson.TypeRedirect && d.Type == udpjson.TypeOK {
			n.failf("client %s: MID %s answered ok after redirect (by %s)", c.id, d.MID, d.Src)
		} else {
			n.dups = append(n.dups, fmt.Sprintf("tick %d: client %s: MID %s answered twice (%s by %s, then %s by %s)", n.now, c.id, d.MID, prev, c.by[d.MID], d.Type, d.Src))
		}
		return
	}
	req, ok := c.pending[d.MID]
	if ok && *flagChaosKey != "" && req.key == *flagChaosKey {
		n.t.Logf("tick %d: %s gets %s %s value=%q from %s (leader %s)", n.now, c.id, d.MID, d.Type, d.Value, d.Src, d.Leader)
	}
	if !ok {
		n.failf("client %s: reply to unknown MID %s", c.id, d.MID)
		return
	}
	delete(c.pending, d.MID)
	c.done[d.MID] = d.Type
	c.by[d.MID] = d.Src
	c.leader = d.Leader
	switch d.Type {
	case udpjson.TypeOK:
		if req.get {
			if want := c.seen[req.key]; d.Value != want {
				n.failf("client %s: get %s = %q from %s, but the last value acknowledged is %q", c.id, req.key, d.Value, d.Src, want)
			}
		} else {
			c.seen[req.key] = req.value
		}
	case udpjson.TypeRedirect, udpjson.TypeFail:
		n.send(c, req)
	}
}

// send sends a request with a fresh MID, as the simulator's client does.
func (n *chaosNet) send(c *chaosClient, req pendingReq) {
	to := c.leader
	if to == udpjson.Broadcast || n.dead[to] {
		l := n.living()
		to = l[n.rng.IntN(len(l))]
	}
	c.nextMID++
	mid := fmt.Sprintf("%s-%d", c.id, c.nextMID)
	c.pending[mid] = req
	if *flagChaosKey != "" && req.key == *flagChaosKey {
		n.t.Logf("tick %d: %s sends %s %+v to %s", n.now, c.id, mid, req, to)
	}
	typ := udpjson.TypePut
	if req.get {
		typ = udpjson.TypeGet
	}
	d := udpjson.Datagram{Type: typ, Src: c.id, Dst: to, Leader: udpjson.Broadcast, MID: mid, Key: req.key, Value: req.value}
	b, err := udpjson.AppendDatagram(nil, &d)
	if err != nil {
		n.t.Fatal(err)
	}
	n.queue = append(n.queue, timed{at: n.now + 1, to: to, data: b})
}

func (n *chaosNet) request() {
	c := n.clients[n.rng.IntN(len(n.clients))]
	keys := make([]string, 0, len(c.seen))
	for k := range c.seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 && n.rng.Float64() < 0.4 {
		n.send(c, pendingReq{get: true, key: keys[n.rng.IntN(len(keys))]})
		return
	}
	key := fmt.Sprintf("%s-k%d", c.id, n.rng.IntN(4))
	n.send(c, pendingReq{key: key, value: fmt.Sprintf("v%d.%d", n.now, n.rng.IntN(1000))})
}

// TestChaos runs the replicas under the simulator's faults with clients
// applying the simulator's rules: a get returns the last value that client
// saw acknowledged, no request is answered twice, and none gets ok after a
// redirect. Each seed prints on failure.
func TestChaos(t *testing.T) {
	seeds := *flagChaosSeeds
	if testing.Short() {
		seeds = 8
	}
	first := 1
	if *flagChaosSeed > 0 {
		first, seeds = *flagChaosSeed, *flagChaosSeed
	}
	for s := first; s <= seeds; s++ {
		seed := uint64(s)
		n := newChaos(t, seed)
		n.drops = []float64{0, 0.05, 0.15, 0.3}[n.rng.IntN(4)]
		for n.now < 12000 {
			if n.now > 1000 && n.now < 10000 && n.now%5 == 0 {
				n.request()
			}
			if n.now > 1500 && n.now < 9500 && n.rng.IntN(1500) == 0 {
				n.fault()
			}
			n.step()
		}
		// Heal and let everything settle; unanswered requests are not
		// errors (the simulator scores them), wrong answers are.
		if len(n.errs) > 0 {
			t.Fatalf("seed %d (drops %.2f): %d violations, first:\n%s\nfaults: %v", seed, n.drops, len(n.errs), n.errs[0], n.log)
		}
		if len(n.dups) > 0 {
			t.Logf("seed %d (drops %.2f): %d duplicate answers, first: %s; faults: %v", seed, n.drops, len(n.dups), n.dups[0], n.log)
		}
	}
}

// fault does what the simulator's events do.
func (n *chaosNet) fault() {
	switch n.rng.IntN(4) {
	case 0: // kill_leader
		if n.leader != udpjson.Broadcast && !n.dead[n.leader] && len(n.living()) > 3 {
			n.log = append(n.log, fmt.Sprintf("%d kill %s", n.now, n.leader))
			n.dead[n.leader] = true
			for _, c := range n.clients {
				c.leader = udpjson.Broadcast
			}
		}
	case 1: // a partition: the believed leader in the majority (easy) or not (hard)
		perm := n.rng.Perm(len(n.ids))
		for i, p := range perm {
			n.group[n.ids[p]] = 0
			if i >= 3 {
				n.group[n.ids[p]] = 1
			}
		}
		n.log = append(n.log, fmt.Sprintf("%d partition", n.now))
		if n.rng.IntN(2) == 0 && n.leader != udpjson.Broadcast {
			n.group[n.leader] = 1 - n.group[n.leader]
			for _, c := range n.clients {
				c.leader = udpjson.Broadcast
			}
		}
	default: // part_end
		n.log = append(n.log, fmt.Sprintf("%d heal", n.now))
		clear(n.group)
	}
}
