package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// crashFS is an in-memory FS that models what a power cut may leave
// behind: file data survives a crash only if synced, except that each
// 512-byte sector written since the last sync independently may or may not
// have reached the disk (writes tear at sector granularity and reorder);
// directory changes (create, rename, remove) survive if the directory was
// synced, else a random prefix of them does (metadata is journaled in
// order). It can crash after a chosen number of mutating operations: that
// operation and every later one fail.
type crashFS struct {
	mu      sync.Mutex
	dirs    map[string]*crashDir
	budget  int // mutating operations left before the crash; < 0: never
	crashed bool
}

type crashInode struct {
	data, synced []byte
}

type dirOp struct {
	name  string
	inode *crashInode // nil: remove
}

type crashDir struct {
	visible map[string]*crashInode
	durable map[string]*crashInode
	pending []dirOp // since the last SyncDir, in order
}

var errCrashed = errors.New("simulated power cut")

func newCrashFS() *crashFS { return &crashFS{dirs: map[string]*crashDir{}, budget: -1} }

// op accounts for one mutating operation, failing it if the crash is due.
func (c *crashFS) op() error {
	if c.crashed {
		return errCrashed
	}
	if c.budget == 0 {
		c.crashed = true
		return errCrashed
	}
	if c.budget > 0 {
		c.budget--
	}
	return nil
}

func (c *crashFS) dir(path string) (*crashDir, error) {
	d, ok := c.dirs[filepath.Dir(path)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	return d, nil
}

func (c *crashFS) MkdirAll(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, ok := c.dirs[d]; !ok {
			c.dirs[d] = &crashDir{visible: map[string]*crashInode{}, durable: map[string]*crashInode{}}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (c *crashFS) ReadDir(dir string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[filepath.Clean(dir)]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for n := range d.visible {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func (c *crashFS) ReadFile(name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, err := c.dir(name)
	if err != nil {
		return nil, err
	}
	in, ok := d.visible[filepath.Base(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(in.data), nil
}

func (c *crashFS) setEntry(d *crashDir, name string, in *crashInode) {
	if in == nil {
		delete(d.visible, name)
	} else {
		d.visible[name] = in
	}
	d.pending = append(d.pending, dirOp{name: name, inode: in})
}

func (c *crashFS) Create(name string) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return nil, err
	}
	d, err := c.dir(name)
	if err != nil {
		return nil, err
	}
	in := &crashInode{}
	c.setEntry(d, filepath.Base(name), in)
	return &crashFile{fs: c, in: in}, nil
}

func (c *crashFS) OpenFile(name string) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, err := c.dir(name)
	if err != nil {
		return nil, err
	}
	in, ok := d.visible[filepath.Base(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &crashFile{fs: c, in: in}, nil
}

func (c *crashFS) Rename(oldname, newname string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	d, err := c.dir(oldname)
	if err != nil {
		return err
	}
	in, ok := d.visible[filepath.Base(oldname)]
	if !ok || filepath.Dir(oldname) != filepath.Dir(newname) {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	c.setEntry(d, filepath.Base(newname), in)
	c.setEntry(d, filepath.Base(oldname), nil)
	return nil
}

func (c *crashFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	d, err := c.dir(name)
	if err != nil {
		return err
	}
	if _, ok := d.visible[filepath.Base(name)]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	c.setEntry(d, filepath.Base(name), nil)
	return nil
}

func (c *crashFS) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.op(); err != nil {
		return err
	}
	d, ok := c.dirs[filepath.Clean(dir)]
	if !ok {
		return &fs.PathError{Op: "sync", Path: dir, Err: fs.ErrNotExist}
	}
	d.durable = maps(d.visible)
	d.pending = nil
	return nil
}

func maps(m map[string]*crashInode) map[string]*crashInode {
	out := make(map[string]*crashInode, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *crashFS) Lock(string) (io.Closer, error) { return io.NopCloser(nil), nil }

// afterCrash returns what a reboot would find, choosing at random among
// the outcomes the model allows.
func (c *crashFS) afterCrash(rng *rand.Rand) *crashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := newCrashFS()
	images := map[*crashInode]*crashInode{}
	for path, d := range c.dirs {
		names := maps(d.durable)
		for _, p := range d.pending[:rng.IntN(len(d.pending)+1)] {
			if p.inode == nil {
				delete(names, p.name)
			} else {
				names[p.name] = p.inode
			}
		}
		nd := &crashDir{visible: map[string]*crashInode{}}
		for name, in := range names {
			img, ok := images[in]
			if !ok {
				img = &crashInode{data: tornImage(rng, in.synced, in.data)}
				img.synced = slices.Clone(img.data)
				images[in] = img
			}
			nd.visible[name] = img
		}
		nd.durable = maps(nd.visible)
		out.dirs[path] = nd
	}
	return out
}

// tornImage mixes the synced and current contents sector by sector.
func tornImage(rng *rand.Rand, synced, cur []byte) []byte {
	n := len(synced)
	if rng.IntN(2) == 0 {
		n = len(cur)
	}
	out := make([]byte, n)
	for s := 0; s < n; s += 512 {
		e := min(s+512, n)
		src := synced
		if rng.IntN(2) == 0 {
			src = cur
		}
		if s < len(src) {
			copy(out[s:e], src[s:min(e, len(src))])
		}
	}
	return out
}

type crashFile struct {
	fs *crashFS
	in *crashInode
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op(); err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > int64(len(f.in.data)) {
		f.in.data = append(f.in.data, make([]byte, end-int64(len(f.in.data)))...)
	}
	copy(f.in.data[off:], p)
	return len(p), nil
}

func (f *crashFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op(); err != nil {
		return err
	}
	f.in.synced = slices.Clone(f.in.data)
	return nil
}

func (f *crashFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op(); err != nil {
		return err
	}
	if size <= int64(len(f.in.data)) {
		f.in.data = f.in.data[:size:size]
	} else {
		f.in.data = append(f.in.data, make([]byte, size-int64(len(f.in.data)))...)
	}
	return nil
}

func (f *crashFile) Allocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op(); err != nil {
		return err
	}
	if size > int64(len(f.in.data)) {
		f.in.data = append(f.in.data, make([]byte, size-int64(len(f.in.data)))...)
	}
	return nil
}

func (f *crashFile) Close() error { return nil }

// TestCrashRecovery runs random workloads on crashFS and cuts the power
// after a random number of I/O operations, many times per seed. After each
// crash, Open must succeed (losing unsynced data is never corruption), and
// the recovered log must be the model either before or after the operation
// that was running: nothing acknowledged is lost, nothing half-done shows.
func TestCrashRecovery(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 20
	}
	for seed := range uint64(seeds) {
		crashRun(t, seed)
	}
}

func crashRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const dir = "/data/node"
	opts := Options{SegmentSize: int64(512 + rng.IntN(1500)), FS: newCrashFS()}
	ref := &refLog{}
	term := uint64(1)
	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s\ntrace (last 10): %v", seed, fmt.Sprintf(format, args...), trace[max(0, len(trace)-10):])
	}
	for crash := range 8 {
		fsys := opts.FS.(*crashFS)
		fsys.mu.Lock()
		fsys.budget = -1
		fsys.mu.Unlock()
		w, st, err := Open(dir, opts)
		if err != nil {
			fail("crash %d: Open after a power cut: %v", crash, err)
		}
		if !equalState(st, ref.state()) {
			fail("crash %d: recovered %s\nwant %s", crash, describe(st), describe(ref.state()))
		}
		if ref.snap.Index > 0 {
			if s, err := w.LoadSnapshot(); err != nil || string(s.Data) != ref.data {
				fail("crash %d: LoadSnapshot = %q, %v, want %q", crash, s.Data, err, ref.data)
			}
		}
		fsys.mu.Lock()
		fsys.budget = 1 + rng.IntN(150)
		fsys.mu.Unlock()
		for {
			name, do, next := randomOp(rng, ref, &term, fmt.Sprint(seed, "-", crash))
			trace = append(trace, name)
			err := do(w)
			if err == nil {
				ref = next
				continue
			}
			if !errors.Is(err, ErrFatal) && !errors.Is(err, errCrashed) {
				fail("%s: %v", name, err)
			}
			// Power cut during this operation: reboot and see which
			// outcome the disk holds.
			_ = w.Close()
			after := fsys.afterCrash(rng)
			probe := opts
			probe.FS = after
			pw, pst, perr := Open(dir, probe)
			if perr != nil {
				fail("crash %d during %s: Open: %v", crash, name, perr)
			}
			raw := pw.accepted.hs // State raises Commit to the snapshot index
			_ = pw.Close()
			switch {
			case equalState(pst, ref.state()) && raw == ref.hs:
			case equalState(pst, next.state()) && raw == next.hs:
				ref = next
			default:
				fail("crash %d during %s: recovered %s\nwant %s\n  or %s", crash, name, describe(pst), describe(ref.state()), describe(next.state()))
			}
			trace = append(trace, "CRASH")
			opts.FS = after
			break
		}
	}
}
