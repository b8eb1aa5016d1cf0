package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// memNet delivers messages between in-process nodes.
type memNet struct {
	mu    sync.Mutex
	nodes map[uint64]*Node
	cut   map[uint64]bool
}

type memTransport struct {
	net *memNet
	id  uint64
}

func (t *memTransport) Send(msgs []raft.Message) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	for _, m := range msgs {
		if t.net.cut[m.From] || t.net.cut[m.To] {
			continue
		}
		if n := t.net.nodes[m.To]; n != nil {
			n.Step(m)
		}
	}
}

type memStorage struct{}

func (memStorage) Save(raft.HardState, []raft.Entry, bool) error { return nil }
func (memStorage) SaveSnapshot(raft.Snapshot) error              { return nil }

// counterSM counts applied entries and remembers the last payload.
type counterSM struct {
	mu   sync.Mutex
	n    int
	last string
}

func (s *counterSM) Apply(e raft.Entry) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.last = string(e.Data)
	return s.n
}
func (s *counterSM) Snapshot() ([]byte, error) { return nil, nil }
func (s *counterSM) Restore([]byte) error      { return nil }

type nopListener struct{}

func (nopListener) Applied(raft.Entry, any, bool)   {}
func (nopListener) ReadReady(uint64)                {}
func (nopListener) SoftStateChanged(raft.SoftState) {}

func startCluster(t *testing.T, n int) (*memNet, []*Node, []*counterSM) {
	t.Helper()
	net := &memNet{nodes: map[uint64]*Node{}, cut: map[uint64]bool{}}
	var peers []uint64
	for i := 1; i <= n; i++ {
		peers = append(peers, uint64(i))
	}
	var nodes []*Node
	var sms []*counterSM
	for _, id := range peers {
		sm := &counterSM{}
		nd, err := NewNode(NodeConfig{
			Driver: Config{
				Raft:         raft.Config{ID: id, Peers: peers, ElectionTick: 10, HeartbeatTick: 1, PreVote: true, CheckQuorum: true, CheckInvariants: true},
				Storage:      memStorage{},
				Transport:    &memTransport{net: net, id: id},
				StateMachine: sm,
				Listener:     nopListener{},
			},
			TickInterval: 5 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		sms = append(sms, sm)
	}
	net.mu.Lock()
	for i, nd := range nodes {
		net.nodes[uint64(i+1)] = nd
	}
	net.mu.Unlock()
	for _, nd := range nodes {
		go func() { _ = nd.Run() }()
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Stop()
		}
	})
	return net, nodes, sms
}

// waitLeader waits for a leader among nodes that are not cut off.
func waitLeader(t *testing.T, net *memNet, nodes []*Node) *Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, nd := range nodes {
			net.mu.Lock()
			cut := net.cut[uint64(i+1)]
			net.mu.Unlock()
			if !cut && nd.Status().Role == raft.Leader {
				return nd
			}
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	t.Fatal("no leader within 10s")
	return nil
}

func TestNodeProposeAndRead(t *testing.T) {
	net, nodes, sms := startCluster(t, 3)
	l := waitLeader(t, net, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i <= 20; i++ {
		res, idx, err := l.Propose(ctx, []byte(fmt.Sprintf("v%d", i)), 0, 0)
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		if res.(int) != i || idx == 0 {
			t.Fatalf("propose %d: result %v at %d", i, res, idx)
		}
	}
	for _, mode := range []raft.ReadMode{raft.ReadIndexSafe, raft.ReadLease} {
		if err := l.ReadIndex(ctx, mode); err != nil {
			t.Fatalf("read (mode %d): %v", mode, err)
		}
	}
	var lsm *counterSM
	for i, nd := range nodes {
		if nd == l {
			lsm = sms[i]
		}
	}
	lsm.mu.Lock()
	defer lsm.mu.Unlock()
	if lsm.n != 20 || lsm.last != "v20" {
		t.Fatalf("leader state machine: %d entries, last %q", lsm.n, lsm.last)
	}
}

func TestNodeFollowerRefusesAndLeaderFailover(t *testing.T) {
	net, nodes, _ := startCluster(t, 3)
	l := waitLeader(t, net, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, nd := range nodes {
		if nd == l {
			continue
		}
		if _, _, err := nd.Propose(ctx, []byte("x"), 0, 0); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower propose: %v, want ErrNotLeader", err)
		}
		if err := nd.ReadIndex(ctx, raft.ReadIndexSafe); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower read: %v, want ErrNotLeader", err)
		}
	}
	// Cut the leader off: a proposal there cannot commit and must end in
	// an indefinite timeout, while the others elect a new leader.
	var lid uint64
	for i, nd := range nodes {
		if nd == l {
			lid = uint64(i + 1)
		}
	}
	net.mu.Lock()
	net.cut[lid] = true
	net.mu.Unlock()
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, _, err := l.Propose(short, []byte("stuck"), 0, 0); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("cut-off leader propose: %v", err)
	}
	nl := waitLeader(t, net, nodes)
	if nl == l {
		t.Fatal("cut-off node still reported as the only leader")
	}
	if _, _, err := nl.Propose(ctx, []byte("after"), 0, 0); err != nil {
		t.Fatalf("new leader propose: %v", err)
	}
}

func TestNodeStopFailsWaiters(t *testing.T) {
	net, nodes, _ := startCluster(t, 3)
	l := waitLeader(t, net, nodes)
	l.Stop()
	if _, _, err := l.Propose(context.Background(), []byte("x"), 0, 0); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after stop: %v, want ErrStopped", err)
	}
}
