package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestOpenEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "node1")
	w, st := mustOpen(t, dir, Options{})
	if !equalState(st, &State{}) {
		t.Fatalf("fresh WAL state = %s, want empty", describe(st))
	}
	mustClose(t, w)
	if st := reopen(t, dir, Options{}); !equalState(st, &State{}) {
		t.Fatalf("reopened empty WAL state = %s", describe(st))
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("%d segments, want 1", n)
	}
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	want := &State{}
	hs := raft.HardState{Term: 1, Vote: 1}
	if err := w.Save(hs, nil); err != nil {
		t.Fatal(err)
	}
	for b := uint64(0); b < 10; b++ {
		ents := mkEnts(b*5+1, b*5+5, 1)
		ents[0].Data = nil // empty payloads round-trip too
		ents[1].Type = raft.EntryNoop
		hs.Commit = b * 5
		if err := w.Save(hs, ents); err != nil {
			t.Fatal(err)
		}
		want.Entries = append(want.Entries, ents...)
	}
	want.HardState = hs
	mustClose(t, w)

	got := reopen(t, dir, Options{})
	if !equalState(got, want) {
		t.Fatalf("after reopen:\n got %s\nwant %s", describe(got), describe(want))
	}
	// Appending after a reopen continues the same log.
	w, _ = mustOpen(t, dir, Options{})
	if err := w.Save(raft.HardState{Term: 2, Vote: 3, Commit: 50}, mkEnts(51, 52, 2)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, w)
	got = reopen(t, dir, Options{})
	if len(got.Entries) != 52 || got.HardState != (raft.HardState{Term: 2, Vote: 3, Commit: 50}) {
		t.Fatalf("after second session: %s", describe(got))
	}
}

func TestOverwriteSuffix(t *testing.T) {
	for _, segSize := range []int64{DefaultSegmentSize, 512} {
		dir := t.TempDir()
		opts := Options{SegmentSize: segSize}
		w, _ := mustOpen(t, dir, opts)
		steps := []struct {
			ents []raft.Entry
		}{
			{mkEnts(1, 10, 1)},
			{mkEnts(6, 8, 2)},  // replaces 6..10
			{mkEnts(9, 12, 2)}, // extends
			{mkEnts(4, 4, 3)},  // replaces 4..12
			{mkEnts(5, 7, 3)},
		}
		for _, s := range steps {
			if err := w.Save(raft.HardState{Term: 3, Commit: 3}, s.ents); err != nil {
				t.Fatal(err)
			}
		}
		mustClose(t, w)
		want := append(append(mkEnts(1, 3, 1), mkEnts(4, 4, 3)...), mkEnts(5, 7, 3)...)
		got := reopen(t, dir, opts)
		if !equalState(got, &State{HardState: raft.HardState{Term: 3, Commit: 3}, Entries: want}) {
			t.Fatalf("segment size %d: got %s", segSize, describe(got))
		}
	}
}

func TestManySegmentsAndRotation(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 1024}
	w, _ := mustOpen(t, dir, opts)
	var want []raft.Entry
	idx := uint64(1)
	for b := 0; b < 120; b++ {
		ents := mkEnts(idx, idx+uint64(b%4), uint64(1+b/40))
		idx += uint64(len(ents))
		if err := w.Save(raft.HardState{Term: uint64(1 + b/40), Commit: idx - 1}, ents); err != nil {
			t.Fatal(err)
		}
		want = append(want, ents...)
	}
	mustClose(t, w)
	segs := segmentFiles(t, dir)
	if len(segs) < 5 {
		t.Fatalf("only %d segments with 1 KiB segments", len(segs))
	}
	for i, p := range segs {
		seq, first, ok := parseSegmentName(filepath.Base(p))
		if !ok || seq != uint64(i) {
			t.Fatalf("segment %d is named %s", i, p)
		}
		if i > 0 && (first < 2 || first > idx) {
			t.Fatalf("segment %s claims first index %d", p, first)
		}
	}
	got := reopen(t, dir, opts)
	if !equalState(got, &State{HardState: raft.HardState{Term: 3, Commit: idx - 1}, Entries: want}) {
		t.Fatalf("got %s", describe(got))
	}
}

func TestSaveRejectsInvalidRequests(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	defer mustClose(t, w)
	if err := w.Save(raft.HardState{Term: 2, Vote: 1, Commit: 3}, mkEnts(1, 5, 2)); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func() error{
		"gap":              func() error { return w.Save(raft.HardState{}, mkEnts(7, 8, 2)) },
		"overwrite commit": func() error { return w.Save(raft.HardState{}, mkEnts(3, 4, 2)) },
		"not consecutive": func() error {
			return w.Save(raft.HardState{}, append(mkEnts(6, 6, 2), mkEnts(8, 8, 2)...))
		},
		"term below previous": func() error { return w.Save(raft.HardState{}, mkEnts(6, 6, 1)) },
		"term zero":           func() error { return w.Save(raft.HardState{}, mkEnts(6, 6, 0)) },
		"term goes back":      func() error { return w.Save(raft.HardState{Term: 1, Commit: 3}, nil) },
		"second vote":         func() error { return w.Save(raft.HardState{Term: 2, Vote: 2, Commit: 3}, nil) },
		"commit back":         func() error { return w.Save(raft.HardState{Term: 2, Vote: 1, Commit: 2}, nil) },
		"commit past end":     func() error { return w.Save(raft.HardState{Term: 2, Vote: 1, Commit: 6}, nil) },
		"unknown type": func() error {
			e := mkEnts(6, 6, 2)
			e[0].Type = 9
			return w.Save(raft.HardState{}, e)
		},
		"snapshot index 0": func() error { return w.SaveSnapshot(raft.SnapshotMeta{}, dataOf("x")) },
	}
	for name, f := range bad {
		if err := f(); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrFatal) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// Rejections are not fatal, and commit may cover entries saved in the
	// same call.
	if err := w.Save(raft.HardState{Term: 3, Commit: 6}, mkEnts(6, 6, 3)); err != nil {
		t.Fatalf("valid save after rejections: %v", err)
	}
}

func TestSaveNothingIsCheap(t *testing.T) {
	fs := &faultFS{}
	w, _ := mustOpen(t, t.TempDir(), Options{FS: fs})
	defer mustClose(t, w)
	hs := raft.HardState{Term: 1, Vote: 1}
	if err := w.Save(hs, nil); err != nil {
		t.Fatal(err)
	}
	before := fs.syncCount()
	for range 3 {
		if err := w.Save(raft.HardState{}, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.Save(hs, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := fs.syncCount() - before; n != 0 {
		t.Fatalf("%d fsyncs for saves with nothing new", n)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	if _, _, err := Open(dir, Options{}); err == nil {
		t.Fatal("second Open of a directory in use succeeded")
	}
	mustClose(t, w)
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Save(raft.HardState{Term: 1}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	reopen(t, dir, Options{})
}

func TestLeftoverTempSegmentIsRemoved(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	if err := w.Save(raft.HardState{Term: 1}, mkEnts(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, w)
	// A crash while creating segment 1, before its rename.
	tmp := filepath.Join(dir, segmentName(1, 4)+tmpExt)
	if err := os.WriteFile(tmp, []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	if st := reopen(t, dir, Options{}); len(st.Entries) != 3 {
		t.Fatalf("got %s", describe(st))
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary segment still there: %v", err)
	}
}

// TestGroupCommit has many goroutines append concurrently; each append is
// placed at the end of the log under the WAL's lock (through submit, the
// same path Save takes), so all succeed, and fsyncs are shared.
func TestGroupCommit(t *testing.T) {
	fs := &faultFS{}
	dir := t.TempDir()
	opts := Options{FS: fs, SegmentSize: 16 << 10}
	w, _ := mustOpen(t, dir, opts)
	const workers, per = 8, 40
	before := fs.syncCount()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range per {
				err := w.submit(func(s *logState) ([]byte, error) {
					e := []raft.Entry{{Term: 1, Index: s.last + 1, ClientID: uint64(g), RequestID: uint64(i), Data: make([]byte, 100)}}
					if err := s.checkEntries(e); err != nil {
						return nil, err
					}
					s.applyEntries(e)
					return appendEntriesRecord(nil, e), nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := fs.syncCount() - before
	mustClose(t, w)
	st := reopen(t, dir, opts)
	if len(st.Entries) != workers*per {
		t.Fatalf("%d entries after reopen, want %d", len(st.Entries), workers*per)
	}
	seen := map[[2]uint64]bool{}
	for i, e := range st.Entries {
		if e.Index != uint64(i+1) {
			t.Fatalf("entry %d has index %d", i, e.Index)
		}
		seen[[2]uint64{e.ClientID, e.RequestID}] = true
	}
	if len(seen) != workers*per {
		t.Fatalf("%d distinct appends recovered, want %d", len(seen), workers*per)
	}
	t.Logf("%d appends from %d goroutines took %d fsyncs (including segment rotation)", workers*per, workers, syncs)
}
