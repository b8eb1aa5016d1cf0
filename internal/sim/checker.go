package sim

import (
	"fmt"
	"hash/fnv"

	"github.com/raftkv/raftkv/internal/raft"
)

// checker verifies Raft's safety properties after every step of a run
// (paper Figure 3) plus the guarantees raftkv adds on top. The first
// violation ends the run.
type checker struct {
	c *Cluster
	// leaders maps a term to the node that led it: at most one.
	leaders map[uint64]uint64
	// applied[i-1] is the entry the first node applied at index i: every
	// node must apply the same one. Indexes are applied densely from 1.
	log []entryRecord
	// chains maps (index, term) to the hash of the log prefix ending
	// there: logs that share an entry share the prefix (log matching).
	chains map[[2]uint64]uint64
	// ackCount counts how many nodes acknowledged each request.
	ackCount map[reqKey]int
	// firstApply maps a request to the index where it took effect: a
	// retried request must never take effect at a second index.
	firstApply map[reqKey]uint64
	// snapWritten is, per node, the last snapshot index its current
	// incarnation wrote: snapshots only move forward.
	snapWritten []uint64
	// lastApplied is, per node, the last index its current incarnation
	// applied.
	lastApplied []uint64
}

type entryRecord struct {
	term uint64
	hash uint64
	// commitTerm is the lowest term in which any node applied the entry:
	// an upper bound on the term of the leader that committed it.
	commitTerm uint64
}

func newChecker(c *Cluster) *checker {
	return &checker{
		c: c, leaders: map[uint64]uint64{},
		chains: map[[2]uint64]uint64{}, ackCount: map[reqKey]int{}, firstApply: map[reqKey]uint64{},
		snapWritten: make([]uint64, len(c.nodes)+1), lastApplied: make([]uint64, len(c.nodes)+1),
	}
}

func (ck *checker) failf(format string, args ...any) {
	ck.c.fail(fmt.Errorf(format, args...))
}

func entryHash(e *raft.Entry) uint64 {
	h := fnv.New64a()
	var b [8 * 4]byte
	for i, v := range [4]uint64{e.Term, e.Index, uint64(e.Type), e.ClientID ^ e.RequestID<<20} {
		for j := 0; j < 8; j++ {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	h.Write(b[:])
	h.Write(e.Data)
	return h.Sum64()
}

func chainHash(prev uint64, e *raft.Entry) uint64 {
	return prev*0x100000001b3 ^ entryHash(e)
}

// rebuildChain recomputes a node's log hashes from what it recovered.
func (n *simNode) rebuildChain(st raft.State) {
	n.logBase = snapIndex(st.Snapshot)
	n.logChain = n.logChain[:0]
	prev := n.c.check.snapChain(st.Snapshot)
	for i := range st.Entries {
		prev = chainHash(prev, &st.Entries[i])
		n.logChain = append(n.logChain, prev)
	}
}

func (ck *checker) snapChain(s *raft.Snapshot) uint64 {
	if s == nil || s.Meta.Index == 0 {
		return 0
	}
	return ck.chains[[2]uint64{s.Meta.Index, s.Meta.Term}]
}

// logWritten checks log matching for entries a node persists: an entry
// (index, term) anywhere must sit on the same prefix as everywhere else.
func (ck *checker) logWritten(n *simNode, ents []raft.Entry) {
	first := ents[0].Index
	if first <= n.logBase {
		skip := int(n.logBase - first + 1)
		if skip >= len(ents) {
			return
		}
		ents = ents[skip:]
		first = ents[0].Index
	}
	keep := int(first - n.logBase - 1)
	if keep > len(n.logChain) {
		ck.failf("node %d persists entries from %d but its log ends at %d", n.id, first, n.logBase+uint64(len(n.logChain)))
		return
	}
	n.logChain = n.logChain[:keep]
	prev := uint64(0)
	if keep > 0 {
		prev = n.logChain[keep-1]
	} else if n.logBase > 0 {
		prev = ck.chains[[2]uint64{n.logBase, n.disk.durableOrPendingSnapTerm()}]
	}
	for i := range ents {
		e := &ents[i]
		prev = chainHash(prev, e)
		n.logChain = append(n.logChain, prev)
		key := [2]uint64{e.Index, e.Term}
		if old, ok := ck.chains[key]; ok && old != prev {
			ck.failf("log matching violated: node %d's entry %d/%d follows a different log prefix than another node's", n.id, e.Index, e.Term)
			return
		} else if !ok {
			ck.chains[key] = prev
		}
	}
}

func (d *disk) durableOrPendingSnapTerm() uint64 {
	for i := len(d.pending) - 1; i >= 0; i-- {
		if d.pending[i].snap != nil {
			return d.pending[i].snap.Meta.Term
		}
	}
	if d.durable.snap != nil {
		return d.durable.snap.Meta.Term
	}
	return 0
}

func (ck *checker) snapshotWritten(n *simNode, s *raft.Snapshot) {
	idx := s.Meta.Index
	if idx <= ck.snapWritten[n.id] {
		ck.failf("node %d wrote snapshot %d after snapshot %d: the applied point went back", n.id, idx, ck.snapWritten[n.id])
		return
	}
	ck.snapWritten[n.id] = idx
	// A snapshot from the leader moves the applied index forward to it,
	// once durable, after the applies of earlier Readies took effect.
	at, inc := n.outAt, n.incarnation
	ck.c.sched.at(at, func() {
		if n.sentBeforeCrash(inc, at) {
			ck.lastApplied[n.id] = max(ck.lastApplied[n.id], idx)
		}
	})
	if rec, ok := ck.appliedAt(idx); ok && rec.term != s.Meta.Term {
		ck.failf("node %d snapshot at %d has term %d, but term %d was applied there", n.id, idx, s.Meta.Term, rec.term)
	}
	// Keep the chain hashes of entries the snapshot still holds.
	if idx > n.logBase && idx-n.logBase <= uint64(len(n.logChain)) {
		n.logChain = append([]uint64(nil), n.logChain[idx-n.logBase:]...)
	} else {
		n.logChain = n.logChain[:0]
	}
	n.logBase = idx
}

func (ck *checker) nodeStarted(n *simNode, st raft.State) {
	si := snapIndex(st.Snapshot)
	if si < n.disk.snapFloor {
		ck.failf("node %d restarted from snapshot %d, below snapshot %d it had made durable", n.id, si, n.disk.snapFloor)
	}
	ck.snapWritten[n.id] = si
	ck.lastApplied[n.id] = si
}

// applied checks state machine safety: every node applies the same entry
// at an index, and each node applies indexes in order, never going back.
func (ck *checker) applied(n *simNode, e raft.Entry, term uint64) {
	if want := ck.lastApplied[n.id] + 1; e.Index != want {
		ck.failf("node %d applied %d, expected %d: the applied index skipped or went back", n.id, e.Index, want)
		return
	}
	ck.lastApplied[n.id] = e.Index
	rec := entryRecord{term: e.Term, hash: entryHash(&e), commitTerm: term}
	if old, ok := ck.appliedAt(e.Index); ok {
		ck.log[e.Index-1].commitTerm = min(old.commitTerm, rec.commitTerm)
		if old.term != rec.term || old.hash != rec.hash {
			ck.failf("state machine safety violated: node %d applied %s at %d, another node applied a different entry (term %d)",
				n.id, raft.DescribeEntry(e), e.Index, old.term)
		}
		return
	}
	if e.Index != uint64(len(ck.log))+1 {
		ck.failf("node %d applied index %d first, but only %d indexes were applied anywhere", n.id, e.Index, len(ck.log))
		return
	}
	ck.log = append(ck.log, rec)
}

func (ck *checker) appliedAt(i uint64) (entryRecord, bool) {
	if i == 0 || i > uint64(len(ck.log)) {
		return entryRecord{}, false
	}
	return ck.log[i-1], true
}

// becameLeader checks election safety and leader completeness: an entry
// committed in a term is in the log of every leader of a later term (paper
// §5.4). Only later terms: a leader of an earlier term can still be elected
// after the commit, by votes granted before it (delayed messages).
func (ck *checker) becameLeader(n *simNode) {
	r := n.drv.Raft()
	term := r.Term()
	if other, ok := ck.leaders[term]; ok && other != n.id {
		ck.failf("election safety violated: nodes %d and %d both lead term %d", other, n.id, term)
		return
	}
	ck.leaders[term] = n.id
	st := r.Status()
	for i := st.SnapshotIndex; i < uint64(len(ck.log)); i++ {
		idx, rec := i+1, ck.log[i]
		if rec.commitTerm >= term {
			continue
		}
		if idx > st.LastIndex {
			ck.failf("leader completeness violated: node %d leads term %d with log ending at %d, but entry %d was committed",
				n.id, term, st.LastIndex, idx)
			return
		}
		if t, err := r.LogTerm(idx); err != nil || t != rec.term {
			ck.failf("leader completeness violated: node %d leads term %d with term %d at %d, but an entry of term %d was committed there",
				n.id, term, t, idx, rec.term)
			return
		}
	}
}

// putAcknowledged checks that an acknowledged write is the committed entry
// at the index the acknowledgement names.
func (ck *checker) putAcknowledged(req clientReq, index uint64) {
	rec, ok := ck.appliedAt(index)
	if !ok {
		ck.failf("client %d's put (req %d) acknowledged at index %d, which no node applied", req.client, req.req, index)
		return
	}
	e := raft.Entry{Term: rec.term, Index: index, ClientID: req.client, RequestID: req.req, Data: encodePut(req.key, req.value)}
	if entryHash(&e) != rec.hash {
		ck.failf("client %d's put (req %d) acknowledged at index %d, but another entry was committed there", req.client, req.req, index)
	}
}

// appliedOnce checks exactly-once application of client requests.
func (ck *checker) appliedOnce(n *simNode, k reqKey, index uint64, res putResult) {
	if res.Duplicate || res.Stale {
		ck.c.stats.Deduplicated++
		return
	}
	if first, ok := ck.firstApply[k]; ok && first != index {
		ck.failf("exactly-once violated: node %d applied client %d's request %d at %d, but it already took effect at %d",
			n.id, k.client, k.req, index, first)
		return
	}
	ck.firstApply[k] = index
}

func (ck *checker) acked(k reqKey) {
	ck.ackCount[k]++
	if ck.ackCount[k] == 2 {
		ck.c.stats.DuplicateAcks++
	}
}
