package udpjson

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// The event loop must wake both for datagrams and for timer ticks. Three
// ways to do that, measured by BenchmarkHop as the round-trip time to an
// echo server in a separate process (as the simulator and the replicas
// are) that wakes in each way:
//
//   - deadline: the loop itself reads, with a read deadline at the next
//     tick (what Conn does);
//   - channel: a reader goroutine hands each datagram to the loop over a
//     channel, and the loop selects on it and a ticker;
//   - blocking (Linux): the loop's OS thread blocks in recvfrom on a
//     blocking socket with SO_RCVTIMEO as the tick, bypassing Go's
//     netpoller.
//
//	go test -run '^$' -bench Hop -benchtime 20000x ./internal/transport/udpjson/

const echoEnv = "UDPJSON_ECHO_MODE"

// tickEvery is the echo servers' tick interval: a realistic replica tick.
const tickEvery = 5 * time.Millisecond

func TestMain(m *testing.M) {
	if mode := os.Getenv(echoEnv); mode != "" {
		if err := runEcho(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runEcho serves until its stdin closes (the parent is done or dead).
func runEcho(mode string) error {
	if mode != "channel" { // the channel server watches stdin itself
		go func() {
			io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
	}
	announce := func(port int) { fmt.Printf("port %d\n", port) }
	switch mode {
	case "deadline":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		announce(c.LocalAddr().(*net.UDPAddr).Port)
		buf := make([]byte, 1<<16)
		next := time.Now().Add(tickEvery)
		for {
			if err := c.SetReadDeadline(next); err != nil {
				return err
			}
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				if os.IsTimeout(err) {
					next = next.Add(tickEvery)
					continue
				}
				return err
			}
			if _, err := c.WriteToUDPAddrPort(buf[:n], from); err != nil {
				return err
			}
		}
	case "channel":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		announce(c.LocalAddr().(*net.UDPAddr).Port)
		type packet struct {
			data []byte
			from netip.AddrPort
			read time.Time
		}
		ch := make(chan packet, 256)
		go func() {
			buf := make([]byte, 1<<16)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					close(ch)
					return
				}
				ch <- packet{append([]byte(nil), buf[:n]...), from, time.Now()}
			}
		}()
		ticker := time.NewTicker(tickEvery)
		defer ticker.Stop()
		// The handoff (read returns -> loop has the datagram) is measured
		// here and reported when stdin closes.
		handoff := make([]time.Duration, 0, 1<<16)
		stopped := make(chan struct{})
		go func() {
			io.Copy(io.Discard, os.Stdin)
			close(stopped)
		}()
		for {
			select {
			case <-stopped:
				slices.Sort(handoff)
				if n := len(handoff); n > 0 {
					fmt.Printf("goroutine+channel handoff p50 %.2fµs p90 %.2fµs over %d datagrams\n",
						float64(handoff[n/2].Nanoseconds())/1e3, float64(handoff[n*9/10].Nanoseconds())/1e3, n)
				}
				os.Exit(0)
			case p, ok := <-ch:
				if !ok {
					return nil
				}
				if len(handoff) < cap(handoff) {
					handoff = append(handoff, time.Since(p.read))
				}
				if _, err := c.WriteToUDPAddrPort(p.data, p.from); err != nil {
					return err
				}
			case <-ticker.C:
			}
		}
	case "blocking":
		return blockingEcho(announce)
	}
	return fmt.Errorf("unknown echo mode %q", mode)
}

func BenchmarkHop(b *testing.B) {
	payload, err := AppendRaft(nil, new(typicalApp(b)), 0)
	if err != nil {
		b.Fatal(err)
	}
	// The three servers run at once and are pinged in turn, so that the
	// machine's load, which varies a lot on a shared two-core box, weighs
	// on each mode alike.
	modes := []string{"deadline", "channel", "blocking"}
	type server struct {
		to   netip.AddrPort
		stop func() string
		rtt  []time.Duration
	}
	servers := make([]*server, len(modes))
	for i, mode := range modes {
		port, stop := startEcho(b, mode)
		servers[i] = &server{to: netip.AddrPortFrom(loopback, uint16(port)), stop: stop}
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<16)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	ping := func(s *server) time.Duration {
		start := time.Now()
		if _, err := c.WriteToUDPAddrPort(payload, s.to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for i := 0; i < 1000; i++ { // warm up
		ping(servers[i%len(servers)])
	}
	b.ResetTimer()
	for i := range b.N {
		for k := range servers {
			s := servers[(i+k)%len(servers)]
			s.rtt = append(s.rtt, ping(s))
		}
	}
	b.StopTimer()
	for i, s := range servers {
		slices.Sort(s.rtt)
		n := len(s.rtt)
		b.ReportMetric(float64(s.rtt[n/2].Nanoseconds())/1e3, modes[i]+"-p50-µs")
		b.ReportMetric(float64(s.rtt[n*9/10].Nanoseconds())/1e3, modes[i]+"-p90-µs")
		if report := s.stop(); report != "" {
			b.Logf("%s server: %s", modes[i], report)
		}
	}
}

// startEcho runs this test binary as an echo server in mode.
func startEcho(b *testing.B, mode string) (port int, stop func() string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	stop = func() string {
		stdin.Close()
		rest, _ := io.ReadAll(out)
		cmd.Wait()
		return strings.TrimSpace(string(rest))
	}
	line, err := out.ReadString('\n')
	if err != nil {
		stop()
		b.Skipf("echo server %s: %v", mode, err)
	}
	port, err = strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "port "))
	if err != nil {
		stop()
		b.Fatalf("echo server said %q", line)
	}
	return port, stop
}

// BenchmarkConnRoundTrip measures what Conn adds to a round trip: the same
// echo server (deadline mode) is pinged in turn by a bare socket and by a
// Conn that Sends a typical MsgApp (addressed to itself, so that the echo
// is its own) and Recvs it decoded.
//
//	go test -run '^$' -bench ConnRoundTrip -benchtime 20000x ./internal/transport/udpjson/
func BenchmarkConnRoundTrip(b *testing.B) {
	port, stop := startEcho(b, "deadline")
	defer stop()
	conn, err := Listen(port, "0000", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msgs := []raft.Message{typicalApp(b)}
	msgs[0].From, msgs[0].To = 1, 1
	payload, _ := AppendRaft(nil, &msgs[0], 0)
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(time.Minute))
	to := netip.AddrPortFrom(loopback, uint16(port))
	buf := make([]byte, 1<<16)
	viaRaw := func() time.Duration {
		start := time.Now()
		raw.WriteToUDPAddrPort(payload, to)
		if _, _, err := raw.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	deadline := time.Now().Add(time.Minute)
	viaConn := func() time.Duration {
		start := time.Now()
		if err := conn.Send(msgs, 0); err != nil {
			b.Fatal(err)
		}
		conn.SetReadDeadline(deadline)
		if _, err := conn.Recv(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 1000 {
		viaRaw()
		viaConn()
	}
	var rawRTT, connRTT []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			rawRTT = append(rawRTT, viaRaw())
			connRTT = append(connRTT, viaConn())
		} else {
			connRTT = append(connRTT, viaConn())
			rawRTT = append(rawRTT, viaRaw())
		}
	}
	b.StopTimer()
	for name, d := range map[string][]time.Duration{"raw": rawRTT, "conn": connRTT} {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1e3, name+"-p50-µs")
	}
}
