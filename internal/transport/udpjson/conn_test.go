package udpjson

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// relay is a tiny stand-in for the classroom simulator: one socket per
// replica; a replica's hello teaches the relay where that replica listens;
// every other datagram is routed on its "dst" (read with encoding/json, so
// the test does not trust our own decoder) and written from the
// destination's socket. Datagrams to anyone else (clients) go to toClient.
type relay struct {
	t        *testing.T
	socks    map[ID]*net.UDPConn
	mu       sync.Mutex
	addrs    map[ID]netip.AddrPort
	toClient chan []byte
	wg       sync.WaitGroup
}

func newRelay(t *testing.T, ids ...ID) *relay {
	r := &relay{t: t, socks: map[ID]*net.UDPConn{}, addrs: map[ID]netip.AddrPort{}, toClient: make(chan []byte, 100)}
	for _, id := range ids {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		r.socks[id] = c
	}
	for id, c := range r.socks {
		r.wg.Add(1)
		go r.serve(id, c)
	}
	t.Cleanup(func() {
		for _, c := range r.socks {
			c.Close()
		}
		r.wg.Wait()
	})
	return r
}

func (r *relay) port(id ID) int { return r.socks[id].LocalAddr().(*net.UDPAddr).Port }

func (r *relay) serve(id ID, c *net.UDPConn) {
	defer r.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		msg := append([]byte(nil), buf[:n]...)
		var hdr struct{ Dst, Type string }
		if err := json.Unmarshal(msg, &hdr); err != nil {
			r.t.Errorf("relay: replica %s sent junk %q", id, msg)
			continue
		}
		if hdr.Type == "hello" {
			r.mu.Lock()
			r.addrs[id] = from
			r.mu.Unlock()
			continue
		}
		dst, err := ParseID(hdr.Dst)
		if err != nil {
			r.t.Errorf("relay: bad dst in %q", msg)
			continue
		}
		r.deliver(dst, msg)
	}
}

// deliver writes msg to dst from dst's own socket, as the simulator does,
// or hands it to the test if dst is not a replica.
func (r *relay) deliver(dst ID, msg []byte) {
	sock, ok := r.socks[dst]
	if !ok {
		r.toClient <- msg
		return
	}
	r.mu.Lock()
	addr, known := r.addrs[dst]
	r.mu.Unlock()
	if !known {
		r.t.Errorf("relay: %s has not said hello", dst)
		return
	}
	if _, err := sock.WriteToUDPAddrPort(msg, addr); err != nil {
		r.t.Errorf("relay: %v", err)
	}
}

func (r *relay) waitHello(ids ...ID) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := 0
		for _, id := range ids {
			if _, ok := r.addrs[id]; ok {
				n++
			}
		}
		r.mu.Unlock()
		if n == len(ids) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	r.t.Fatal("relay: no hello")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func listen(t *testing.T, port int, self string, maxSize int) *Conn {
	t.Helper()
	c, err := ListenConfig(Config{Port: port, Self: self, Logger: testLogger(t), MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv reads with a deadline so a lost datagram fails the test instead of
// hanging it.
func recv(t *testing.T, c *Conn) (Datagram, error) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c.Recv()
}

func TestLoopbackThroughRelay(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRelay(t, 0, 1)
	a := listen(t, r.port(0), "0000", 0)
	b := listen(t, r.port(1), "0001", 0)
	if err := a.SendHello(); err != nil {
		t.Fatal(err)
	}
	if err := b.SendHello(); err != nil {
		t.Fatal(err)
	}
	r.waitHello(0, 1)

	// Raft traffic both ways, every message type.
	msgs := everyRaftMessage(t)
	for _, m := range msgs {
		m.From, m.To = 1, 2
		if err := a.Send([]raft.Message{m}, 0); err != nil {
			t.Fatal(err)
		}
		d, err := recv(t, b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Type != TypeRaft || d.Src != 0 || d.Dst != 1 || d.Leader != 0 || !sameMessage(d.Raft, m) {
			t.Fatalf("b got %+v, want %s", d, raft.DescribeMessage(m))
		}
	}
	resp := raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: 3, Index: 17}
	if err := b.Send([]raft.Message{resp}, Broadcast); err != nil {
		t.Fatal(err)
	}
	if d, err := recv(t, a); err != nil || !sameMessage(d.Raft, resp) || d.Leader != Broadcast {
		t.Fatalf("a got %+v, %v", d, err)
	}

	// A client request reaches b; b's reply reaches the client.
	r.deliver(1, []byte(`{"src":"0015","dst":"0001","leader":"FFFF","type":"get","MID":"ABCDEFGHIJKLMNOP","key":"k1"}`))
	req, err := recv(t, b)
	if err != nil || req.Type != TypeGet || req.Src != 0x15 || req.MID != "ABCDEFGHIJKLMNOP" || req.Key != "k1" {
		t.Fatalf("b got %+v, %v", req, err)
	}
	cmd, _ := CommandOf(&req)
	if err := b.SendClient(cmd.Reply(TypeRedirect, 0, "")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-r.toClient:
		if string(got) != `{"src":"0001","dst":"0015","leader":"0000","type":"redirect","MID":"ABCDEFGHIJKLMNOP"}` {
			t.Errorf("client got %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply reached the client")
	}
	if err := b.SendClient(Datagram{Type: TypeGet}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SendClient(get): %v", err)
	}

	sa, sb := a.Stats(), b.Stats()
	if sa.SentHello != 1 || sa.SentRaft != uint64(len(msgs)) || sa.RecvRaft != 1 || sa.SendErrors != 0 {
		t.Errorf("a stats %+v", sa)
	}
	if sb.SentRaft != 1 || sb.SentClient != 1 || sb.RecvRaft != uint64(len(msgs)) || sb.RecvClient != 1 || sb.Received != uint64(len(msgs))+1 {
		t.Errorf("b stats %+v", sb)
	}
	if sa.SentBytes == 0 || sb.ReceivedBytes == 0 {
		t.Errorf("no bytes counted: %+v %+v", sa, sb)
	}
	a.Close()
	b.Close()
	r.closeAndWait()
	waitGoroutines(t, before)
}

func (r *relay) closeAndWait() {
	for _, c := range r.socks {
		c.Close()
	}
	r.wg.Wait()
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > want {
		t.Errorf("%d goroutines, want %d", n, want)
	}
}

// Junk datagrams come back as errors, are counted, and do not disturb the
// datagrams after them.
func TestJunkDoesNotBreakRecv(t *testing.T) {
	c := listen(t, 9, "0002", 0) // sends go nowhere; we only receive
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(c.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	junk := []string{
		"not json", "{}", `[1]`, `{"src":"0000","dst":"0002","leader":"0000","type":"nope"}`,
		`{"src":"0000","dst":"0002","leader":"0000","type":"hb"}`, "{\"src\":\"\xff\"}", "",
		`{"src":"0000","dst":"0002","leader":"0000","type":"hb","term":1` + strings.Repeat(" ", 65000) + `}x`,
	}
	good := `{"src":"0000","dst":"0002","leader":"0000","type":"hb","term":7}`
	for _, j := range junk {
		if _, err := raw.Write([]byte(j)); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Write([]byte(good)); err != nil {
			t.Fatal(err)
		}
	}
	// Misdelivered: addressed to another replica.
	if _, err := raw.Write([]byte(`{"src":"0000","dst":"0003","leader":"0000","type":"hb","term":7}`)); err != nil {
		t.Fatal(err)
	}
	for i, j := range junk {
		if _, err := recv(t, c); err == nil || !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrMissingField) {
			t.Errorf("junk %d %.40q: %v", i, j, err)
		}
		d, err := recv(t, c)
		if err != nil || d.Raft.Term != 7 || d.Raft.To != 3 {
			t.Fatalf("after junk %d: %+v, %v", i, d, err)
		}
	}
	if _, err := recv(t, c); !errors.Is(err, ErrMisdelivered) {
		t.Errorf("misdelivered: %v", err)
	}
	st := c.Stats()
	if st.Malformed != uint64(len(junk)) || st.Misdelivered != 1 || st.RecvRaft != uint64(len(junk)) {
		t.Errorf("stats %+v", st)
	}
}

func TestRecvDeadlineAndClose(t *testing.T) {
	c := listen(t, 9, "0002", 0)
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(); err != ErrTimeout {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if el := time.Since(start); el < 25*time.Millisecond || el > 2*time.Second {
		t.Errorf("timed out after %v", el)
	}
	// A deadline in the past times out at once, even with data waiting:
	// missed ticks come first.
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(c.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte(`{"src":"0000","dst":"0002","leader":"0000","type":"hb","term":7}`))
	time.Sleep(10 * time.Millisecond)
	if _, err := c.Recv(); err != ErrTimeout {
		t.Fatalf("past deadline: %v", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Recv(); err != nil || d.Raft.Term != 7 {
		t.Fatalf("after clearing the deadline: %+v, %v", d, err)
	}
	// Close unblocks a Recv in progress.
	done := make(chan error)
	go func() {
		_, err := c.Recv()
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv did not return after Close")
	}
	if err := c.SendHello(); !errors.Is(err, ErrClosed) {
		t.Errorf("send after Close: %v", err)
	}
}

// A MsgApp larger than the limit arrives as several datagrams that
// together carry every entry.
func TestSendSplitsLargeApp(t *testing.T) {
	r := newRelay(t, 0, 1)
	a := listen(t, r.port(0), "0000", 1000)
	b := listen(t, r.port(1), "0001", 0)
	a.SendHello()
	b.SendHello()
	r.waitHello(0, 1)
	m := raft.Message{Type: raft.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2, Commit: 10, Entries: manyPuts(t, 40)}
	if err := a.Send([]raft.Message{m}, 0); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	if st.Splits != 1 || st.SentRaft < 5 {
		t.Fatalf("stats %+v", st)
	}
	var got []raft.Entry
	for range st.SentRaft {
		d, err := recv(t, b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Raft.Entries...)
	}
	if !sameMessage(raft.Message{Entries: got}, raft.Message{Entries: m.Entries}) {
		t.Error("entries lost in the split")
	}
	// What cannot fit is dropped, counted and reported; the rest still goes.
	snap := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Term: 2,
		Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 5, Term: 1}, Data: make([]byte, 2000)}}
	hb := typicalHeartbeat()
	bad := raft.Message{Type: 0, From: 1, To: 2}
	err := a.Send([]raft.Message{snap, hb, bad}, 0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "2 of 3") {
		t.Errorf("send: %v", err)
	}
	if d, err := recv(t, b); err != nil || d.Raft.Type != raft.MsgHeartbeat {
		t.Errorf("heartbeat after a dropped snapshot: %+v %v", d, err)
	}
	if st := a.Stats(); st.TooLarge != 1 || st.SendErrors != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestListenRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Port: 0, Self: "0000"},
		{Port: 70000, Self: "0000"},
		{Port: 9, Self: "000"},
		{Port: 9, Self: "FFFF"},
		{Port: 9, Self: "0000", MaxSize: 100},
		{Port: 9, Self: "0000", MaxSize: 70000},
	} {
		if c, err := ListenConfig(cfg); err == nil {
			c.Close()
			t.Errorf("%+v: accepted", cfg)
		}
	}
}
