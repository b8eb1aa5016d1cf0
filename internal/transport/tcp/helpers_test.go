package tcp

import (
	"bytes"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// waitTimeout bounds every wait for convergence; generous for -race on 2 cores.
const waitTimeout = 20 * time.Second

// checkGoroutines records the goroutine count now and, when the test ends
// (after every other cleanup, so after every Close), fails unless it has
// come back down by a deadline. Tests in this package do not run in
// parallel, so the count is theirs alone.
func checkGoroutines(t testing.TB) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitTimeout)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines leaked: %d running, %d at the start\n%s", runtime.NumGoroutine(), base, buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// inbox records what a transport delivers and reports.
type inbox struct {
	mu          sync.Mutex
	msgs        []raft.Message
	unreachable map[uint64]int
	snapOK      map[uint64]int
	snapFail    map[uint64]int
}

func newInbox() *inbox {
	return &inbox{unreachable: map[uint64]int{}, snapOK: map[uint64]int{}, snapFail: map[uint64]int{}}
}

func (b *inbox) handle(m raft.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) onUnreachable(id uint64) {
	b.mu.Lock()
	b.unreachable[id]++
	b.mu.Unlock()
}

func (b *inbox) onSnapshot(id uint64, ok bool) {
	b.mu.Lock()
	if ok {
		b.snapOK[id]++
	} else {
		b.snapFail[id]++
	}
	b.mu.Unlock()
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *inbox) messages() []raft.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]raft.Message(nil), b.msgs...)
}

func (b *inbox) unreachableCount(id uint64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unreachable[id]
}

func (b *inbox) snapshotStatus(id uint64) (ok, failed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapOK[id], b.snapFail[id]
}

// logBuffer is a concurrency-safe log sink that tests can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// node is one transport under test with what it received and logged.
type node struct {
	id   uint64
	addr string
	tr   *Transport
	in   *inbox
	logs *logBuffer
}

// listen binds a loopback listener on a free port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// cluster starts n fully connected transports, ids 1..n, on loopback.
// tweak may adjust each config before New.
func cluster(t testing.TB, n int, tweak func(id uint64, c *Config)) []*node {
	t.Helper()
	lns := make([]net.Listener, n)
	peers := map[uint64]string{}
	for i := range lns {
		lns[i] = listen(t)
		peers[uint64(i+1)] = lns[i].Addr().String()
	}
	nodes := make([]*node, n)
	for i := range nodes {
		id := uint64(i + 1)
		nd := &node{id: id, addr: peers[id], in: newInbox(), logs: &logBuffer{}}
		others := map[uint64]string{}
		for pid, a := range peers {
			if pid != id {
				others[pid] = a
			}
		}
		cfg := Config{
			ID: id, ClusterID: "test", Listener: lns[i], Peers: others,
			Handler:          nd.in.handle,
			OnUnreachable:    nd.in.onUnreachable,
			OnSnapshotStatus: nd.in.onSnapshot,
			Logger:           slog.New(slog.NewTextHandler(nd.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Seed:             42,
			BackoffMin:       5 * time.Millisecond,
			BackoffMax:       50 * time.Millisecond,
		}
		if tweak != nil {
			tweak(id, &cfg)
		}
		nd.tr = startTransport(t, cfg)
		nodes[i] = nd
	}
	return nodes
}

// startTransport builds and starts a transport that is closed when the
// test ends.
func startTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := tr.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return tr
}

func peerStats(t testing.TB, tr *Transport, id uint64) PeerStats {
	t.Helper()
	s := tr.Stats()
	ps, ok := s.Peer(id)
	if !ok {
		t.Fatalf("no stats for peer %d", id)
	}
	return ps
}

func heartbeat(from, to, seq uint64) raft.Message {
	return raft.Message{Type: raft.MsgHeartbeat, From: from, To: to, Term: 1, Seq: seq}
}
