package kv

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// The benchmark workload, shared with the bbolt comparison
// (bench_bbolt_test.go, build tag kvcompare): benchKeys keys of the form
// "key/00000042" (12 bytes) with benchValueSize-byte values, read and
// overwritten at uniformly random positions from a fixed seed.
const (
	benchKeys      = 100_000
	benchValueSize = 100
	benchRange     = 100
)

func benchKey(i int) string { return fmt.Sprintf("key/%08d", i) }

var benchValue = strings.Repeat("v", benchValueSize)

// benchOrder is a fixed pseudo-random sequence of key positions.
func benchOrder(n int) []int {
	rng := rand.New(rand.NewPCG(42, 42))
	out := make([]int, n)
	for i := range out {
		out[i] = rng.IntN(benchKeys)
	}
	return out
}

// benchPutEntries returns n encoded Put entries over random existing keys,
// stamped as a leader would, with their ClientID/RequestID when session.
func benchPutEntries(n int, firstIndex uint64, session bool) []raft.Entry {
	es := make([]raft.Entry, n)
	for i, k := range benchOrder(n) {
		c := Command{Op: OpPut, Key: benchKey(k), Value: benchValue, Timestamp: int64(1_000_000 + i)}
		es[i] = raft.Entry{Index: firstIndex + uint64(i), Type: raft.EntryNormal, Data: AppendCommand(nil, &c)}
		if session {
			es[i].ClientID, es[i].RequestID = uint64(1+i%64), uint64(1+i/64)
		}
	}
	return es
}

// benchStore returns a store holding the benchmark's keys.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := New(Config{})
	for i := 0; i < benchKeys; i++ {
		c := Command{Op: OpPut, Key: benchKey(i), Value: benchValue}
		s.Apply(raft.Entry{Index: uint64(i + 1), Type: raft.EntryNormal, Data: AppendCommand(nil, &c)})
	}
	return s
}

// BenchmarkPut applies one committed Put (decode, version bookkeeping, tree
// update) overwriting a random key of a 100k-key store: the state machine's
// share of a write's latency. With session, the request also goes through
// exactly-once deduplication for one of 64 clients.
func BenchmarkPut(b *testing.B) {
	for _, session := range []bool{false, true} {
		b.Run(fmt.Sprintf("session=%v", session), func(b *testing.B) {
			s := benchStore(b)
			es := benchPutEntries(b.N, s.AppliedIndex()+1, session)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range es {
				if r := s.Apply(es[i]); r.Status != StatusOK {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}

// BenchmarkGet reads one random key of a 100k-key store.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	order := benchOrder(1 << 16)
	keys := make([]string, len(order))
	for i, k := range order {
		keys[i] = benchKey(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.Get(keys[i&(len(keys)-1)]); !ok {
			b.Fatal("missing key")
		}
	}
}

// BenchmarkRange100 reads 100 consecutive keys from a random start in a
// 100k-key store.
func BenchmarkRange100(b *testing.B) {
	s := benchStore(b)
	order := benchOrder(1 << 16)
	reqs := make([]RangeRequest, len(order))
	for i, k := range order {
		reqs[i] = RangeRequest{Start: benchKey(min(k, benchKeys-benchRange)), Limit: benchRange}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.Range(reqs[i&(len(reqs)-1)]); len(res.KVs) != benchRange {
			b.Fatalf("got %d keys", len(res.KVs))
		}
	}
}

// BenchmarkSnapshot writes the image of a 100k-key store (about 12 MB) to
// io.Discard; MB/s is image bytes.
func BenchmarkSnapshot(b *testing.B) {
	s := benchStore(b)
	size := len(snapshotBytes(b, s))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.WriteSnapshot(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore rebuilds a 100k-key store from its image.
func BenchmarkRestore(b *testing.B) {
	image := snapshotBytes(b, benchStore(b))
	b.SetBytes(int64(len(image)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := New(Config{}).Restore(bytes.NewReader(image)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloneThenPut is the cost Clone adds to the apply loop: an O(1)
// clone, then the first Put after it, which copies the tree path it touches.
func BenchmarkCloneThenPut(b *testing.B) {
	s := benchStore(b)
	es := benchPutEntries(b.N, s.AppliedIndex()+1, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range es {
		_ = s.Clone()
		s.Apply(es[i])
	}
}

// BenchmarkLoad builds a 100k-key store from empty and reports the live heap
// it holds per key: the in-memory design's price in RAM.
func BenchmarkLoad(b *testing.B) {
	es := make([]raft.Entry, benchKeys)
	for i := range es {
		c := Command{Op: OpPut, Key: benchKey(i), Value: benchValue}
		es[i] = raft.Entry{Index: uint64(i + 1), Type: raft.EntryNormal, Data: AppendCommand(nil, &c)}
	}
	var heap uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		s := New(Config{})
		for j := range es {
			s.Apply(es[j])
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/benchKeys, "heapB/key")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchKeys, "ns/key")
}
