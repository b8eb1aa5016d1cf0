package wal

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// Snapshot file layout (all integers little-endian):
//
//	magic "raftkvS\x01" (8) | u32 meta length | meta (wire SnapshotMeta) | u32 CRC-32C of everything before it
//	data ...
//	trailer: u64 data length | u32 CRC-32C of data | u32 CRC-32C of the trailer's first 12 bytes
//
// The header lets a reader check the file describes the snapshot the log
// names before reading the data; the trailer lets the data be streamed in
// by the writer without knowing its length up front.
const (
	snapMagic      = "raftkvS\x01"
	snapExt        = ".snap"
	snapTrailerLen = 16
)

func snapName(index, term uint64) string {
	return fmt.Sprintf("%016x-%016x%s", index, term, snapExt)
}

func parseSnapName(name string) (index, term uint64, ok bool) {
	base, found := strings.CutSuffix(name, snapExt)
	if !found || len(base) != 33 || base[16] != '-' {
		return 0, 0, false
	}
	index, err1 := strconv.ParseUint(base[:16], 16, 64)
	term, err2 := strconv.ParseUint(base[17:], 16, 64)
	return index, term, err1 == nil && err2 == nil
}

// SaveSnapshot stores a state machine snapshot covering the log up to
// meta.Index, then records it in the log. write streams the snapshot data.
//
// The data goes to a temporary file in snap/, with a checksummed header and
// trailer; the file is synced, renamed into place and the directory synced;
// only then is a snapshot record appended to the log and synced. So a crash
// at any point leaves either the old snapshot in force (the new file is an
// orphan, removed on Open) or the new one whole.
//
// Raft's rule for the log after a snapshot (paper Figure 13) is applied and
// recorded: if the log holds meta.Index at meta.Term, the entries after it
// stay; otherwise the whole log is discarded and the next entry must be
// meta.Index+1. meta.Index must exceed the current snapshot's index. When a
// Ready carries a snapshot and entries, call SaveSnapshot before Save.
//
// An error returned by write aborts the snapshot (the temporary file is
// removed) without failing the WAL; a write or sync failure on the file is
// fatal like any other (ErrFatal).
func (w *WAL) SaveSnapshot(meta raft.SnapshotMeta, write func(io.Writer) error) error {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	meta.Members = slices.Clone(meta.Members)

	w.mu.Lock()
	err := w.usable()
	if err == nil {
		retain, _ := w.accepted.retains(&meta)
		if cerr := w.accepted.checkSnapshot(&meta, retain); cerr != nil {
			err = invalidf("save snapshot %d/%d: %v", meta.Index, meta.Term, cerr)
		}
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}

	path, err := w.writeSnapshotFile(&meta, write)
	if err != nil {
		return err
	}
	err = w.submit(func(s *logState) ([]byte, error) {
		retain, _ := s.retains(&meta)
		if err := s.checkSnapshot(&meta, retain); err != nil {
			return nil, invalidf("save snapshot %d/%d: %v", meta.Index, meta.Term, err)
		}
		body := appendSnapshotRecord(nil, &meta, retain)
		s.applySnapshot(&meta, retain)
		return body, nil
	})
	if err != nil && !isFatal(err) {
		// The log changed under us; the file is an orphan. Best effort:
		// Open removes orphans anyway.
		_ = w.fs.Remove(path)
	}
	return err
}

// writeSnapshotFile writes, syncs and renames the snapshot file into place
// and returns its path.
func (w *WAL) writeSnapshotFile(meta *raft.SnapshotMeta, write func(io.Writer) error) (string, error) {
	path := join(w.snapDir, snapName(meta.Index, meta.Term))
	tmp := path + tmpExt
	f, err := w.fs.Create(tmp)
	if err != nil {
		// Nothing was written, nothing durable is at stake.
		return "", fmt.Errorf("wal: create %s: %w", tmp, err)
	}
	fatal := func(op string, err error) (string, error) {
		_ = f.Close()
		w.mu.Lock()
		defer w.mu.Unlock()
		return "", w.fail(fmt.Errorf("%s %s: %w", op, tmp, err))
	}

	hdr := []byte(snapMagic)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0)
	hdr = wire.AppendSnapshotMeta(hdr, meta)
	binary.LittleEndian.PutUint32(hdr[len(snapMagic):], uint32(len(hdr)-len(snapMagic)-4))
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))

	fw := &fileWriter{f: f}
	bw := bufio.NewWriterSize(fw, 256<<10)
	cw := &crcWriter{w: bw}
	if _, err := bw.Write(hdr); err != nil {
		return fatal("write", err)
	}
	werr := write(cw)
	if fw.err != nil {
		return fatal("write", fw.err)
	}
	if werr != nil {
		_ = f.Close()
		_ = w.fs.Remove(tmp)
		return "", fmt.Errorf("wal: save snapshot %d/%d: write data: %w", meta.Index, meta.Term, werr)
	}
	var tr [snapTrailerLen]byte
	binary.LittleEndian.PutUint64(tr[0:], uint64(cw.n))
	binary.LittleEndian.PutUint32(tr[8:], cw.crc)
	binary.LittleEndian.PutUint32(tr[12:], crc32.Checksum(tr[:12], castagnoli))
	if _, err := bw.Write(tr[:]); err != nil {
		return fatal("write", err)
	}
	if err := bw.Flush(); err != nil {
		return fatal("write", err)
	}
	if err := f.Sync(); err != nil {
		return fatal("fsync", err)
	}
	if err := f.Close(); err != nil {
		return fatal("close", err)
	}
	if err := w.fs.Rename(tmp, path); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return "", w.fail(fmt.Errorf("rename %s: %w", tmp, err))
	}
	if err := w.fs.SyncDir(w.snapDir); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return "", w.fail(fmt.Errorf("fsync directory %s: %w", w.snapDir, err))
	}
	return path, nil
}

// fileWriter adapts File to io.Writer and remembers the first error, so a
// write failure is caught even if the caller's callback swallows it.
type fileWriter struct {
	f   File
	off int64
	err error
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	if fw.err != nil {
		return 0, fw.err
	}
	n, err := fw.f.WriteAt(p, fw.off)
	fw.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	fw.err = err
	return n, err
}

// crcWriter checksums and counts the snapshot data on its way to the file.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// decodeSnapshotFile checks a snapshot file's framing and checksums and
// returns its meta and data (aliasing b). It never panics.
func decodeSnapshotFile(path string, b []byte) (raft.SnapshotMeta, []byte, error) {
	var m raft.SnapshotMeta
	hdrMin := len(snapMagic) + 4
	if len(b) < hdrMin || string(b[:len(snapMagic)]) != snapMagic {
		return m, nil, corruptf(path, 0, "not a snapshot file (bad magic or too short)")
	}
	metaLen := int64(binary.LittleEndian.Uint32(b[len(snapMagic):]))
	hdrEnd := int64(hdrMin) + metaLen + 4
	if hdrEnd+snapTrailerLen > int64(len(b)) {
		return m, nil, corruptf(path, int64(len(snapMagic)), "header length %d runs past the end of the file", metaLen)
	}
	if got, want := crc32.Checksum(b[:hdrEnd-4], castagnoli), binary.LittleEndian.Uint32(b[hdrEnd-4:]); got != want {
		return m, nil, corruptf(path, 0, "header checksum mismatch")
	}
	d := wire.NewDecoder(b[hdrMin : hdrEnd-4])
	m = d.SnapshotMeta()
	if d.Err() != nil || d.Remaining() != 0 {
		return m, nil, corruptf(path, int64(hdrMin), "malformed snapshot description")
	}
	trOff := int64(len(b)) - snapTrailerLen
	tr := b[trOff:]
	if crc32.Checksum(tr[:12], castagnoli) != binary.LittleEndian.Uint32(tr[12:]) {
		return m, nil, corruptf(path, trOff, "trailer checksum mismatch (file truncated or damaged)")
	}
	data := b[hdrEnd:trOff]
	if n := binary.LittleEndian.Uint64(tr); n != uint64(len(data)) {
		return m, nil, corruptf(path, trOff, "trailer says %d data bytes, file holds %d", n, len(data))
	}
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(tr[8:]) {
		return m, nil, corruptf(path, hdrEnd, "data checksum mismatch")
	}
	return m, data, nil
}

// LoadSnapshot returns the snapshot the log names as its start (State's
// Snapshot), with its data verified against the file's checksums, or
// ErrNoSnapshot if none was ever saved.
//
// It deliberately does not fall back to an older snapshot file when that
// one is damaged or missing: the recovered entries start right after the
// named snapshot, the entries between an older image and it were dropped
// from the log, and compaction may have removed them from disk. A fallback
// that only sometimes works would hide the damage; instead the error
// (a *CorruptionError) tells the operator to rebuild the node from a peer.
func (w *WAL) LoadSnapshot() (raft.Snapshot, error) {
	for attempt := 0; ; attempt++ {
		w.mu.Lock()
		err := w.usable()
		meta := w.durable.snap
		w.mu.Unlock()
		if err != nil {
			return raft.Snapshot{}, err
		}
		if meta.Index == 0 {
			return raft.Snapshot{}, ErrNoSnapshot
		}
		path := join(w.snapDir, snapName(meta.Index, meta.Term))
		b, err := w.fs.ReadFile(path)
		if isNotExist(err) {
			// Concurrent SaveSnapshots and a Compact may have replaced it
			// while we read; only a file the log still names is missing.
			w.mu.Lock()
			moved := w.durable.snap.Index != meta.Index
			w.mu.Unlock()
			if moved && attempt < 3 {
				continue
			}
			return raft.Snapshot{}, corruptf(path, 0, "snapshot %d/%d named by the log is missing", meta.Index, meta.Term)
		}
		if err != nil {
			return raft.Snapshot{}, fmt.Errorf("wal: read snapshot: %w", err)
		}
		m, data, err := decodeSnapshotFile(path, b)
		if err != nil {
			return raft.Snapshot{}, err
		}
		if !sameMeta(&m, &meta) {
			return raft.Snapshot{}, corruptf(path, int64(len(snapMagic)), "file describes snapshot %d/%d %v, the log names %d/%d %v",
				m.Index, m.Term, m.Members, meta.Index, meta.Term, meta.Members)
		}
		meta.Members = slices.Clone(meta.Members)
		return raft.Snapshot{Meta: meta, Data: data}, nil
	}
}

type snapFile struct {
	name        string
	index, term uint64
}

// listSnapshots returns the snapshot files in snap/, oldest first.
func (w *WAL) listSnapshots() ([]snapFile, error) {
	names, err := w.fs.ReadDir(w.snapDir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", w.snapDir, err)
	}
	var out []snapFile
	for _, n := range names {
		if i, t, ok := parseSnapName(n); ok {
			out = append(out, snapFile{name: n, index: i, term: t})
		}
	}
	slices.SortFunc(out, func(a, b snapFile) int {
		if a.index != b.index {
			return cmpU64(a.index, b.index)
		}
		return cmpU64(a.term, b.term)
	})
	return out, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cleanSnapshots runs at Open, when no snapshot can be in progress: it
// removes temporary files and orphans (files newer than the log's snapshot,
// whose log record never became durable), and checks the snapshot the log
// names exists.
func (w *WAL) cleanSnapshots() error {
	names, err := w.fs.ReadDir(w.snapDir)
	if err != nil {
		return fmt.Errorf("wal: list %s: %w", w.snapDir, err)
	}
	want := w.durable.snap
	found, removed := false, false
	for _, n := range names {
		path := join(w.snapDir, n)
		i, t, ok := parseSnapName(n)
		switch {
		case strings.HasSuffix(n, snapExt+tmpExt):
			w.log.Info("wal: removing unfinished snapshot", "file", path)
		case ok && i > want.Index:
			w.log.Info("wal: removing snapshot never recorded in the log", "file", path)
		case ok && i == want.Index && t == want.Term:
			found = true
			continue
		default:
			continue
		}
		if err := w.fs.Remove(path); err != nil {
			return fmt.Errorf("wal: remove %s: %w", path, err)
		}
		removed = true
	}
	if removed {
		if err := w.fs.SyncDir(w.snapDir); err != nil {
			return fmt.Errorf("wal: fsync directory %s: %w", w.snapDir, err)
		}
	}
	if want.Index > 0 && !found {
		return corruptf(join(w.snapDir, snapName(want.Index, want.Term)), 0, "snapshot %d/%d named by the log is missing", want.Index, want.Term)
	}
	return nil
}
