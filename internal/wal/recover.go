package wal

import (
	"fmt"
	"log/slog"

	"github.com/raftkv/raftkv/internal/raft"
)

// replayer rebuilds the log from segments, oldest first. Rules (DESIGN.md,
// "Recovery"):
//   - Every frame must check out. Damage in a segment that is not the last
//     one is corruption: a segment is fully synced before the next starts.
//   - In the last segment, damage after which no valid frame follows is the
//     torn tail of the one write that may not have been synced: it is
//     truncated and logged. Damage followed by a valid frame is corruption,
//     because that later frame was written only after the damaged one had
//     been synced.
//   - A frame whose checksum is right but whose records are malformed or
//     break the log's invariants is always corruption: a torn write cannot
//     produce a valid checksum.
type replayer struct {
	log   *slog.Logger
	state logState
	// segs lists the segments replayed so far.
	segs []segmentInfo
	// tailEnd is where valid data ends in the last segment; truncated
	// reports that damage past it was found and must be cut off.
	tailEnd   int64
	truncated bool
	// prevPath and prevEnd locate the end of the previous segment's data.
	prevPath string
	prevEnd  int64
}

// segment replays one segment's bytes. path is used in errors; first tells
// whether this is the oldest segment present (which initialises the state
// from its header), last whether it is the newest (the only one that may
// end in a torn write).
func (r *replayer) segment(path, name string, data []byte, first, last bool) error {
	seq, firstIndex, _ := parseSegmentName(name)
	res, t, payload, size, reason := readFrame(data, 0, seq)
	switch {
	case res == frameEmpty:
		return corruptf(path, 0, "segment has no header (file is empty or zeroed)")
	case res == frameBad:
		return corruptf(path, 0, "segment header: %s", reason)
	case t != frameSegmentHeader:
		return corruptf(path, 0, "first frame has type %d, want a segment header", t)
	}
	h, err := decodeSegHeader(payload)
	if err != nil {
		return corruptf(path, 0, "%v", err)
	}
	switch {
	case h.seq != seq:
		return corruptf(path, 0, "header says sequence %d but the file name says %d", h.seq, seq)
	case h.lastIndex+1 != firstIndex:
		return corruptf(path, 0, "header says the segment starts after index %d but the file name says %d", h.lastIndex, firstIndex)
	case h.snap.Index > h.lastIndex || h.hs.Commit > h.lastIndex:
		return corruptf(path, 0, "impossible header: snapshot %d, commit %d, last index %d", h.snap.Index, h.hs.Commit, h.lastIndex)
	}
	if first {
		r.state.resetTo(&h)
	} else if s := &r.state; h.lastIndex != s.last || h.lastTerm != s.lastTerm || h.hs != s.hs || !sameMeta(&h.snap, &s.snap) {
		// Report where the previous segment's data ends: the usual cause
		// is data lost at its end (the next header records the state
		// that data had produced).
		return corruptf(r.prevPath, r.prevEnd,
			"the log ends here at last index %d/%d, %+v, snapshot %d/%d, but the next segment %s was started at last index %d/%d, %+v, snapshot %d/%d: data is missing here or the next segment belongs to another log",
			s.last, s.lastTerm, s.hs, s.snap.Index, s.snap.Term, path, h.lastIndex, h.lastTerm, h.hs, h.snap.Index, h.snap.Term)
	}
	r.segs = append(r.segs, segmentInfo{name: name, seq: seq, lastIndex: h.lastIndex})
	r.prevPath = path

	off := size
	for off < int64(len(data)) {
		res, t, payload, size, reason := readFrame(data, off, seq)
		switch res {
		case frameEmpty:
			if allZero(data[off:]) {
				return r.end(last, off, false)
			}
			if err := r.damaged(path, data, seq, off, "zeroed frame header followed by nonzero bytes", last); err != nil {
				return err
			}
			return r.end(last, off, true)
		case frameBad:
			if err := r.damaged(path, data, seq, off, reason, last); err != nil {
				return err
			}
			return r.end(last, off, true)
		}
		if t != frameBatch {
			return corruptf(path, off, "frame of type %d where only batches may appear", t)
		}
		ops, err := decodeBatch(payload)
		if err != nil {
			return corruptf(path, off, "checksummed frame holds malformed records: %v", err)
		}
		for i := range ops {
			if err := r.apply(&ops[i]); err != nil {
				return corruptf(path, off, "record %d of a checksummed frame is impossible: %v", i, err)
			}
		}
		off += size
	}
	return r.end(last, off, false)
}

func (r *replayer) end(last bool, off int64, truncated bool) error {
	r.prevEnd = off
	if last {
		r.tailEnd, r.truncated = off, truncated
	}
	return nil
}

// damaged decides whether damage at off is a torn tail (nil) or corruption.
func (r *replayer) damaged(path string, data []byte, seq uint64, off int64, reason string, last bool) error {
	if !last {
		return corruptf(path, off, "%s, in a segment that is not the last one", reason)
	}
	if p := findValidFrame(data, off+frameAlign, seq); p >= 0 {
		return corruptf(path, off, "%s, and a valid frame follows at offset %d", reason, p)
	}
	r.log.Warn("wal: truncating torn tail of the last segment",
		"file", path, "offset", off, "reason", reason, "bytes_dropped", len(data)-int(off))
	return nil
}

// apply replays one record with the same checks the writer made.
func (r *replayer) apply(o *op) error {
	s := &r.state
	switch o.typ {
	case recEntries:
		if err := s.checkEntries(o.ents); err != nil {
			return err
		}
		s.applyEntries(o.ents)
	case recHardState:
		if err := s.checkHardState(o.hs); err != nil {
			return err
		}
		s.hs = o.hs
	case recSnapshot:
		if retain, known := s.retains(&o.snap); known && retain != o.retain {
			return fmt.Errorf("snapshot %d/%d marked retain=%v but the log says %v", o.snap.Index, o.snap.Term, o.retain, retain)
		}
		if err := s.checkSnapshot(&o.snap, o.retain); err != nil {
			return err
		}
		s.applySnapshot(&o.snap, o.retain)
	}
	return nil
}

// finish checks the replayed log is whole and returns the recovered State,
// with entry payloads copied out of the segment buffers.
func (r *replayer) finish(firstPath string) (*State, error) {
	s := &r.state
	if s.known > s.snap.Index+1 {
		return nil, corruptf(firstPath, 0, "entries %d..%d are missing: a segment still needed was removed", s.snap.Index+1, s.known-1)
	}
	st := &State{HardState: s.hs, Snapshot: s.snap}
	// A snapshot covers only committed entries.
	st.HardState.Commit = max(st.HardState.Commit, s.snap.Index)
	total := 0
	for i := range s.ents {
		total += len(s.ents[i].Data)
	}
	arena := make([]byte, 0, total)
	st.Entries = make([]raft.Entry, len(s.ents))
	for i, e := range s.ents {
		if e.Data != nil {
			start := len(arena)
			arena = append(arena, e.Data...)
			e.Data = arena[start:len(arena):len(arena)]
		}
		st.Entries[i] = e
	}
	s.ents, s.keepEntries = nil, false
	return st, nil
}
