package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// Many messages, both ways at once, arrive complete, unchanged and in order.
func TestManyMessagesArriveInOrder(t *testing.T) {
	checkGoroutines(t)
	const n = 20000
	nodes := cluster(t, 2, func(_ uint64, c *Config) { c.QueueMessages = n })
	send := func(from, to *node) {
		for i := 0; i < n; i += 100 {
			batch := make([]raft.Message, 0, 100)
			for j := i; j < i+100; j++ {
				m := raft.Message{Type: raft.MsgApp, From: from.id, To: to.id, Term: 3, Index: uint64(j), Commit: uint64(j)}
				if j%7 == 0 {
					m.Entries = []raft.Entry{{Term: 3, Index: uint64(j + 1), ClientID: 9, RequestID: uint64(j), Data: []byte("value")}}
					m.Chain = []uint64{to.id}
				}
				batch = append(batch, m)
			}
			from.tr.Send(batch)
		}
	}
	go send(nodes[0], nodes[1])
	send(nodes[1], nodes[0])
	for _, nd := range nodes {
		waitFor(t, "all messages delivered", func() bool { return nd.in.count() >= n })
		for i, m := range nd.in.messages() {
			if m.Index != uint64(i) {
				t.Fatalf("node %d: message %d has Index %d: out of order", nd.id, i, m.Index)
			}
			want := raft.Message{Type: raft.MsgApp, From: 3 - nd.id, To: nd.id, Term: 3, Index: uint64(i), Commit: uint64(i)}
			if i%7 == 0 {
				want.Entries = []raft.Entry{{Term: 3, Index: uint64(i + 1), ClientID: 9, RequestID: uint64(i), Data: []byte("value")}}
				want.Chain = []uint64{nd.id}
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("node %d: message %d changed in transit:\n got %+v\nwant %+v", nd.id, i, m, want)
			}
		}
		ps := peerStats(t, nd.tr, 3-nd.id)
		if ps.Dropped() != 0 || ps.ReceivedMessages != n || ps.SentMessages != n {
			t.Errorf("node %d stats: %+v", nd.id, ps)
		}
	}
}

// A burst queued in one Send travels in a few large writes, not one per
// message.
func TestBatchingCoalescesWrites(t *testing.T) {
	checkGoroutines(t)
	const n = 2000
	nodes := cluster(t, 2, nil)
	batch := make([]raft.Message, n)
	for i := range batch {
		batch[i] = heartbeat(1, 2, uint64(i))
	}
	nodes[0].tr.Send(batch)
	waitFor(t, "burst delivered", func() bool { return nodes[1].in.count() == n })
	// The receiver can see the bytes before the sender's write returns and
	// is counted: wait for the two sides to agree.
	var ps PeerStats
	waitFor(t, "the sender's counters", func() bool {
		ps = peerStats(t, nodes[0].tr, 2)
		return ps.SentBytes == peerStats(t, nodes[1].tr, 1).ReceivedBytes
	})
	t.Logf("%d messages, %d bytes in %d writes", ps.SentMessages, ps.SentBytes, ps.Writes)
	if ps.Writes == 0 || ps.SentMessages/ps.Writes < 20 {
		t.Errorf("%d messages took %d writes; want at least 20 messages per write", ps.SentMessages, ps.Writes)
	}
}

// When a peer cannot keep up, Send keeps returning at once and drops.
func TestFullQueueDropsInsteadOfBlocking(t *testing.T) {
	checkGoroutines(t)
	t.Run("peer never answers the handshake", func(t *testing.T) {
		hole := listen(t) // accepts at the kernel level, never answers
		defer hole.Close()
		in := newInbox()
		tr := startTransport(t, Config{
			ID: 1, ListenAddr: "127.0.0.1:0", Peers: map[uint64]string{2: hole.Addr().String()},
			Handler: in.handle, OnSnapshotStatus: in.onSnapshot, QueueMessages: 16,
		})
		const n = 1000
		sendWithin(t, tr, func() {
			for i := range n {
				tr.Send([]raft.Message{heartbeat(1, 2, uint64(i))})
			}
		})
		ps := peerStats(t, tr, 2)
		if ps.DroppedQueueFull != n-16 || ps.QueuedMessages != 16 {
			t.Errorf("dropped %d, queued %d; want %d and 16", ps.DroppedQueueFull, ps.QueuedMessages, n-16)
		}
		closeWithin(t, tr) // interrupts the handshake in progress
	})
	t.Run("peer stops reading", func(t *testing.T) {
		release := make(chan struct{})
		nodes := cluster(t, 2, func(id uint64, c *Config) {
			c.QueueMessages = 64
			if id == 2 {
				c.Handler = func(raft.Message) { <-release }
			}
		})
		t.Cleanup(func() { close(release) }) // runs before the Closes
		big := raft.Message{Type: raft.MsgApp, From: 1, To: 2, Entries: []raft.Entry{{Data: make([]byte, 64<<10)}}}
		sendWithin(t, nodes[0].tr, func() {
			waitFor(t, "queue-full drops", func() bool {
				nodes[0].tr.Send([]raft.Message{big, big, big, big})
				return peerStats(t, nodes[0].tr, 2).DroppedQueueFull > 0
			})
		})
	})
}

// sendWithin runs f, which only calls Send, and fails if it takes long
// enough to suggest Send blocked.
func sendWithin(t *testing.T, tr *Transport, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("Send blocked")
	}
}

func closeWithin(t *testing.T, tr *Transport) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- tr.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Close did not return")
	}
}

// A peer that goes away is reported unreachable, and reconnected to once
// it is back at the same address.
func TestReconnectsToRestartedPeer(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	a.tr.Send([]raft.Message{heartbeat(1, 2, 1)})
	waitFor(t, "first delivery", func() bool { return b.in.count() == 1 })

	closeWithin(t, b.tr)
	seq := uint64(1)
	waitFor(t, "peer 2 reported unreachable", func() bool {
		seq++
		a.tr.Send([]raft.Message{heartbeat(1, 2, seq)})
		return a.in.unreachableCount(2) > 0
	})

	// Bring node 2 back on the same address.
	var ln net.Listener
	waitFor(t, "the old address to be free", func() bool {
		var err error
		ln, err = net.Listen("tcp", b.addr)
		return err == nil
	})
	in := newInbox()
	startTransport(t, Config{ID: 2, ClusterID: "test", Listener: ln, Peers: map[uint64]string{1: a.addr}, Handler: in.handle})
	waitFor(t, "delivery to the restarted peer", func() bool {
		seq++
		a.tr.Send([]raft.Message{heartbeat(1, 2, seq)})
		return in.count() > 0
	})
	ps := peerStats(t, a.tr, 2)
	if ps.Dials < 2 || ps.DialFailures+1 > ps.Dials {
		t.Errorf("dials %d, failures %d: want a failed and a successful redial", ps.Dials, ps.DialFailures)
	}
	if !a.logs.contains("cannot reach peer") && !a.logs.contains("lost connection to peer") {
		t.Errorf("no log of the outage:\n%s", a.logs)
	}
}

func TestHandshakeRejections(t *testing.T) {
	cases := []struct {
		name   string
		tweak  func(id uint64, c *Config)
		reason string
	}{
		{"wrong cluster id", func(id uint64, c *Config) {
			if id == 2 {
				c.ClusterID = "other"
			}
		}, `cluster id mismatch: node 2 belongs to cluster`},
		{"unknown node", func(id uint64, c *Config) {
			if id == 2 {
				c.Peers = map[uint64]string{3: "127.0.0.1:1"}
			}
		}, `unknown node 1: it is not a peer of node 2`},
		{"wrong address for the node", func(id uint64, c *Config) {
			if id == 1 {
				c.Peers = map[uint64]string{3: c.Peers[2]}
			}
			if id == 2 {
				c.Peers = map[uint64]string{1: "127.0.0.1:1"}
			}
		}, `the dialer meant to reach node 3 but reached node 2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			nodes := cluster(t, 2, tc.tweak)
			a, b := nodes[0], nodes[1]
			to := uint64(2)
			if _, ok := a.tr.Stats().Peer(2); !ok {
				to = 3
			}
			waitFor(t, "rejection logged on both sides", func() bool {
				a.tr.Send([]raft.Message{heartbeat(1, to, 1)})
				return a.logs.contains("peer rejected our handshake") && a.logs.contains(tc.reason) &&
					b.logs.contains("refused peer connection") && b.logs.contains(tc.reason)
			})
			if got := b.tr.Stats().RejectedHandshakes; got == 0 {
				t.Errorf("RejectedHandshakes = 0")
			}
			if b.in.count() != 0 {
				t.Errorf("a rejected peer's message was delivered")
			}
			waitFor(t, "unreachable report", func() bool { return a.in.unreachableCount(to) > 0 })
		})
	}
}

// rawPeer dials tr as node from and completes the handshake by hand, so a
// test can then write arbitrary frames.
func rawPeer(t *testing.T, addr string, from, to uint64, cluster string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(appendFrame(nil, kindHello, appendHello(nil, hello{Version: protocolVersion, ClusterID: cluster, From: from, To: to}))); err != nil {
		t.Fatalf("send hello: %v", err)
	}
	fr := frameReader{br: bufio.NewReader(c), maxBody: maxHandshakeFrame}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	kind, body, _, err := fr.next()
	if err != nil || kind != kindAck {
		t.Fatalf("handshake reply: kind %d, %v", kind, err)
	}
	a, err := decodeAck(body)
	if err != nil || !a.OK {
		t.Fatalf("handshake refused: %+v, %v", a, err)
	}
	return c
}

// expectClosed fails unless the other side closes c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", waitTimeout)
	}
}

func TestBadInboundFramesCloseTheConnection(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		log   string
	}{
		{"oversized frame", appendFrameHeader(nil, kindMessage, 1<<20), "frame too large"},
		{"unknown frame kind", []byte{77, 1, 0}, "unknown frame kind 77"},
		{"corrupt message", appendFrame(nil, kindMessage, []byte{wire.Version, 99, 0}), "unknown message type 99"},
		{"second hello", appendFrame(nil, kindHello, appendHello(nil, hello{Version: 1, From: 1, To: 2})), "unexpected hello frame"},
		{"chunk out of sequence", appendFrame(nil, kindChunk, []byte{1, 10, 5, 'x'}), "out of sequence"},
		{"snapshot over the limit", append(appendChunkHeader(nil, 1, 1<<40, 0, 1), 'x'), "snapshot 1 declares"},
		{"chunk of a non-snapshot", chunkFrames(&raft.Message{Type: raft.MsgApp, From: 1, To: 2}), "only snapshots are chunked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			nodes := cluster(t, 2, func(_ uint64, c *Config) { c.MaxFrameSize = 64 << 10; c.SnapshotChunkSize = 1 << 10 })
			b := nodes[1]
			c := rawPeer(t, b.addr, 1, 2, "test")
			ok := appendFrame(nil, kindMessage, wire.AppendMessage(nil, &raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 2, Seq: 7}))
			if _, err := c.Write(append(ok, tc.frame...)); err != nil {
				t.Fatalf("write: %v", err)
			}
			expectClosed(t, c)
			waitFor(t, "the error logged", func() bool { return b.logs.contains(tc.log) })
			if got := b.tr.Stats().ProtocolErrors; got != 1 {
				t.Errorf("ProtocolErrors = %d, want 1", got)
			}
			if b.in.count() != 1 {
				t.Errorf("delivered %d messages, want the 1 valid one", b.in.count())
			}
			// The node is still fine: its real peer gets through.
			nodes[0].tr.Send([]raft.Message{heartbeat(1, 2, 8)})
			waitFor(t, "delivery after the bad connection", func() bool { return b.in.count() == 2 })
		})
	}
}

// chunkFrames encodes m and sends it as a single chunk.
func chunkFrames(m *raft.Message) []byte {
	enc := wire.AppendMessage(nil, m)
	return append(appendChunkHeader(nil, 1, uint64(len(enc)), 0, len(enc)), enc...)
}

// Handshakes that are not from a peer of this protocol are closed.
func TestBadHandshakes(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 1, nil)
	b := nodes[0]
	cases := map[string][]byte{
		"http request":     []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"no magic":         appendFrame(nil, kindHello, []byte("nope")),
		"truncated":        appendFrameHeader(nil, kindHello, 40),
		"huge hello":       appendFrameHeader(nil, kindHello, 1<<30),
		"message first":    appendFrame(nil, kindMessage, wire.AppendMessage(nil, &raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 1})),
		"newer version":    appendFrame(nil, kindHello, appendHello(nil, hello{Version: 9, ClusterID: "test", From: 5, To: 1})),
		"claims to be him": appendFrame(nil, kindHello, appendHello(nil, hello{Version: 1, ClusterID: "test", From: 1, To: 1})),
	}
	reasons := map[string]string{
		"newer version":    "protocol version 9 is not supported; node 1 speaks version 1",
		"claims to be him": "the dialer claims to be node 1, which is this node",
	}
	for name, data := range cases {
		c, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatalf("%s: dial: %v", name, err)
		}
		c.Write(data)
		if name == "truncated" {
			c.(*net.TCPConn).CloseWrite()
		}
		if want, ok := reasons[name]; ok {
			// A peer that speaks the protocol is told why.
			fr := frameReader{br: bufio.NewReader(c), maxBody: maxHandshakeFrame}
			c.SetReadDeadline(time.Now().Add(waitTimeout))
			kind, body, _, err := fr.next()
			a, aerr := decodeAck(body)
			if err != nil || kind != kindAck || aerr != nil || a.OK || a.Reason != want {
				t.Errorf("%s: reply kind %d %+v (%v, %v), want a rejection saying %q", name, kind, a, err, aerr, want)
			}
		}
		expectClosed(t, c)
		c.Close()
	}
	if got := b.tr.Stats().RejectedHandshakes; got != 6 {
		t.Errorf("RejectedHandshakes = %d, want 6 (all but the truncated hello)", got)
	}
}

// A connection may only carry messages from the node it authenticated as,
// to this node; others are dropped without closing it.
func TestMessagesMustComeFromTheHandshakeNode(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 3, nil)
	b := nodes[1]
	c := rawPeer(t, b.addr, 1, 2, "test")
	var frames []byte
	for _, m := range []raft.Message{heartbeat(3, 2, 1), heartbeat(1, 5, 2), heartbeat(1, 2, 3)} {
		frames = appendFrame(frames, kindMessage, wire.AppendMessage(nil, &m))
	}
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the valid message", func() bool { return b.in.count() == 1 })
	if got := b.in.messages()[0].Seq; got != 3 {
		t.Errorf("delivered Seq %d, want 3", got)
	}
	if ps := peerStats(t, b.tr, 1); ps.ReceivedDropped != 2 || ps.ReceivedMessages != 1 {
		t.Errorf("received %d, dropped %d; want 1 and 2", ps.ReceivedMessages, ps.ReceivedDropped)
	}

	// And on the sending side, a message not from this node never leaves.
	nodes[0].tr.Send([]raft.Message{heartbeat(3, 2, 4)})
	if got := nodes[0].tr.Stats().DroppedInvalid; got != 1 {
		t.Errorf("DroppedInvalid = %d, want 1", got)
	}
}

func TestOversizedOutboundMessageIsRefused(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 2, func(_ uint64, c *Config) { c.MaxFrameSize = 64 << 10 })
	a, b := nodes[0], nodes[1]
	big := raft.Message{Type: raft.MsgApp, From: 1, To: 2, Entries: []raft.Entry{{Data: make([]byte, 65<<10)}}}
	a.tr.Send([]raft.Message{big, heartbeat(1, 2, 1)})
	waitFor(t, "the heartbeat", func() bool { return b.in.count() == 1 })
	if ps := peerStats(t, a.tr, 2); ps.DroppedTooLarge != 1 || ps.SentMessages != 1 {
		t.Errorf("too large %d, sent %d; want 1 and 1", ps.DroppedTooLarge, ps.SentMessages)
	}
}

// A 40 MiB snapshot, well over the 16 MiB frame limit, travels in chunks,
// is reassembled intact, and heartbeats sent after it are not held back.
func TestLargeSnapshotTravelsInChunks(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	data := make([]byte, 40<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(data); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	snap := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Term: 5, Snapshot: &raft.Snapshot{
		Meta: raft.SnapshotMeta{Index: 1000, Term: 4, Members: []uint64{1, 2, 3}}, Data: data}}
	a.tr.Send([]raft.Message{snap})
	for i := range 50 {
		a.tr.Send([]raft.Message{heartbeat(1, 2, uint64(i))})
	}
	waitFor(t, "snapshot delivered", func() bool { return b.in.count() == 51 })
	var got *raft.Message
	for _, m := range b.in.messages() {
		if m.Type == raft.MsgSnap {
			got = &m
		}
	}
	if got == nil || got.Term != 5 || !reflect.DeepEqual(got.Snapshot.Meta, snap.Snapshot.Meta) || !bytes.Equal(got.Snapshot.Data, data) {
		t.Fatalf("snapshot changed in transit")
	}
	if b.in.messages()[0].Type == raft.MsgSnap {
		t.Logf("note: all heartbeats arrived after the snapshot")
	}
	waitFor(t, "snapshot reported sent", func() bool { ok, _ := a.in.snapshotStatus(2); return ok == 1 })
	ps := peerStats(t, a.tr, 2)
	t.Logf("40 MiB snapshot sent in %d chunks", ps.SentChunks)
	if want := uint64(40); ps.SentChunks <= want || ps.SentSnapshots != 1 {
		t.Errorf("sent %d chunks, %d snapshots; want more than %d chunks and 1 snapshot", ps.SentChunks, ps.SentSnapshots, want)
	}
}

func TestSnapshotFailuresAreReported(t *testing.T) {
	checkGoroutines(t)
	t.Run("over MaxSnapshotSize", func(t *testing.T) {
		nodes := cluster(t, 2, func(_ uint64, c *Config) { c.MaxSnapshotSize = 1 << 20 })
		a := nodes[0]
		a.tr.Send([]raft.Message{{Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Data: make([]byte, 2<<20)}}})
		waitFor(t, "failure reported", func() bool { _, failed := a.in.snapshotStatus(2); return failed == 1 })
		if ps := peerStats(t, a.tr, 2); ps.DroppedTooLarge != 1 {
			t.Errorf("DroppedTooLarge = %d", ps.DroppedTooLarge)
		}
	})
	t.Run("peer unreachable", func(t *testing.T) {
		dead := listen(t)
		addr := dead.Addr().String()
		dead.Close()
		in := newInbox()
		tr := startTransport(t, Config{ID: 1, ListenAddr: "127.0.0.1:0", Peers: map[uint64]string{2: addr},
			Handler: in.handle, OnSnapshotStatus: in.onSnapshot, OnUnreachable: in.onUnreachable})
		for _, size := range []int{10, 3 << 20} { // one whole, one chunked
			tr.Send([]raft.Message{{Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Data: make([]byte, size)}}})
		}
		waitFor(t, "both failures reported", func() bool { _, failed := in.snapshotStatus(2); return failed == 2 })
		if in.unreachableCount(2) == 0 {
			t.Errorf("peer not reported unreachable")
		}
	})
}

func TestSendToUnknownPeerIsDroppedAndReported(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 2, nil)
	a := nodes[0]
	a.tr.Send([]raft.Message{heartbeat(1, 9, 1), heartbeat(1, 1, 1)})
	if got := a.tr.Stats().DroppedUnknownPeer; got != 2 {
		t.Errorf("DroppedUnknownPeer = %d, want 2", got)
	}
	waitFor(t, "report", func() bool { return a.in.unreachableCount(9) == 1 && a.in.unreachableCount(1) == 1 })
	if !a.logs.contains("dropped message to unknown peer") {
		t.Errorf("drop not logged")
	}
}

func TestAddAndRemovePeer(t *testing.T) {
	checkGoroutines(t)
	nodes := cluster(t, 3, func(id uint64, c *Config) {
		if id == 1 {
			delete(c.Peers, 3)
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	if err := a.tr.AddPeer(3, c.addr); err != nil {
		t.Fatal(err)
	}
	if err := a.tr.AddPeer(3, c.addr); err != nil {
		t.Fatalf("re-adding with the same address: %v", err)
	}
	for _, bad := range []struct {
		id   uint64
		addr string
	}{{0, "x:1"}, {1, "x:1"}, {4, ""}} {
		if err := a.tr.AddPeer(bad.id, bad.addr); err == nil {
			t.Errorf("AddPeer(%d, %q) accepted", bad.id, bad.addr)
		}
	}
	a.tr.Send([]raft.Message{heartbeat(1, 3, 1)})
	waitFor(t, "delivery to the added peer", func() bool { return c.in.count() == 1 })

	b.tr.Send([]raft.Message{heartbeat(2, 1, 1)})
	waitFor(t, "delivery from peer 2", func() bool { return a.in.count() == 1 })
	a.tr.RemovePeer(2)
	a.tr.RemovePeer(2)
	a.tr.Send([]raft.Message{heartbeat(1, 2, 2)})
	if got := a.tr.Stats().DroppedUnknownPeer; got != 1 {
		t.Errorf("DroppedUnknownPeer = %d after RemovePeer", got)
	}
	// Node 2 still knows node 1, but is now refused.
	waitFor(t, "node 2 refused", func() bool {
		b.tr.Send([]raft.Message{heartbeat(2, 1, 3)})
		return a.tr.Stats().RejectedHandshakes > 0
	})
	if a.in.count() != 1 {
		t.Errorf("a removed peer's message was delivered")
	}
}

func TestLifecycle(t *testing.T) {
	checkGoroutines(t)
	if _, err := New(Config{ID: 1, ListenAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "Handler") {
		t.Errorf("New without a handler: %v", err)
	}
	for name, cfg := range map[string]Config{
		"zero id":      {ListenAddr: "127.0.0.1:0"},
		"self as peer": {ID: 1, ListenAddr: "x:1", Peers: map[uint64]string{1: "x:2"}},
		"no address":   {ID: 1},
		"chunk > max":  {ID: 1, ListenAddr: "x:1", MaxFrameSize: 4096, SnapshotChunkSize: 4096},
	} {
		cfg.Handler = func(raft.Message) {}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted a bad config", name)
		}
	}

	// Close before Start releases the given listener.
	ln := listen(t)
	tr, err := New(Config{ID: 1, Listener: ln, Handler: func(raft.Message) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener not closed: %v", err)
	}
	if err := tr.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}

	// Close in the middle of traffic and of a chunked snapshot.
	nodes := cluster(t, 3, nil)
	snap := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Data: make([]byte, 8<<20)}}
	nodes[0].tr.Send([]raft.Message{snap, heartbeat(1, 3, 1)})
	nodes[2].tr.Send([]raft.Message{heartbeat(3, 1, 1)})
	waitFor(t, "traffic", func() bool { return nodes[0].in.count() == 1 && nodes[2].in.count() == 1 })
	for _, nd := range nodes {
		closeWithin(t, nd.tr)
	}
	if err := nodes[0].tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	nodes[0].tr.Send([]raft.Message{heartbeat(1, 2, 2)})
	if got := nodes[0].tr.Stats().DroppedClosed; got != 1 {
		t.Errorf("DroppedClosed = %d", got)
	}
	if err := nodes[0].tr.AddPeer(7, "x:1"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPeer after Close: %v", err)
	}
	if nodes[0].tr.Addr() == nil {
		t.Errorf("Addr after Close is nil")
	}
}

func TestBackoffIsSeededJitteredAndCapped(t *testing.T) {
	mk := func(seed uint64) *backoff {
		return &backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond, rng: rand.New(rand.NewPCG(seed, 7))}
	}
	a, b, c := mk(1), mk(1), mk(2)
	same, differ := true, false
	bound := 10 * time.Millisecond
	for i := range 10 {
		da, db, dc := a.next(), b.next(), c.next()
		if da < bound/2 || da > bound {
			t.Errorf("step %d: delay %v outside [%v, %v]", i, da, bound/2, bound)
		}
		same = same && da == db
		differ = differ || da != dc
		bound = min(2*bound, 80*time.Millisecond)
	}
	if !same || !differ {
		t.Errorf("same seed same delays: %v; different seed different delays: %v", same, differ)
	}
	a.reset()
	if d := a.next(); d > 10*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}

// A peer that completes the handshake and then drops the connection at
// once is redialled with backoff, not in a hot loop.
func TestFlappingPeerIsRedialledWithBackoff(t *testing.T) {
	checkGoroutines(t)
	ln := listen(t)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fr := frameReader{br: bufio.NewReader(c), maxBody: maxHandshakeFrame}
			if _, _, _, err := fr.next(); err == nil {
				c.Write(appendFrame(nil, kindAck, appendAck(nil, ack{OK: true, Version: protocolVersion})))
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-accepted })
	in := newInbox()
	tr := startTransport(t, Config{ID: 1, ListenAddr: "127.0.0.1:0", Peers: map[uint64]string{2: ln.Addr().String()},
		Handler: in.handle, OnUnreachable: in.onUnreachable, BackoffMin: 20 * time.Millisecond, BackoffMax: time.Second})
	// Keep traffic flowing for a fixed 300 ms. With delays of 10-20, 20-40,
	// 40-80 and 80-160 ms at most about five dials fit; a hot loop would
	// make hundreds. A slow machine only makes fewer.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		tr.Send([]raft.Message{heartbeat(1, 2, 1)})
		time.Sleep(time.Millisecond)
	}
	ps := peerStats(t, tr, 2)
	t.Logf("%d dials in 300 ms", ps.Dials)
	if ps.Dials < 2 || ps.Dials > 8 {
		t.Errorf("%d dials in 300 ms to a peer that drops every connection; want 2 to 8", ps.Dials)
	}
}
