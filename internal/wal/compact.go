package wal

import (
	"errors"
	"fmt"
	"slices"
)

// keepSnapshots is how many snapshot files Compact keeps: the one the log
// names plus one older, for an operator's forensics or a manual rollback.
const keepSnapshots = 2

// Compact deletes what recovery no longer needs: whole segments whose live
// entries all have indexes <= min(index, the durable snapshot's index),
// and all but the newest two snapshot files. The node decides when (for
// example every N applied entries, after SaveSnapshot) and may pass an
// index below its snapshot to keep a tail of the log for slow followers.
//
// A segment is deleted only if a later segment's header shows that every
// entry written before it is covered by the snapshot; since each header
// repeats the hard state and the snapshot record, recovery from the
// remaining segments is exactly recovery from all of them. The segment
// being written is never deleted. Removal failures are returned but are
// not fatal: the files are merely kept.
func (w *WAL) Compact(index uint64) error {
	w.compactMu.Lock()
	defer w.compactMu.Unlock()

	w.mu.Lock()
	if err := w.usable(); err != nil {
		w.mu.Unlock()
		return err
	}
	snap := w.durable.snap
	limit := min(index, snap.Index)
	k := 0
	for i, s := range w.segments {
		if s.lastIndex <= limit {
			k = i
		}
	}
	victims := slices.Clone(w.segments[:k])
	w.mu.Unlock()

	// Oldest first, syncing the directory after each, so a crash leaves a
	// contiguous run of segments.
	removed := 0
	var err error
	for _, v := range victims {
		path := join(w.dir, v.name)
		if err = w.fs.Remove(path); err != nil {
			err = fmt.Errorf("wal: compact: remove %s: %w", path, err)
			break
		}
		if err = w.fs.SyncDir(w.dir); err != nil {
			err = fmt.Errorf("wal: compact: fsync directory %s: %w", w.dir, err)
			break
		}
		removed++
	}
	w.mu.Lock()
	w.segments = slices.Clone(w.segments[removed:])
	w.mu.Unlock()
	if removed > 0 {
		w.log.Info("wal: compacted", "segments_removed", removed, "up_to_index", limit)
	}
	return errors.Join(err, w.compactSnapshots(snap.Index, snap.Term))
}

// compactSnapshots keeps the snapshot file the log names (index/term) and
// the newest keepSnapshots-1 others below it, and removes older ones. Files
// above it belong to a SaveSnapshot in progress and are left alone.
func (w *WAL) compactSnapshots(index, term uint64) error {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	files, err := w.listSnapshots()
	if err != nil {
		return err
	}
	var older []snapFile // oldest first
	for _, f := range files {
		if f.index < index || (f.index == index && f.term != term) {
			older = append(older, f)
		}
	}
	if len(older) < keepSnapshots {
		return nil
	}
	for _, f := range older[:len(older)-(keepSnapshots-1)] {
		path := join(w.snapDir, f.name)
		if err := w.fs.Remove(path); err != nil {
			return fmt.Errorf("wal: compact: remove %s: %w", path, err)
		}
	}
	if err := w.fs.SyncDir(w.snapDir); err != nil {
		return fmt.Errorf("wal: compact: fsync directory %s: %w", w.snapDir, err)
	}
	return nil
}

func isFatal(err error) bool { return errors.Is(err, ErrFatal) }
