package tcp

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// BenchmarkThroughput streams messages from one transport to another over
// loopback, the way a leader streams appends to a follower: batches of
// perSend messages per Send call, at most window messages in flight (so
// the bounded queue never drops). It reports messages/s and MB/s of
// encoded message bytes (frame headers excluded).
//
//	go test -run '^$' -bench Throughput -benchtime 3s ./internal/transport/tcp/
func BenchmarkThroughput(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload int // bytes of entry data per message; 0 means a heartbeat
		perSend int
	}{
		{"heartbeat", 0, 64},
		{"app-128B", 128, 64},
		{"app-1KiB", 1 << 10, 64},
		{"app-16KiB", 16 << 10, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := heartbeat(1, 2, 1)
			if bc.payload > 0 {
				m = raft.Message{Type: raft.MsgApp, From: 1, To: 2, Term: 3, Index: 100, LogTerm: 3, Commit: 99,
					Entries: []raft.Entry{{Term: 3, Index: 101, ClientID: 7, RequestID: 8, Data: make([]byte, bc.payload)}}}
			}
			benchStream(b, m, bc.perSend)
		})
	}
}

func benchStream(b *testing.B, m raft.Message, perSend int) {
	const window = 2048
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	nodes := cluster(b, 2, func(id uint64, c *Config) {
		c.QueueMessages, c.QueueBytes = 4*window, 1<<30
		if id == 2 {
			c.Handler = func(raft.Message) {
				if received.Add(1)%128 == 0 {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		}
	})
	batch := make([]raft.Message, perSend)
	for i := range batch {
		batch[i] = m
	}
	size := wire.MessageSize(&m)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		for int64(sent)-received.Load() > window-int64(perSend) {
			select {
			case <-progress:
			case <-time.After(waitTimeout):
				b.Fatalf("stalled at %d sent, %d received: %+v", sent, received.Load(), nodes[0].tr.Stats())
			}
		}
		n := min(perSend, b.N-sent)
		nodes[0].tr.Send(batch[:n])
		sent += n
	}
	for received.Load() < int64(b.N) {
		select {
		case <-progress:
		case <-time.After(10 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	ps := peerStats(b, nodes[0].tr, 2)
	if ps.Dropped() != 0 {
		b.Fatalf("dropped %d messages", ps.Dropped())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if ps.Writes > 0 {
		b.ReportMetric(float64(ps.SentMessages)/float64(ps.Writes), "msgs/write")
	}
}

// BenchmarkSnapshot40MiB sends one 40 MiB snapshot per iteration and waits
// for it to be reassembled on the other side.
//
//	go test -run '^$' -bench Snapshot -benchtime 20x ./internal/transport/tcp/
func BenchmarkSnapshot40MiB(b *testing.B) {
	var received atomic.Int64
	done := make(chan struct{}, 1)
	nodes := cluster(b, 2, func(id uint64, c *Config) {
		if id == 2 {
			c.Handler = func(raft.Message) { received.Add(1); done <- struct{}{} }
		}
	})
	m := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Data: make([]byte, 40<<20)}}
	b.SetBytes(int64(wire.MessageSize(&m)))
	b.ResetTimer()
	for range b.N {
		nodes[0].tr.Send([]raft.Message{m})
		select {
		case <-done:
		case <-time.After(waitTimeout):
			b.Fatalf("snapshot not delivered: %+v", nodes[0].tr.Stats())
		}
	}
	b.StopTimer()
	if got := received.Load(); got != int64(b.N) {
		b.Fatal(fmt.Sprintf("received %d of %d", got, b.N))
	}
}

// BenchmarkRoundTrip measures one request/response between two transports
// (a heartbeat answered from the receiver's handler), one at a time: the
// latency the transport adds on top of loopback.
//
//	go test -run '^$' -bench RoundTrip -benchtime 3s ./internal/transport/tcp/
func BenchmarkRoundTrip(b *testing.B) {
	pong := make(chan struct{}, 1)
	var nodes []*node
	nodes = cluster(b, 2, func(id uint64, c *Config) {
		if id == 1 {
			c.Handler = func(raft.Message) { pong <- struct{}{} }
		} else {
			c.Handler = func(m raft.Message) {
				nodes[1].tr.Send([]raft.Message{{Type: raft.MsgHeartbeatResp, From: 2, To: 1, Seq: m.Seq}})
			}
		}
	})
	b.ResetTimer()
	for i := range b.N {
		nodes[0].tr.Send([]raft.Message{heartbeat(1, 2, uint64(i))})
		select {
		case <-pong:
		case <-time.After(waitTimeout):
			b.Fatalf("no answer to round trip %d", i)
		}
	}
}
