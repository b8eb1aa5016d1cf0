package coursesim

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/raftkv/raftkv/internal/cpuwarm"
)

// The latency floor: how fast could any replica answer through this
// simulator, on this machine? A put must cross the simulator four times
// (client -> leader -> a follower -> a second follower, which is the first
// replica that knows a majority of five holds the write -> client), a get
// twice. The floor replica below does exactly that and nothing more: no
// Raft, no terms, no timers, no JSON decoding beyond finding a few fields;
// replica 0000 is the leader forever, keeps the map and answers gets, and
// the chain 0000 -> 0001 -> 0002 answers puts. Its median latency under a
// scenario is a lower bound for the median of a real replica, which must
// do at least this work per request.
//
//	go test -run '^$' -bench LatencyFloor -benchtime 3x ./internal/coursesim/

// floorEnv makes the test binary act as a floor replica (the simulator
// starts it with the replica's arguments, and children inherit the
// environment).
const floorEnv = "COURSESIM_FLOOR_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(floorEnv) != "" {
		if err := floorReplica(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor replica:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func floorReplica(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: <port> <id> <peers...>")
	}
	port, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	self := args[1]
	if os.Getenv("RAFTKV_WARM") != "0" {
		// The same spinner as cmd/3700kvstore, so that the floor is
		// measured under the same conditions.
		cpuwarm.Start()
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	sim := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	send := func(s string) {
		if _, err := conn.WriteToUDPAddrPort([]byte(s), sim); err != nil {
			fmt.Fprintln(os.Stderr, "floor replica: send:", err)
		}
	}
	send(`{"src":"` + self + `","dst":"FFFF","leader":"FFFF","type":"hello"}`)
	kv := map[string]string{}
	buf := make([]byte, 1<<16)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		d := buf[:n]
		src, typ, mid := floorField(d, "src"), floorField(d, "type"), floorField(d, "MID")
		head := `{"src":"` + self + `","dst":"`
		switch {
		case (typ == "get" || typ == "put") && self != "0000":
			send(head + src + `","leader":"0000","type":"redirect","MID":"` + mid + `"}`)
		case typ == "get":
			send(head + src + `","leader":"0000","type":"ok","MID":"` + mid + `","value":"` + kv[floorField(d, "key")] + `"}`)
		case typ == "put":
			kv[floorField(d, "key")] = floorField(d, "value")
			send(head + `0001","leader":"0000","type":"fw","cl":"` + src + `","MID":"` + mid + `"}`)
		case typ == "fw" && self == "0001":
			send(head + `0002","leader":"0000","type":"fw","cl":"` + floorField(d, "cl") + `","MID":"` + mid + `"}`)
		case typ == "fw":
			send(head + floorField(d, "cl") + `","leader":"0000","type":"ok","MID":"` + mid + `"}`)
		}
	}
}

// floorField returns the string value of "name" in a flat JSON object
// written without spaces, as the simulator writes them.
func floorField(d []byte, name string) string {
	i := bytes.Index(d, []byte(`"`+name+`":"`))
	if i < 0 {
		return ""
	}
	rest := d[i+len(name)+4:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// BenchmarkLatencyFloor runs the floor replica under a fault-free, 80%
// puts scenario (simple-2's shape, shortened) and reports its median
// latency: the least any replica can reach here.
func BenchmarkLatencyFloor(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv(floorEnv, "1")
	sc := Scenario{
		Name: "floor", Replicas: 5, Requests: 300, Lifetime: 10, StartWait: 1, EndWait: 1,
		Mix: 0.2, MaxPackets: 20000,
	}
	for i := range b.N {
		res, err := Run(context.Background(), sc, Options{ReplicaPath: exe, Seed: uint64(i + 1)})
		if err != nil {
			b.Fatal(err)
		}
		l := res.Stats.Latency
		b.ReportMetric(l.Median*1e6, "median-us")
		b.ReportMetric(l.P90*1e6, "p90-us")
		b.Logf("seed %d: %d replies, median %.0fµs, p90 %.0fµs, %d incorrect answers", i+1, l.Count, l.Median*1e6, l.P90*1e6, res.Stats.IncorrectAnswers)
	}
}
