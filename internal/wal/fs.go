package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// FS is every file-system operation the WAL performs. It exists so that tests
// can inject failures (an fsync that returns EIO) and so that a simulator can
// supply a disk that loses unsynced writes on a simulated crash. OSFS is the
// production implementation.
//
// Paths are full paths as built by the WAL with filepath.Join.
type FS interface {
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// ReadDir returns the names of the entries of dir, sorted. A missing dir
	// must yield an error matching fs.ErrNotExist.
	ReadDir(dir string) ([]string, error)
	// ReadFile returns the whole content of name.
	ReadFile(name string) ([]byte, error)
	// Create creates or truncates name and opens it for writing.
	Create(name string) (File, error)
	// OpenFile opens an existing file for writing at chosen offsets.
	OpenFile(name string) (File, error)
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// Remove deletes name.
	Remove(name string) error
	// SyncDir makes the directory's entries (creations, renames, removals)
	// durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file name, failing at once if
	// another process (or another open WAL) holds it.
	Lock(name string) (io.Closer, error)
}

// File is an open file as the WAL uses it: positional writes, so that the
// writer never depends on a shared file offset, plus the durability calls.
type File interface {
	io.WriterAt
	// Sync makes the file's written data durable (fsync or fdatasync).
	Sync() error
	// Truncate sets the file size, dropping data past it.
	Truncate(size int64) error
	// Allocate makes the file at least size bytes long, zero-filled past the
	// current data, reserving the blocks where the platform allows so that
	// later syncs need not update the file size.
	Allocate(size int64) error
	// Close releases the file.
	Close() error
}

// OSFS is the real file system. Its Sync uses fdatasync where the platform
// has it, and Allocate uses fallocate on Linux.
type OSFS struct{}

var _ FS = OSFS{}

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o750) }

// ReadDir implements FS.
func (OSFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

// ReadFile implements FS.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Create implements FS.
func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// OpenFile implements FS.
func (OSFS) OpenFile(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir implements FS.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// Lock implements FS with an advisory flock where the platform has one.
func (OSFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s (is another raftkv process using this directory?): %w", name, err)
	}
	return f, nil // closing the descriptor releases the lock
}

type osFile struct{ f *os.File }

func (o osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o osFile) Sync() error                              { return dataSync(o.f) }
func (o osFile) Truncate(size int64) error                { return o.f.Truncate(size) }
func (o osFile) Close() error                             { return o.f.Close() }

func (o osFile) Allocate(size int64) error {
	st, err := o.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() >= size {
		return nil
	}
	if err := preallocate(o.f, size); err == nil {
		return nil
	}
	// No fallocate here (or not on this file system): extending the size
	// still gives the zero tail recovery relies on, as a sparse file.
	return o.f.Truncate(size)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func join(dir, name string) string { return filepath.Join(dir, name) }
