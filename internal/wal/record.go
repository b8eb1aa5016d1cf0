package wal

import (
	"encoding/binary"
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// A batch frame's payload is a sequence of records, each a type byte followed
// by its wire encoding. The frame, not the record, is the unit the CRC and
// the torn-write rules apply to: one group commit writes exactly one frame,
// so a crash can tear at most the last frame and never leaves a hole
// followed by valid records of the same unsynced write.
type recordType byte

const (
	// recEntries: uvarint count, then count wire entries with consecutive
	// indexes. Replay overwrites the log from the first index on.
	recEntries recordType = 1
	// recHardState: one wire hard state.
	recHardState recordType = 2
	// recSnapshot: a wire SnapshotMeta then one byte, 1 if the entries after
	// the snapshot's index were retained (the log held that index at that
	// term), 0 if the whole log was discarded (Raft paper Figure 13, step 6).
	recSnapshot recordType = 3
)

// minEntrySize is the smallest wire entry: five one-byte varints and a type.
const minEntrySize = 6

// op is one decoded record.
type op struct {
	typ    recordType
	ents   []raft.Entry
	hs     raft.HardState
	snap   raft.SnapshotMeta
	retain bool
}

func appendEntriesRecord(b []byte, ents []raft.Entry) []byte {
	b = append(b, byte(recEntries))
	b = binary.AppendUvarint(b, uint64(len(ents)))
	for i := range ents {
		b = wire.AppendEntry(b, &ents[i])
	}
	return b
}

func appendHardStateRecord(b []byte, hs raft.HardState) []byte {
	return wire.AppendHardState(append(b, byte(recHardState)), hs)
}

func appendSnapshotRecord(b []byte, m *raft.SnapshotMeta, retain bool) []byte {
	b = wire.AppendSnapshotMeta(append(b, byte(recSnapshot)), m)
	if retain {
		return append(b, 1)
	}
	return append(b, 0)
}

// decodeBatch decodes a batch frame's payload. Decoded entry data aliases p.
// It checks form only (types, counts, flags, no trailing bytes); whether the
// records make sense against the log is logState's job.
func decodeBatch(p []byte) ([]op, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("empty batch")
	}
	d := wire.NewDecoder(p)
	var ops []op
	for d.Remaining() > 0 {
		switch t := recordType(d.Byte()); t {
		case recEntries:
			n := d.Uvarint()
			if d.Err() == nil && (n == 0 || n > uint64(d.Remaining()/minEntrySize)) {
				return nil, fmt.Errorf("entries record with impossible count %d", n)
			}
			ents := make([]raft.Entry, 0, n)
			for i := uint64(0); i < n && d.Err() == nil; i++ {
				ents = append(ents, d.Entry())
			}
			ops = append(ops, op{typ: t, ents: ents})
		case recHardState:
			ops = append(ops, op{typ: t, hs: d.HardState()})
		case recSnapshot:
			m := d.SnapshotMeta()
			flag := d.Byte()
			if d.Err() == nil && flag > 1 {
				return nil, fmt.Errorf("snapshot record with unknown flag %d", flag)
			}
			ops = append(ops, op{typ: t, snap: m, retain: flag == 1})
		default:
			if d.Err() == nil {
				return nil, fmt.Errorf("unknown record type %d", t)
			}
		}
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(ops), err)
		}
	}
	return ops, nil
}

// segmentMagic opens every segment header payload; it names the format so a
// stray file is not mistaken for a segment.
const segmentMagic = "raftkvWAL\x01"

// segHeader is the first frame of every segment: the durable state of the
// log when the segment was started. Repeating the hard state and the latest
// snapshot here makes each segment self-describing, so older segments can be
// deleted without losing the vote or where the log starts (etcd writes its
// metadata and hard state at the top of each new file for the same reason).
type segHeader struct {
	seq uint64
	// lastIndex and lastTerm are the log's last position when the segment
	// was started; the first entry written into it is <= lastIndex+1.
	lastIndex uint64
	lastTerm  uint64
	hs        raft.HardState
	snap      raft.SnapshotMeta
}

func appendSegHeader(b []byte, h *segHeader) []byte {
	b = append(b, segmentMagic...)
	b = binary.AppendUvarint(b, h.seq)
	b = binary.AppendUvarint(b, h.lastIndex)
	b = binary.AppendUvarint(b, h.lastTerm)
	b = wire.AppendHardState(b, h.hs)
	return wire.AppendSnapshotMeta(b, &h.snap)
}

func decodeSegHeader(p []byte) (segHeader, error) {
	var h segHeader
	if len(p) < len(segmentMagic) || string(p[:len(segmentMagic)]) != segmentMagic {
		return h, fmt.Errorf("segment header has a bad magic or version")
	}
	d := wire.NewDecoder(p[len(segmentMagic):])
	h.seq = d.Uvarint()
	h.lastIndex = d.Uvarint()
	h.lastTerm = d.Uvarint()
	h.hs = d.HardState()
	h.snap = d.SnapshotMeta()
	if err := d.Err(); err != nil {
		return h, fmt.Errorf("segment header: %w", err)
	}
	if d.Remaining() != 0 {
		return h, fmt.Errorf("segment header has %d trailing bytes", d.Remaining())
	}
	return h, nil
}
