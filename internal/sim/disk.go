package sim

import (
	"math"
	"slices"

	"github.com/raftkv/raftkv/internal/raft"
)

const never = Time(math.MaxInt64)

// diskState is what a node has on disk: the image a restart recovers.
type diskState struct {
	hs   raft.HardState
	snap *raft.Snapshot
	ents []raft.Entry // the entries after snap, in order
}

// write is one Save or SaveSnapshot call.
type write struct {
	hs   raft.HardState
	ents []raft.Entry
	snap *raft.Snapshot
	// durableAt is when the write reaches stable storage: the end of the
	// fsync that covers it, or never if no fsync has been asked for yet.
	durableAt Time
}

// disk models one node's stable storage. Writes become durable when an
// fsync completes, FsyncLatency after it was asked for. A crash keeps the
// durable writes; the others survive too unless the run loses unsynced
// writes (a power cut rather than a process crash).
type disk struct {
	durable diskState
	pending []write
	// snapFloor is the highest snapshot index ever durable: it never goes
	// back, which the checker verifies.
	snapFloor uint64
}

func (d *disk) add(w write, now, syncDoneAt Time, sync bool) {
	d.settle(now)
	if sync {
		for i := range d.pending {
			if d.pending[i].durableAt == never {
				d.pending[i].durableAt = syncDoneAt
			}
		}
		w.durableAt = syncDoneAt
	} else {
		w.durableAt = never
	}
	d.pending = append(d.pending, w)
}

// settle folds every write durable by now into the durable image.
func (d *disk) settle(now Time) {
	n := 0
	for _, w := range d.pending {
		if w.durableAt > now {
			break
		}
		d.durable.apply(w)
		n++
	}
	d.pending = d.pending[n:]
	if d.durable.snap != nil {
		d.snapFloor = max(d.snapFloor, d.durable.snap.Meta.Index)
	}
}

// crash decides what survives a crash at now.
func (d *disk) crash(now Time, loseUnsynced bool) {
	if loseUnsynced {
		d.settle(now)
	} else {
		d.settle(never)
	}
	d.pending = nil
}

// recover returns the state a restarting node reads.
func (d *disk) recover() raft.State {
	return raft.State{HardState: d.durable.hs, Snapshot: d.durable.snap, Entries: slices.Clone(d.durable.ents)}
}

func (s *diskState) apply(w write) {
	if w.snap != nil {
		// Keep the entries after the snapshot only if the log holds the
		// snapshot's last entry with its term: then, by log matching, they
		// agree with the leader's. Otherwise the whole log is replaced.
		var keep []raft.Entry
		idx := w.snap.Meta.Index
		base := uint64(0)
		if s.snap != nil {
			base = s.snap.Meta.Index
		}
		if idx > base && idx-base <= uint64(len(s.ents)) && s.ents[idx-base-1].Term == w.snap.Meta.Term {
			keep = slices.Clone(s.ents[idx-base:])
		}
		if s.snap == nil || idx > s.snap.Meta.Index {
			s.snap = w.snap
			s.ents = keep
		}
	}
	if len(w.ents) > 0 {
		base := uint64(0)
		if s.snap != nil {
			base = s.snap.Meta.Index
		}
		first := w.ents[0].Index
		if first <= base {
			// Entries the snapshot already covers: keep only the rest.
			skip := int(base - first + 1)
			if skip >= len(w.ents) {
				goto hs
			}
			w.ents = w.ents[skip:]
			first = w.ents[0].Index
		}
		keep := int(min(first-base-1, uint64(len(s.ents))))
		s.ents = append(s.ents[:keep:keep], w.ents...)
	}
hs:
	if !w.hs.IsEmpty() {
		s.hs = w.hs
	}
}
