// Package wal is raftkv's durable storage for one node: a segmented
// write-ahead log holding the Raft hard state, log entries and snapshot
// records, plus state machine snapshot files.
//
// Usage, from the node's persist step (see internal/raft's package doc for
// the persist-send-apply-advance contract):
//
//	w, st, err := wal.Open(dir, wal.Options{Logger: logger})
//	// restart the core from st.HardState, st.Snapshot, st.Entries and
//	// the data of w.LoadSnapshot()
//	...
//	// per Ready: the snapshot first, then entries and hard state
//	if !rd.Snapshot.IsEmpty() { err = w.SaveSnapshot(rd.Snapshot.Meta, writeData) }
//	err = w.Save(rd.HardState, rd.Entries) // durable when it returns nil
//	// only now send rd.Messages
//	...
//	// now and then, after a local snapshot at index i:
//	err = w.SaveSnapshot(meta, kvSnapshot); err = w.Compact(i)
//
// Any error wrapping ErrFatal means a write or fsync failed: the WAL refuses
// all further work and the process must exit and recover from disk; never
// retry. A *CorruptionError from Open or LoadSnapshot names the damaged file
// and byte offset; the node must not start.
//
// Layout of a data directory:
//
//	LOCK                                   flock held while open
//	0000000000000000-0000000000000001.wal  segment <seq>-<first index>
//	0000000000000001-00000000000004d3.wal
//	snap/00000000000004d0-0000000000000003.snap   snapshot <index>-<term>
//
// DESIGN.md explains the framing, the recovery rules and why.
package wal
