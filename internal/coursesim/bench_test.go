package coursesim

import (
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// A typical Raft append as a classroom replica might send it.
var benchAppend = []byte(`{"src": "0001", "dst": "0003", "leader": "0001", "type": "append", "term": 3, "prev_index": 41, "prev_term": 3, "commit": 40, "entries": [{"term": 3, "key": "8JY1TSW1LQHT1XGR6BV3M1C0E5YDZK5W", "value": "0c9d5c0e5bb6dbdc2a3e1e6b6b0dfb4a", "client": "0015", "MID": "4K7ZQ0PD1N2X8V6C"}]}`)

func BenchmarkDecodeMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAppend)))
	var m message
	for b.Loop() {
		if err := decodeMessage(benchAppend, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineBroadcast is the engine's decision for one broadcast to
// four replicas: decode, count, partition and drop checks, no I/O.
func BenchmarkEngineBroadcast(b *testing.B) {
	sc := benchScenario(5)
	sc.Drops = 0.1
	e := newEngine(sc, 1)
	for i := range e.n {
		e.addr[i] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+i))
	}
	msg := []byte(`{"src":"0000","dst":"FFFF","leader":"0000","type":"append","term":3,"entries":[]}`)
	var out step
	b.ReportAllocs()
	for b.Loop() {
		out.reset()
		e.datagram(0, e.addr[0], msg, time.Second, &out)
	}
}

func benchScenario(n int) Scenario {
	return Scenario{Name: "bench", Replicas: n, Lifetime: 1, Mix: 0.5, MaxPackets: math.MaxInt}
}

// endpoint is a UDP socket with blocking syscalls, standing in for a
// replica process: a thread blocked in recvfrom is woken by the kernel
// directly, as a separate process would be, without Go's scheduler in the
// way.
type endpoint struct {
	fd   int
	port int
}

func newEndpoint(tb testing.TB) *endpoint {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	// A receive timeout keeps a lost datagram from hanging the benchmark.
	tv := syscall.NsecToTimeval(int64(5 * time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	return &endpoint{fd: fd, port: sa.(*syscall.SockaddrInet4).Port}
}

// send and recv retry when a signal interrupts them: the Go runtime
// preempts threads with signals, and a socket with a receive timeout is
// not restarted automatically.
func (e *endpoint) send(data []byte, port int) error {
	for {
		err := syscall.Sendto(e.fd, data, 0, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
		if err != syscall.EINTR {
			return err
		}
	}
}

func (e *endpoint) recv(buf []byte) error {
	for {
		_, _, err := syscall.Recvfrom(e.fd, buf, 0)
		if err != syscall.EINTR {
			return err
		}
	}
}

// pingPong bounces a datagram n times: a sends ping to port aTo, b receives
// it and sends pong to port bTo, a receives the pong. It returns the median
// round trip, which a busy machine disturbs less than the mean.
func pingPong(tb testing.TB, n int, a, b *endpoint, aTo, bTo int, ping, pong []byte) time.Duration {
	tb.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, 1<<16)
		for range n {
			if err := b.recv(buf); err != nil {
				done <- err
				return
			}
			if err := b.send(pong, bTo); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 1<<16)
	rtts := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := a.send(ping, aTo); err != nil {
			tb.Fatal(err)
		}
		if err := a.recv(buf); err != nil {
			tb.Fatal(err)
		}
		rtts = append(rtts, time.Since(t0))
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	slices.Sort(rtts)
	return quantile(rtts, 0.5)
}

var (
	benchPing = []byte(`{"src":"0000","dst":"0001","leader":"0000","type":"ping"}`)
	benchPong = []byte(`{"src":"0001","dst":"0000","leader":"0000","type":"pong"}`)
)

// BenchmarkRoundTripDirect is a UDP round trip between two sockets on
// loopback: the floor any network of replicas pays.
func BenchmarkRoundTripDirect(b *testing.B) {
	x, y := newEndpoint(b), newEndpoint(b)
	pingPong(b, 100, x, y, y.port, x.port, benchPing, benchPong) // warm up
	b.ResetTimer()
	p50 := pingPong(b, b.N, x, y, y.port, x.port, benchPing, benchPong)
	b.ReportMetric(float64(p50)/float64(time.Microsecond), "p50-rtt-us")
}

// BenchmarkRoundTripViaBareForwarder routes the round trip through the
// least any user-space forwarder in Go can do: one goroutine per socket
// that reads and writes the datagram on, with no decoding, lock or
// decision. The difference from BenchmarkRoundTripViaSim is the cost of the
// simulator's own work.
func BenchmarkRoundTripViaBareForwarder(b *testing.B) {
	x, y := newEndpoint(b), newEndpoint(b)
	fx, fy := listenLoopback(b), listenLoopback(b)
	forward := func(in, out *net.UDPConn, to int) {
		buf := make([]byte, 1<<16)
		dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(to))
		for {
			n, _, err := in.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by the benchmark's cleanup
			}
			if _, err := out.WriteToUDPAddrPort(buf[:n], dst); err != nil {
				b.Logf("forward: %v", err)
			}
		}
	}
	go forward(fx, fy, y.port)
	go forward(fy, fx, x.port)
	px, py := fx.LocalAddr().(*net.UDPAddr).Port, fy.LocalAddr().(*net.UDPAddr).Port
	pingPong(b, 100, x, y, px, py, benchPing, benchPong)
	b.ResetTimer()
	p50 := pingPong(b, b.N, x, y, px, py, benchPing, benchPong)
	b.ReportMetric(float64(p50)/float64(time.Microsecond), "p50-rtt-us")
}

func listenLoopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkRoundTripViaSim is the same round trip routed through the
// simulator's sockets and reader goroutines (two traversals per op). Half
// the difference from BenchmarkRoundTripDirect is what the simulator adds
// to each traversal.
func BenchmarkRoundTripViaSim(b *testing.B) {
	r := startBareRunner(b, benchScenario(3))
	x, y := newEndpoint(b), newEndpoint(b)
	p0, p1 := r.conns[0].LocalAddr().(*net.UDPAddr).Port, r.conns[1].LocalAddr().(*net.UDPAddr).Port
	if err := x.send([]byte(`{"src":"0000","dst":"FFFF","leader":"FFFF","type":"hello"}`), p0); err != nil {
		b.Fatal(err)
	}
	if err := y.send([]byte(`{"src":"0001","dst":"FFFF","leader":"FFFF","type":"hello"}`), p1); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 5*time.Second, "both hellos", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.eng.addr[0].IsValid() && r.eng.addr[1].IsValid()
	})
	pingPong(b, 100, x, y, p0, p1, benchPing, benchPong)
	b.ResetTimer()
	p50 := pingPong(b, b.N, x, y, p0, p1, benchPing, benchPong)
	b.StopTimer()
	b.ReportMetric(float64(p50)/float64(time.Microsecond), "p50-rtt-us")
	r.cleanup()
	f := summarizeForwarding(r.fwd)
	b.ReportMetric(f.P50Micros, "fwd-p50-us")
	b.ReportMetric(f.P99Micros, "fwd-p99-us")
}

// startBareRunner starts the simulator's sockets and readers without any
// replica process, for tests that play the replicas themselves.
func startBareRunner(tb testing.TB, sc Scenario) *runner {
	tb.Helper()
	r := &runner{
		eng:   newEngine(sc, 1),
		log:   slog.New(slog.DiscardHandler),
		grace: time.Second,
		stop:  make(chan struct{}),
	}
	tb.Cleanup(r.cleanup)
	if err := r.listen(sc.Replicas); err != nil {
		tb.Fatal(err)
	}
	r.start = time.Now()
	for i := range r.conns {
		r.wg.Add(1)
		go r.read(i)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
