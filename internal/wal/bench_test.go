package wal

import (
	"fmt"
	"sync"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// BenchmarkSave measures one Save (one write + one fdatasync) of a batch of
// 256-byte entries on the real disk, as the node issues once per Ready.
func BenchmarkSave(b *testing.B) { benchSave(b, Options{}) }

// BenchmarkSaveNoSync is BenchmarkSave with fsync turned into a no-op: the
// WAL's own CPU and write(2) cost, to compare with the disk's.
func BenchmarkSaveNoSync(b *testing.B) { benchSave(b, Options{FS: &faultFS{noSync: true}}) }

func benchSave(b *testing.B, opts Options) {
	for _, n := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			w, _ := mustOpen(b, b.TempDir(), opts)
			defer mustClose(b, w)
			value := make([]byte, 256)
			ents := make([]raft.Entry, n)
			next := uint64(1)
			b.SetBytes(int64(n * 256))
			b.ResetTimer()
			for b.Loop() {
				for i := range ents {
					ents[i] = raft.Entry{Term: 1, Index: next, ClientID: 1, RequestID: next, Data: value}
					next++
				}
				if err := w.Save(raft.HardState{Term: 1, Vote: 1, Commit: next - 1}, ents); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkSaveConcurrent has several goroutines each append one 256-byte
// entry per call, through the same group-commit path Save takes, to show
// how much one fsync is shared. ns/op is per append.
func BenchmarkSaveConcurrent(b *testing.B) {
	for _, g := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			fs := &faultFS{}
			w, _ := mustOpen(b, b.TempDir(), Options{FS: fs})
			defer mustClose(b, w)
			value := make([]byte, 256)
			appendOne := func() error {
				return w.submit(func(s *logState) ([]byte, error) {
					e := []raft.Entry{{Term: 1, Index: s.last + 1, Data: value}}
					s.applyEntries(e)
					return appendEntriesRecord(nil, e), nil
				})
			}
			b.ResetTimer()
			syncs := fs.syncCount()
			var wg sync.WaitGroup
			per := b.N / g
			for range g {
				wg.Go(func() {
					for range per {
						if err := appendOne(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			total := per * g
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "entries/s")
			if total > 0 {
				b.ReportMetric(float64(total)/float64(max(1, fs.syncCount()-syncs)), "entries/fsync")
			}
		})
	}
}

// BenchmarkOpen measures recovery of a log of 100,000 256-byte entries
// (about 30 MB in one segment), the cost a restart pays before compaction.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	w, _ := mustOpen(b, dir, Options{})
	value := make([]byte, 256)
	ents := make([]raft.Entry, 1000)
	for batch := range 100 {
		for i := range ents {
			idx := uint64(batch*1000 + i + 1)
			ents[i] = raft.Entry{Term: 1, Index: idx, Data: value}
		}
		if err := w.Save(raft.HardState{Term: 1}, ents); err != nil {
			b.Fatal(err)
		}
	}
	mustClose(b, w)
	b.ResetTimer()
	for b.Loop() {
		w, st := mustOpen(b, dir, Options{})
		if len(st.Entries) != 100000 {
			b.Fatalf("recovered %d entries", len(st.Entries))
		}
		mustClose(b, w)
	}
}
