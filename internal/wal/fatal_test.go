package wal

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// checkSticky asserts every entry point now returns exactly first, and
// that no further fsync is attempted.
func checkSticky(t *testing.T, w *WAL, fs *faultFS, first error) {
	t.Helper()
	syncs := fs.syncCount()
	calls := map[string]func() error{
		"Save":         func() error { return w.Save(raft.HardState{Term: 9}, nil) },
		"Save entries": func() error { return w.Save(raft.HardState{}, mkEnts(100, 100, 9)) },
		"Save nothing": func() error { return w.Save(raft.HardState{}, nil) },
		"SaveSnapshot": func() error { return w.SaveSnapshot(raft.SnapshotMeta{Index: 1, Term: 1}, dataOf("x")) },
		"Compact":      func() error { return w.Compact(1) },
		"LoadSnapshot": func() error { _, err := w.LoadSnapshot(); return err },
	}
	for name, call := range calls {
		if err := call(); err != first {
			t.Errorf("%s after fatal error: %v, want the same error %v", name, err, first)
		}
	}
	if n := fs.syncCount() - syncs; n != 0 {
		t.Errorf("%d fsyncs attempted after a fatal error; an fsync must never be retried", n)
	}
	if err := w.Close(); err != first {
		t.Errorf("Close after fatal error: %v, want %v", err, first)
	}
}

func TestFsyncFailureIsFatalAndSticky(t *testing.T) {
	fs := &faultFS{}
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Options{FS: fs})
	if err := w.Save(raft.HardState{Term: 1, Vote: 1}, mkEnts(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.syncErr = func(string) error { return syscall.EIO }
	fs.mu.Unlock()
	err := w.Save(raft.HardState{Term: 1, Vote: 1, Commit: 3}, mkEnts(4, 5, 1))
	if !errors.Is(err, ErrFatal) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Save with failing fsync: %v, want ErrFatal wrapping EIO", err)
	}
	if !strings.Contains(err.Error(), "fsync") || !strings.Contains(err.Error(), dir) {
		t.Errorf("error does not say what failed where: %v", err)
	}
	checkSticky(t, w, fs, err)

	// A restart recovers from disk: the first batch for sure.
	st := reopen(t, dir, Options{})
	if len(st.Entries) < 3 {
		t.Fatalf("after restart: %s", describe(st))
	}
}

func TestWriteFailureIsFatal(t *testing.T) {
	fs := &faultFS{}
	w, _ := mustOpen(t, t.TempDir(), Options{FS: fs})
	fs.mu.Lock()
	fs.writeErr = func(string) error { return syscall.ENOSPC }
	fs.mu.Unlock()
	err := w.Save(raft.HardState{Term: 1}, mkEnts(1, 1, 1))
	if !errors.Is(err, ErrFatal) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save with failing write: %v", err)
	}
	checkSticky(t, w, fs, err)
}

func TestRotationFailureIsFatal(t *testing.T) {
	fs := &faultFS{}
	w, _ := mustOpen(t, t.TempDir(), Options{FS: fs, SegmentSize: 256})
	if err := w.Save(raft.HardState{Term: 1}, mkEnts(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.syncErr = func(p string) error {
		if strings.HasSuffix(p, tmpExt) {
			return syscall.EIO
		}
		return nil
	}
	fs.mu.Unlock()
	err := w.Save(raft.HardState{Term: 1}, mkEnts(11, 11, 1))
	if !errors.Is(err, ErrFatal) {
		t.Fatalf("Save whose new segment cannot be synced: %v", err)
	}
	checkSticky(t, w, fs, err)
}

func TestSnapshotFsyncFailureIsFatal(t *testing.T) {
	fs := &faultFS{}
	w, _ := mustOpen(t, t.TempDir(), Options{FS: fs})
	if err := w.Save(raft.HardState{Term: 1, Commit: 3}, mkEnts(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.syncErr = func(p string) error {
		if strings.HasSuffix(p, snapExt+tmpExt) {
			return syscall.EIO
		}
		return nil
	}
	fs.mu.Unlock()
	err := w.SaveSnapshot(raft.SnapshotMeta{Index: 2, Term: 1}, dataOf("image"))
	if !errors.Is(err, ErrFatal) {
		t.Fatalf("SaveSnapshot with failing fsync: %v", err)
	}
	checkSticky(t, w, fs, err)
}

// TestFatalReachesQueuedCallers fails an fsync while other callers wait in
// the group-commit queue: all of them must get the fatal error.
func TestFatalReachesQueuedCallers(t *testing.T) {
	fs := &faultFS{}
	w, _ := mustOpen(t, t.TempDir(), Options{FS: fs})
	entered, release := make(chan struct{}), make(chan struct{})
	fs.mu.Lock()
	fs.syncErr = func(string) error {
		entered <- struct{}{}
		<-release
		return syscall.EIO
	}
	fs.mu.Unlock()
	appendOne := func() error {
		return w.submit(func(s *logState) ([]byte, error) {
			e := mkEnts(s.last+1, s.last+1, 1)
			s.applyEntries(e)
			return appendEntriesRecord(nil, e), nil
		})
	}
	const waiters = 5
	errs := make(chan error, waiters+1)
	var wg sync.WaitGroup
	wg.Go(func() { errs <- appendOne() })
	<-entered // the leader is inside fsync
	for range waiters {
		wg.Go(func() { errs <- appendOne() })
	}
	for { // wait (without sleeping) until all waiters are queued
		w.mu.Lock()
		n := len(w.queue)
		w.mu.Unlock()
		if n == waiters {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if !errors.Is(err, ErrFatal) {
			t.Fatalf("caller got %v, want ErrFatal", err)
		}
		if first == nil {
			first = err
		} else if err != first {
			t.Fatalf("callers got different errors: %v / %v", first, err)
		}
	}
	checkSticky(t, w, fs, first)
}
