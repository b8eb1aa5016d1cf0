package raft

import (
	"math/rand/v2"
	"testing"
)

// benchCluster is three cores wired back to back with no I/O: persistence
// is a no-op (the core keeps entries in memory) and messages are delivered
// in order at once. It measures the core's own cost.
type benchCluster struct {
	nodes [3]*Raft
	queue []Message
	// applied counts entries committed and handed out at the leader.
	applied int
}

func newBenchCluster(b *testing.B) *benchCluster {
	bc := &benchCluster{}
	for i := range bc.nodes {
		id := uint64(i + 1)
		r, err := New(Config{ID: id, Peers: []uint64{1, 2, 3}, ElectionTick: 10, HeartbeatTick: 1,
			PreVote: true, CheckQuorum: true, MaxInflightMsgs: 4096, Rand: rand.New(rand.NewPCG(id, 1))}, State{})
		if err != nil {
			b.Fatal(err)
		}
		bc.nodes[i] = r
	}
	// Every node ticks: a node that just booted refuses votes for an
	// election timeout by its own clock.
	for i := 0; bc.leader() == nil; i++ {
		for _, r := range bc.nodes {
			r.Tick()
		}
		bc.settle()
		if i > 1000 {
			b.Fatal("no leader")
		}
	}
	return bc
}

func (bc *benchCluster) settle() {
	for {
		moved := false
		for _, r := range bc.nodes {
			for r.HasReady() {
				rd := r.Ready()
				bc.queue = append(bc.queue, rd.Messages...)
				if r.Role() == Leader {
					bc.applied += len(rd.CommittedEntries)
				}
				r.Advance()
				moved = true
			}
		}
		q := bc.queue
		bc.queue = bc.queue[len(q):]
		for _, m := range q {
			_ = bc.nodes[m.To-1].Step(m)
			moved = true
		}
		if len(bc.queue) == 0 && cap(bc.queue) > 1<<16 {
			bc.queue = nil
		}
		if !moved {
			return
		}
	}
}

func (bc *benchCluster) leader() *Raft {
	for _, r := range bc.nodes {
		if r.Role() == Leader {
			return r
		}
	}
	return nil
}

// compact keeps the logs bounded during long runs.
func (bc *benchCluster) compact() {
	for _, r := range bc.nodes {
		st := r.Status()
		if st.Applied-st.SnapshotIndex < 100000 {
			continue
		}
		t, _ := r.LogTerm(st.Applied)
		_ = r.Compact(Snapshot{Meta: SnapshotMeta{Index: st.Applied, Term: t}})
	}
}

// BenchmarkCommit reports committed proposals per second through a 3-node
// cluster, one op being one proposal, proposed in batches of the given size
// between two Readies. Run: go test ./internal/raft -bench Commit -benchmem
func BenchmarkCommit(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(itoa(uint64(batch))+"-per-ready", func(b *testing.B) {
			bc := newBenchCluster(b)
			data := make([]byte, 128)
			ps := make([]Proposal, batch)
			for i := range ps {
				ps[i] = Proposal{ClientID: 1, Data: data}
			}
			leader := bc.leader()
			b.ReportAllocs()
			b.ResetTimer()
			start := bc.applied
			for done := 0; done < b.N; done += batch {
				n := min(batch, b.N-done)
				if _, _, err := leader.Propose(ps[:n]...); err != nil {
					b.Fatal(err)
				}
				bc.settle()
				if done%(1<<16) == 0 {
					bc.compact()
				}
			}
			b.StopTimer()
			if got := bc.applied - start; got < b.N {
				b.Fatalf("committed %d of %d proposals", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
		})
	}
}
