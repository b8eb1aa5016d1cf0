package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestSnapshotSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	if _, err := w.LoadSnapshot(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot on a fresh WAL: %v", err)
	}
	if err := w.Save(raft.HardState{Term: 2, Vote: 1, Commit: 8}, mkEnts(1, 10, 2)); err != nil {
		t.Fatal(err)
	}
	meta := raft.SnapshotMeta{Index: 8, Term: 2, Members: []uint64{1, 2, 3}}
	image := strings.Repeat("state machine image ", 30000) // > the 256 KiB write buffer
	if err := w.SaveSnapshot(meta, dataOf(image)); err != nil {
		t.Fatal(err)
	}
	check := func(w *WAL) {
		t.Helper()
		s, err := w.LoadSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !sameMeta(&s.Meta, &meta) || string(s.Data) != image {
			t.Fatalf("loaded snapshot %d/%d %v with %d bytes", s.Meta.Index, s.Meta.Term, s.Meta.Members, len(s.Data))
		}
	}
	check(w)
	mustClose(t, w)
	w, st := mustOpen(t, dir, Options{})
	defer mustClose(t, w)
	want := &State{HardState: raft.HardState{Term: 2, Vote: 1, Commit: 8}, Snapshot: meta, Entries: mkEnts(9, 10, 2)}
	if !equalState(st, want) {
		t.Fatalf("after reopen: %s, want %s", describe(st), describe(want))
	}
	check(w)
	// The log after a snapshot accepts only entries after it.
	if err := w.Save(raft.HardState{}, mkEnts(8, 8, 2)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("entry covered by the snapshot: %v", err)
	}
	if err := w.SaveSnapshot(meta, dataOf("again")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("snapshot not newer than the current one: %v", err)
	}
}

// TestSnapshotDiscardsConflictingLog checks Raft's rule (Figure 13): a
// snapshot whose last entry the log does not hold at that term replaces the
// whole log.
func TestSnapshotDiscardsConflictingLog(t *testing.T) {
	cases := []struct {
		name string
		meta raft.SnapshotMeta
		next []raft.Entry
	}{
		{"beyond the log", raft.SnapshotMeta{Index: 20, Term: 3}, mkEnts(21, 22, 3)},
		{"term mismatch", raft.SnapshotMeta{Index: 8, Term: 3}, mkEnts(9, 9, 3)},
	}
	for _, c := range cases {
		dir := t.TempDir()
		w, _ := mustOpen(t, dir, Options{})
		if err := w.Save(raft.HardState{Term: 1, Commit: 5}, mkEnts(1, 10, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.SaveSnapshot(c.meta, dataOf("leader image")); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		mustClose(t, w)
		st := reopen(t, dir, Options{})
		want := &State{HardState: raft.HardState{Term: 1, Commit: c.meta.Index}, Snapshot: c.meta}
		if !equalState(st, want) {
			t.Fatalf("%s: got %s, want %s", c.name, describe(st), describe(want))
		}
		w, _ = mustOpen(t, dir, Options{})
		if err := w.Save(raft.HardState{Term: 3, Commit: c.meta.Index}, c.next); err != nil {
			t.Fatalf("%s: append after snapshot: %v", c.name, err)
		}
		mustClose(t, w)
		if st := reopen(t, dir, Options{}); len(st.Entries) != len(c.next) || st.Entries[0].Index != c.meta.Index+1 {
			t.Fatalf("%s: after append: %s", c.name, describe(st))
		}
	}
	// A conflicting snapshot at or below the commit index is impossible.
	w, _ := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, w)
	if err := w.Save(raft.HardState{Term: 1, Commit: 5}, mkEnts(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(raft.SnapshotMeta{Index: 4, Term: 2}, dataOf("x")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("snapshot conflicting with committed entries: %v", err)
	}
}

func TestCrashDuringSnapshotWrite(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	if err := w.Save(raft.HardState{Term: 1, Commit: 6}, mkEnts(1, 8, 1)); err != nil {
		t.Fatal(err)
	}
	old := raft.SnapshotMeta{Index: 3, Term: 1}
	if err := w.SaveSnapshot(old, dataOf("old")); err != nil {
		t.Fatal(err)
	}
	// Crash 1: while writing the data (a temporary file is left).
	tmp := filepath.Join(dir, snapDir, snapName(6, 1)+tmpExt)
	if err := os.WriteFile(tmp, []byte("raftkvS\x01partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	// Crash 2: after the rename, before the log record (an orphan file).
	orphan := raft.SnapshotMeta{Index: 5, Term: 1}
	orphanPath, err := w.writeSnapshotFile(&orphan, dataOf("orphan"))
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, w)

	var logs logBuf
	w, st := mustOpen(t, dir, Options{Logger: testLogger(&logs)})
	defer mustClose(t, w)
	if !sameMeta(&st.Snapshot, &old) || len(st.Entries) != 5 {
		t.Fatalf("after crashes: %s", describe(st))
	}
	for _, p := range []string{tmp, orphanPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not cleaned up: %v", p, err)
		}
	}
	if !strings.Contains(logs.String(), "unfinished snapshot") || !strings.Contains(logs.String(), "never recorded") {
		t.Errorf("cleanup not logged: %s", logs.String())
	}
	s, err := w.LoadSnapshot()
	if err != nil || string(s.Data) != "old" {
		t.Fatalf("LoadSnapshot after crashes: %q, %v", s.Data, err)
	}
	// A failing data writer aborts the snapshot without failing the WAL.
	boom := errors.New("state machine busy")
	err = w.SaveSnapshot(raft.SnapshotMeta{Index: 6, Term: 1}, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) || errors.Is(err, ErrFatal) {
		t.Fatalf("SaveSnapshot with failing writer: %v", err)
	}
	if got := snapFiles(t, dir); len(got) != 1 {
		t.Fatalf("snapshot files after aborted save: %v", got)
	}
	if err := w.SaveSnapshot(raft.SnapshotMeta{Index: 6, Term: 1}, dataOf("new")); err != nil {
		t.Fatalf("SaveSnapshot after an aborted one: %v", err)
	}
}

func TestDamagedSnapshotIsReported(t *testing.T) {
	damage := map[string]func([]byte) []byte{
		"flip data":    func(b []byte) []byte { b[40] ^= 1; return b },
		"flip header":  func(b []byte) []byte { b[13] ^= 1; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-3] },
		"flip trailer": func(b []byte) []byte { b[len(b)-10] ^= 1; return b },
		"empty":        func([]byte) []byte { return nil },
	}
	for name, f := range damage {
		dir := t.TempDir()
		w, _ := mustOpen(t, dir, Options{})
		if err := w.Save(raft.HardState{Term: 1, Commit: 4}, mkEnts(1, 4, 1)); err != nil {
			t.Fatal(err)
		}
		meta := raft.SnapshotMeta{Index: 4, Term: 1, Members: []uint64{1}}
		if err := w.SaveSnapshot(meta, dataOf(strings.Repeat("d", 100))); err != nil {
			t.Fatal(err)
		}
		mustClose(t, w)
		path := filepath.Join(dir, snapDir, snapName(4, 1))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o640); err != nil {
			t.Fatal(err)
		}
		w, _ = mustOpen(t, dir, Options{})
		_, err = w.LoadSnapshot()
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.File != path {
			t.Fatalf("%s: LoadSnapshot: %v, want a CorruptionError naming %s", name, err, path)
		}
		mustClose(t, w)
	}
	// A missing snapshot stops Open.
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{})
	if err := w.Save(raft.HardState{Term: 1, Commit: 4}, mkEnts(1, 4, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(raft.SnapshotMeta{Index: 4, Term: 1}, dataOf("x")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, w)
	path := filepath.Join(dir, snapDir, snapName(4, 1))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir, Options{})
	expectCorruption(t, err, path, 0, "missing snapshot")
}

func TestSnapshotFilesNameParse(t *testing.T) {
	for _, c := range [][2]uint64{{0, 0}, {1, 2}, {1<<64 - 1, 7}} {
		i, tm, ok := parseSnapName(snapName(c[0], c[1]))
		if !ok || i != c[0] || tm != c[1] {
			t.Fatalf("parseSnapName(snapName(%v)) = %d %d %v", c, i, tm, ok)
		}
	}
	for _, bad := range []string{"x.snap", "0000000000000001-000000000000000g.snap", "0000000000000001-0000000000000002.snap.tmp"} {
		if _, _, ok := parseSnapName(bad); ok {
			t.Fatalf("parseSnapName(%q) accepted", bad)
		}
	}
	if !slices.Equal([]string{segmentName(1, 2)}, []string{"0000000000000001-0000000000000002.wal"}) {
		t.Fatal("segment name format changed")
	}
}

// TestConcurrentSnapshotCompactAndSave runs the node's write path and a
// snapshotting goroutine at once (under -race in CI).
func TestConcurrentSnapshotCompactAndSave(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 2048}
	w, _ := mustOpen(t, dir, opts)
	var committed atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the node loop
		defer close(done)
		for i := uint64(1); i <= 400; i += 4 {
			if err := w.Save(raft.HardState{Term: 1, Commit: i + 3}, mkEnts(i, i+3, 1)); err != nil {
				t.Error(err)
				return
			}
			committed.Store(i + 3)
		}
	})
	wg.Go(func() { // the snapshotter
		var last uint64
		for {
			select {
			case <-done:
				return
			default:
			}
			c := committed.Load()
			if c <= last {
				runtime.Gosched()
				continue
			}
			if err := w.SaveSnapshot(raft.SnapshotMeta{Index: c, Term: 1}, dataOf(fmt.Sprint(c))); err != nil {
				t.Error(err)
				return
			}
			last = c
			if err := w.Compact(c); err != nil {
				t.Error(err)
				return
			}
			if s, err := w.LoadSnapshot(); err != nil || s.Meta.Index < c {
				t.Errorf("LoadSnapshot: %d, %v", s.Meta.Index, err)
				return
			}
		}
	})
	wg.Wait()
	mustClose(t, w)
	st := reopen(t, dir, opts)
	if st.HardState.Commit != 400 || st.Snapshot.Index+uint64(len(st.Entries)) != 400 {
		t.Fatalf("after concurrent run: %s", describe(st))
	}
	if n := len(snapFiles(t, dir)); n > 2 {
		t.Fatalf("%d snapshot files kept", n)
	}
}
