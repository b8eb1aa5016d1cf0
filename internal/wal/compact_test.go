package wal

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestCompactKeepsWhatIsNeeded(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 600}
	w, _ := mustOpen(t, dir, opts)
	idx := uint64(1)
	for b := range 60 {
		ents := mkEnts(idx, idx+2, 1)
		idx += 3
		if err := w.Save(raft.HardState{Term: 1, Vote: 1, Commit: idx - 1 - uint64(b%3)}, ents); err != nil {
			t.Fatal(err)
		}
	}
	last := idx - 1
	snapAt := last / 2
	if err := w.SaveSnapshot(raft.SnapshotMeta{Index: snapAt, Term: 1, Members: []uint64{1, 2}}, dataOf("img")); err != nil {
		t.Fatal(err)
	}
	before := segmentFiles(t, dir)
	// Nothing is removed past what the index asks for...
	if err := w.Compact(5); err != nil {
		t.Fatal(err)
	}
	mid := segmentFiles(t, dir)
	mustClose(t, w)
	ref := t.TempDir()
	copyDir(t, dir, ref)
	want := reopen(t, ref, opts)

	w, _ = mustOpen(t, dir, opts)
	if err := w.Compact(^uint64(0)); err != nil { // capped at the snapshot
		t.Fatal(err)
	}
	after := segmentFiles(t, dir)
	if len(after) >= len(before) || len(after) == 0 {
		t.Fatalf("compaction kept %d of %d segments", len(after), len(before))
	}
	_, first, _ := parseSegmentName(filepath.Base(after[0]))
	if first-1 > snapAt {
		t.Fatalf("first kept segment starts after index %d, beyond the snapshot at %d", first-1, snapAt)
	}
	// The segment that follows the last removed one must not be removable:
	// the removed ones' successor is the first one kept.
	if len(after) > 1 {
		_, second, _ := parseSegmentName(filepath.Base(after[1]))
		if second-1 <= snapAt {
			t.Fatalf("segment %s could also have been removed", after[0])
		}
	}
	for _, p := range mid {
		if !slices.Contains(before, p) {
			t.Fatalf("Compact(5) created %s", p)
		}
	}
	mustClose(t, w)
	if got := reopen(t, dir, opts); !equalState(got, want) {
		t.Fatalf("state after compaction differs:\n got %s\nwant %s", describe(got), describe(want))
	}

	// A snapshot of the whole log lets everything but the tail go.
	w, _ = mustOpen(t, dir, opts)
	if err := w.Save(raft.HardState{Term: 1, Vote: 1, Commit: last}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(raft.SnapshotMeta{Index: last, Term: 1}, dataOf("all")); err != nil {
		t.Fatal(err)
	}
	// Start a new segment while the log still ends at the snapshot (hard
	// state writes only), so every older segment is covered.
	for term := uint64(2); w.tailOff < opts.SegmentSize; term++ {
		if err := w.Save(raft.HardState{Term: term, Commit: last}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Save(raft.HardState{Term: 1000, Commit: last}, mkEnts(last+1, last+31, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Compact(last); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("%d segments after compacting everything", n)
	}
	mustClose(t, w)
	st := reopen(t, dir, opts)
	if st.Snapshot.Index != last || len(st.Entries) != 31 || st.HardState != (raft.HardState{Term: 1000, Commit: last}) {
		t.Fatalf("after full compaction: %s", describe(st))
	}
}

func TestCompactKeepsNewestTwoSnapshots(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	defer mustClose(t, w)
	if err := w.Save(raft.HardState{Term: 1, Commit: 10}, mkEnts(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	for i := uint64(2); i <= 10; i += 2 {
		if err := w.SaveSnapshot(raft.SnapshotMeta{Index: i, Term: 1}, dataOf(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Compact(10); err != nil {
		t.Fatal(err)
	}
	got := snapFiles(t, dir)
	want := []string{filepath.Join(dir, snapDir, snapName(8, 1)), filepath.Join(dir, snapDir, snapName(10, 1))}
	if !slices.Equal(got, want) {
		t.Fatalf("snapshot files after compaction: %v, want %v", got, want)
	}
	if s, err := w.LoadSnapshot(); err != nil || string(s.Data) != "10" {
		t.Fatalf("LoadSnapshot: %q %v", s.Data, err)
	}
}

// refLog is the reference model for TestRandomOperations: the log as plain
// slices, with the WAL's documented semantics written the obvious way.
type refLog struct {
	hs   raft.HardState
	snap raft.SnapshotMeta
	ents []raft.Entry // after snap.Index
	data string       // snapshot data
}

func (r *refLog) last() uint64 { return r.snap.Index + uint64(len(r.ents)) }

func (r *refLog) term(i uint64) uint64 {
	if i == r.snap.Index {
		return r.snap.Term
	}
	return r.ents[i-r.snap.Index-1].Term
}

func (r *refLog) state() *State {
	hs := r.hs
	hs.Commit = max(hs.Commit, r.snap.Index)
	return &State{HardState: hs, Snapshot: r.snap, Entries: slices.Clone(r.ents)}
}

// TestRandomOperations drives the WAL and a reference model with the same
// seeded random operations (appends with overwrites, hard state changes,
// local and leader snapshots, compaction, reopen) and compares the
// recovered state with the model at every reopen.
func TestRandomOperations(t *testing.T) {
	seeds := 10
	if testing.Short() {
		seeds = 3
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

// randomOp picks an operation valid for ref and returns its description,
// the call, and the model after it. term is the generator's current term.
func randomOp(rng *rand.Rand, ref *refLog, term *uint64, tag string) (string, func(*WAL) error, *refLog) {
	next := &refLog{hs: ref.hs, snap: ref.snap, ents: slices.Clone(ref.ents), data: ref.data}
	for {
		switch k := rng.IntN(17); {
		case k < 9: // append, maybe overwriting the uncommitted suffix
			lo := max(ref.hs.Commit, ref.snap.Index) + 1
			start := lo + uint64(rng.IntN(int(ref.last()+2-lo)))
			if rng.IntN(4) == 0 {
				*term++
			}
			ents := mkEnts(start, start+uint64(rng.IntN(6)), *term)
			if rng.IntN(8) == 0 {
				ents[0].Data = make([]byte, 700+rng.IntN(2000)) // spans sectors
			}
			hs := raft.HardState{Term: *term, Vote: ref.hs.Vote, Commit: ref.hs.Commit}
			if hs.Term != ref.hs.Term {
				hs.Vote = uint64(rng.IntN(3))
			}
			next.ents = append(next.ents[:start-ref.snap.Index-1], ents...)
			next.hs = hs
			return fmt.Sprintf("Save %d..%d term %d", start, ents[len(ents)-1].Index, *term),
				func(w *WAL) error { return w.Save(hs, ents) }, next
		case k < 12: // advance commit
			if ref.last() <= ref.hs.Commit {
				continue
			}
			hs := ref.hs
			hs.Commit += 1 + uint64(rng.IntN(int(ref.last()-ref.hs.Commit)))
			next.hs = hs
			return fmt.Sprintf("Save commit %d", hs.Commit), func(w *WAL) error { return w.Save(hs, nil) }, next
		case k < 14: // local snapshot of applied (committed) state
			if ref.hs.Commit <= ref.snap.Index {
				continue
			}
			i := ref.snap.Index + 1 + uint64(rng.IntN(int(ref.hs.Commit-ref.snap.Index)))
			meta := raft.SnapshotMeta{Index: i, Term: ref.term(i), Members: []uint64{1, uint64(rng.IntN(9))}}
			data := fmt.Sprint("local-", tag, "-", i)
			next.ents = slices.Clone(ref.ents[i-ref.snap.Index:])
			next.snap, next.data = meta, data
			return fmt.Sprintf("local snapshot %d/%d", i, meta.Term),
				func(w *WAL) error { return w.SaveSnapshot(meta, dataOf(data)) }, next
		case k < 15: // snapshot from a leader: past the log, or conflicting
			i := ref.last() + 1 + uint64(rng.IntN(4))
			if ref.last() > max(ref.hs.Commit, ref.snap.Index) && rng.IntN(2) == 0 {
				lo := max(ref.hs.Commit, ref.snap.Index) + 1
				i = lo + uint64(rng.IntN(int(ref.last()+1-lo)))
			}
			*term++
			meta := raft.SnapshotMeta{Index: i, Term: *term}
			data := fmt.Sprint("leader-", tag, "-", i)
			next.ents, next.snap, next.data = nil, meta, data
			return fmt.Sprintf("leader snapshot %d/%d", i, meta.Term),
				func(w *WAL) error { return w.SaveSnapshot(meta, dataOf(data)) }, next
		default:
			at := ref.snap.Index - min(ref.snap.Index, uint64(rng.IntN(3)))
			return fmt.Sprintf("Compact(%d)", at), func(w *WAL) error { return w.Compact(at) }, next
		}
	}
}

func randomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	dir := t.TempDir()
	opts := Options{SegmentSize: int64(300 + rng.IntN(900))}
	w, _ := mustOpen(t, dir, opts)
	defer func() { _ = w.Close() }()
	ref := &refLog{}
	term := uint64(1)
	removed, reopens := 0, 0
	defer func() { t.Logf("seed %d: %d segments compacted away, %d reopens", seed, removed, reopens) }()
	for step := range 300 {
		if rng.IntN(7) == 0 {
			reopens++
			mustClose(t, w)
			var st *State
			w, st = mustOpen(t, dir, opts)
			if want := ref.state(); !equalState(st, want) {
				t.Fatalf("seed %d step %d: after reopen:\n got %s\nwant %s", seed, step, describe(st), describe(want))
			}
			if ref.snap.Index > 0 {
				s, err := w.LoadSnapshot()
				if err != nil || string(s.Data) != ref.data {
					t.Fatalf("seed %d step %d: LoadSnapshot = %q, %v; want %q", seed, step, s.Data, err, ref.data)
				}
			}
			continue
		}
		name, do, next := randomOp(rng, ref, &term, fmt.Sprint(seed))
		n := len(segmentFiles(t, dir))
		if err := do(w); err != nil {
			t.Fatalf("seed %d step %d: %s: %v", seed, step, name, err)
		}
		removed += n - len(segmentFiles(t, dir))
		ref = next
	}
}
