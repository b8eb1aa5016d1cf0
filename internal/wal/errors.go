package wal

import (
	"errors"
	"fmt"
)

// ErrFatal marks an I/O failure on a path that must be durable (a write,
// an fsync, a rename or a directory sync). After such a failure the kernel
// may already have dropped the dirty pages, so a retried fsync could report
// success for data that is gone (the "fsyncgate" lesson). The WAL therefore
// fails permanently: every later call returns the same error, and the caller
// must stop the process and recover from disk on restart.
var ErrFatal = errors.New("wal: fatal I/O error, stop the process and restart from disk")

// ErrClosed is returned by calls made after Close, so that a late caller gets
// a clear error instead of writing to a closed file.
var ErrClosed = errors.New("wal: closed")

// ErrInvalid is returned when a call would break a Raft invariant the log
// checks at its gateway (a gap in the log, an overwrite of a committed entry,
// a term going backwards, a second vote in one term...). Nothing was
// written; the error points at a bug in the caller, not at the disk.
var ErrInvalid = errors.New("wal: invalid request")

// ErrCorrupt is matched (via errors.Is) by every *CorruptionError, so callers
// can tell "the data on disk is bad" from other failures without a type switch.
var ErrCorrupt = errors.New("wal: corrupt data")

// ErrNoSnapshot is returned by LoadSnapshot when no snapshot was ever saved,
// which is normal for a fresh node.
var ErrNoSnapshot = errors.New("wal: no snapshot")

// CorruptionError reports data on disk that recovery cannot explain as a torn
// final write: a bad checksum or impossible record with valid data after it,
// damage in a segment that is not the last one, a broken sequence between
// segments, or a damaged snapshot file. Recovery refuses to start rather than
// silently dropping data that was acknowledged as durable; the operator must
// restore the node (for example wipe it and let the leader send a snapshot).
type CorruptionError struct {
	// File is the path of the damaged file.
	File string
	// Offset is the byte offset in File where the damage starts.
	Offset int64
	// Reason says what was wrong, in words an operator can act on.
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corrupt data in %s at byte offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true for every CorruptionError.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(file string, off int64, format string, args ...any) *CorruptionError {
	return &CorruptionError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
