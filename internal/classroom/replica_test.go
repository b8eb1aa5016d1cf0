package classroom

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport/udpjson"
)

// net is an in-memory classroom network: every datagram is encoded and
// decoded, as on the wire, and delivered in order. Replicas can be killed
// and cut off; client replies are collected.
type net struct {
	t       *testing.T
	reps    map[udpjson.ID]*Replica
	ids     []udpjson.ID
	queue   []wire
	dead    map[udpjson.ID]bool
	cut     map[udpjson.ID]bool
	replies []udpjson.Datagram
	sent    int // replica-to-replica messages
}

type wire struct {
	to   udpjson.ID
	data []byte
}

type sender struct {
	n    *net
	self udpjson.ID
}

func (s sender) Send(msgs []raft.Message, leader udpjson.ID) error {
	for i := range msgs {
		b, err := udpjson.AppendRaft(nil, &msgs[i], leader)
		if err != nil {
			return err
		}
		to, _ := udpjson.ClassroomID(msgs[i].To)
		s.n.sent++
		if s.n.cut[s.self] || s.n.cut[to] {
			continue
		}
		s.n.queue = append(s.n.queue, wire{to: to, data: b})
	}
	return nil
}

func (s sender) SendClient(d udpjson.Datagram) error {
	d.Src = s.self
	b, err := udpjson.AppendDatagram(nil, &d)
	if err != nil {
		return err
	}
	back, err := udpjson.Decode(b)
	if err != nil {
		s.n.t.Fatalf("reply does not decode: %v: %s", err, b)
	}
	s.n.replies = append(s.n.replies, back)
	return nil
}

func newNet(t *testing.T, n int) *net {
	nw := &net{t: t, reps: map[udpjson.ID]*Replica{}, dead: map[udpjson.ID]bool{}, cut: map[udpjson.ID]bool{}}
	for i := 0; i < n; i++ {
		nw.ids = append(nw.ids, udpjson.ID(i))
	}
	for _, id := range nw.ids {
		var peers []udpjson.ID
		for _, p := range nw.ids {
			if p != id {
				peers = append(peers, p)
			}
		}
		r, err := New(Config{Self: id, Peers: peers, ElectionTick: 50, HeartbeatTick: 10, RetransmitTicks: 8,
			AckDelayTicks: 3, InheritWaitTicks: 5}, sender{n: nw, self: id})
		if err != nil {
			t.Fatal(err)
		}
		nw.reps[id] = r
	}
	return nw
}

// run ticks every live replica and delivers everything, n times.
func (nw *net) run(n int) {
	for i := 0; i < n; i++ {
		for _, id := range nw.ids {
			if !nw.dead[id] {
				nw.reps[id].Tick()
				nw.flush(id)
			}
		}
		nw.deliver()
	}
}

func (nw *net) flush(id udpjson.ID) {
	if err := nw.reps[id].Flush(); err != nil {
		nw.t.Fatal(err)
	}
}

func (nw *net) deliver() {
	for len(nw.queue) > 0 {
		w := nw.queue[0]
		nw.queue = nw.queue[1:]
		if nw.dead[w.to] {
			continue
		}
		d, err := udpjson.Decode(w.data)
		if err != nil {
			nw.t.Fatalf("datagram does not decode: %v: %s", err, w.data)
		}
		nw.reps[w.to].Handle(d)
		nw.flush(w.to)
	}
}

func (nw *net) leader() udpjson.ID {
	for _, id := range nw.ids {
		if !nw.dead[id] && !nw.cut[id] && nw.reps[id].isLeader() {
			return id
		}
	}
	return udpjson.Broadcast
}

// client sends a request to a replica and delivers everything.
func (nw *net) client(to udpjson.ID, op udpjson.Type, mid, key, value string) {
	d := udpjson.Datagram{Type: op, Src: 0x0015, Dst: to, Leader: udpjson.Broadcast, MID: mid, Key: key, Value: value}
	b, err := udpjson.AppendDatagram(nil, &d)
	if err != nil {
		nw.t.Fatal(err)
	}
	back, err := udpjson.Decode(b)
	if err != nil {
		nw.t.Fatal(err)
	}
	nw.reps[to].Handle(back)
	nw.flush(to)
	nw.deliver()
}

func (nw *net) repliesTo(mid string) []udpjson.Datagram {
	var out []udpjson.Datagram
	for _, r := range nw.replies {
		if r.MID == mid {
			out = append(out, r)
		}
	}
	return out
}

func TestPutsAnsweredOnceByTheTailAndReadBack(t *testing.T) {
	nw := newNet(t, 5)
	nw.run(200)
	l := nw.leader()
	if l == udpjson.Broadcast {
		t.Fatal("no leader")
	}
	for i := 0; i < 20; i++ {
		nw.client(l, udpjson.TypePut, fmt.Sprintf("p%d", i), fmt.Sprintf("k%d", i%3), fmt.Sprintf("v%d", i))
		nw.run(1)
	}
	nw.run(20)
	for i := 0; i < 20; i++ {
		rs := nw.repliesTo(fmt.Sprintf("p%d", i))
		if len(rs) != 1 || rs[0].Type != udpjson.TypeOK {
			t.Fatalf("put p%d answered %d times: %+v", i, len(rs), rs)
		}
		if rs[0].Src == l {
			t.Errorf("put p%d answered by the leader, want the chain's tail", i)
		}
		if rs[0].Leader != l {
			t.Errorf("put p%d answer names leader %v, want %v", i, rs[0].Leader, l)
		}
	}
	for k := 0; k < 3; k++ {
		mid := fmt.Sprintf("g%d", k)
		nw.client(l, udpjson.TypeGet, mid, fmt.Sprintf("k%d", k), "")
		nw.run(5)
		rs := nw.repliesTo(mid)
		if len(rs) != 1 || rs[0].Type != udpjson.TypeOK {
			t.Fatalf("get %s: %+v", mid, rs)
		}
		last := ""
		for i := 0; i < 20; i++ {
			if i%3 == k {
				last = fmt.Sprintf("v%d", i)
			}
		}
		if rs[0].Value != last {
			t.Fatalf("get k%d = %q, want %q", k, rs[0].Value, last)
		}
	}
	if f := nw.reps[l]; f == nil {
		t.Fatal("leader gone")
	}
}

func TestFollowerRedirects(t *testing.T) {
	nw := newNet(t, 3)
	nw.run(200)
	l := nw.leader()
	var f udpjson.ID
	for _, id := range nw.ids {
		if id != l {
			f = id
		}
	}
	nw.client(f, udpjson.TypePut, "r1", "k", "v")
	rs := nw.repliesTo("r1")
	if len(rs) != 1 || rs[0].Type != udpjson.TypeRedirect || rs[0].Leader != l {
		t.Fatalf("follower answered %+v, want a redirect to %v", rs, l)
	}
}

// A leader killed with puts in its chain: the new leader answers those no
// live replica had answered, and nobody answers any put twice.
func TestNewLeaderAnswersInheritedPuts(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		nw := newNet(t, 5)
		nw.run(200)
		l := nw.leader()
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 10 + rng.IntN(10)
		for i := 0; i < n; i++ {
			nw.client(l, udpjson.TypePut, fmt.Sprintf("p%d", i), "k", fmt.Sprintf("v%d", i))
		}
		// Kill the leader in the middle of the chain's traffic.
		cut := rng.IntN(len(nw.queue) + 1)
		nw.queue = nw.queue[:cut]
		nw.dead[l] = true
		nw.deliver()
		nw.run(400)
		if nw.leader() == udpjson.Broadcast {
			t.Fatalf("seed %d: no new leader", seed)
		}
		for i := 0; i < n; i++ {
			rs := nw.repliesTo(fmt.Sprintf("p%d", i))
			if len(rs) > 1 {
				t.Fatalf("seed %d: put p%d answered %d times", seed, i, len(rs))
			}
		}
	}
}

// Junk datagrams are dropped by the decoder or refused by the core: the
// replica neither crashes nor changes state.
func FuzzJunkDatagrams(f *testing.F) {
	f.Add([]byte(`{"src":"0001","dst":"0000","leader":"FFFF","type":"ae","term":"x"}`))
	f.Add([]byte(`{"src":"00ZZ","dst":"0000","leader":"FFFF","type":"get","MID":"1","key":"k"}`))
	f.Add([]byte(`not json at all`))
	f.Add([]byte(`{"src":"0009","dst":"0000","leader":"0009","type":"hb","term":99}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		nw := newNet(t, 3)
		nw.run(150)
		r := nw.reps[0]
		before := r.drv.Raft().Status()
		d, err := udpjson.Decode(b)
		if err != nil {
			return
		}
		if (d.Type == udpjson.TypeRaft && udpjson.RaftID(d.Src) <= 3) || d.Type.IsRequest() {
			return // well-formed protocol from a member or a client, not junk
		}
		r.Handle(d)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		after := r.drv.Raft().Status()
		if after.Term != before.Term || after.LastIndex != before.LastIndex || after.Commit != before.Commit {
			t.Fatalf("junk changed state: %+v -> %+v", before, after)
		}
	})
}
