package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// mkEnts returns entries [from, to] at term, with data naming index and term.
func mkEnts(from, to, term uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Term: term, Index: i, ClientID: i % 7, RequestID: i,
			Data: []byte(fmt.Sprintf("entry-%d-term-%d", i, term))})
	}
	return out
}

// logBuf is a concurrency-safe buffer for an slog text handler.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(buf io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustOpen(t testing.TB, dir string, opts Options) (*WAL, *State) {
	t.Helper()
	w, st, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return w, st
}

func mustClose(t testing.TB, w *WAL) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func reopen(t testing.TB, dir string, opts Options) *State {
	t.Helper()
	w, st := mustOpen(t, dir, opts)
	mustClose(t, w)
	return st
}

// equalState compares states, treating nil and empty slices alike.
func equalState(a, b *State) bool {
	if a.HardState != b.HardState || !sameMeta(&a.Snapshot, &b.Snapshot) || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		x, y := a.Entries[i], b.Entries[i]
		if len(x.Data) == 0 && len(y.Data) == 0 {
			x.Data, y.Data = nil, nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func describe(s *State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hs=%+v snap=%d/%d%v ents=", s.HardState, s.Snapshot.Index, s.Snapshot.Term, s.Snapshot.Members)
	if n := len(s.Entries); n > 0 {
		fmt.Fprintf(&b, "%d..%d(", s.Entries[0].Index, s.Entries[n-1].Index)
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "%d", e.Term)
			b.WriteByte(' ')
		}
		b.WriteByte(')')
	} else {
		b.WriteString("none")
	}
	return b.String()
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func snapFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, snapDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func dataOf(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// faultFS wraps OSFS and lets a test fail chosen operations and count syncs.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// syncErr, if set, is consulted before every file sync; a non-nil
	// result is returned instead of syncing.
	syncErr func(path string) error
	// writeErr likewise for every WriteAt.
	writeErr func(path string) error
	syncs    int
	// noSync makes Sync a no-op, to measure the WAL's own CPU cost.
	noSync bool
}

var errInjected = errors.New("injected I/O error")

func (f *faultFS) Create(name string) (File, error) {
	file, err := f.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, path: name}, nil
}

func (f *faultFS) OpenFile(name string) (File, error) {
	file, err := f.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, path: name}, nil
}

func (f *faultFS) syncCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

type faultFile struct {
	File
	fs   *faultFS
	path string
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs++
	hook, skip := f.fs.syncErr, f.fs.noSync
	f.fs.mu.Unlock()
	if hook != nil {
		if err := hook(f.path); err != nil {
			return err
		}
	}
	if skip {
		return nil
	}
	return f.File.Sync()
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	hook := f.fs.writeErr
	f.fs.mu.Unlock()
	if hook != nil {
		if err := hook(f.path); err != nil {
			return 0, err
		}
	}
	return f.File.WriteAt(p, off)
}
