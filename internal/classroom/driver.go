package classroom

import (
	"slices"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport/udpjson"
)

// The Replica is its own driver's storage, transport, state machine and
// listener. A classroom replica runs until killed and never restarts, so
// nothing needs to reach a disk.

// Save records which keys the log's entries write (for reads that must
// wait for an in-flight write); nothing is persisted.
func (r *Replica) Save(_ raft.HardState, ents []raft.Entry, _ bool) error {
	for i := range ents {
		e := &ents[i]
		if e.Type != raft.EntryNormal {
			continue
		}
		cmd, err := udpjson.DecodeCommand(e.Data)
		if err != nil || cmd.Op != udpjson.OpPut {
			continue
		}
		r.lastWrite[cmd.Key] = max(r.lastWrite[cmd.Key], e.Index)
	}
	return nil
}

// SaveSnapshot is never called: the classroom replica does not compact.
func (r *Replica) SaveSnapshot(raft.Snapshot) error { return nil }

// Send queues a Ready's Raft messages; Flush writes them after the Ready's
// entries are applied. Nothing is persisted here, so sending after applying
// is as safe as before, and it makes a tail's answers to clients leave
// before its answer to the leader: a client must see its put's ok before
// the leader can serve a get that reveals the put.
func (r *Replica) Send(msgs []raft.Message) {
	r.outbox = append(r.outbox, msgs...)
}

func (r *Replica) sendOutbox() {
	if len(r.outbox) == 0 {
		return
	}
	for i := range r.outbox {
		if t := r.outbox[i].Type; int(t) < len(r.sent) {
			r.sent[t].Add(1)
		}
	}
	if err := r.out.Send(r.outbox, r.leaderID()); err != nil {
		r.log.Warn("send failed", "err", err)
	}
	clear(r.outbox)
	r.outbox = r.outbox[:0]
}

// Apply applies a committed put, once per (client, MID).
func (r *Replica) Apply(e raft.Entry) any {
	cmd, err := udpjson.DecodeCommand(e.Data)
	if err != nil {
		r.log.Error("undecodable entry", "index", e.Index, "err", err)
		return nil
	}
	if cmd.Op != udpjson.OpPut {
		return cmd
	}
	k := cmdKey{cmd.Client, cmd.MID}
	if !r.done[k] {
		r.done[k] = true
		r.data[cmd.Key] = cmd.Value
	}
	return cmd
}

// Snapshot and Restore are never used: no compaction.
func (r *Replica) Snapshot() ([]byte, error) { return nil, nil }
func (r *Replica) Restore([]byte) error      { return nil }

// Applied answers the client of a committed put when this replica is the
// one the core names (ack), resolves puts this replica proposed, and notes
// the puts a new leader inherited.
func (r *Replica) Applied(e raft.Entry, result any, ack bool) {
	p, mine := r.pending[e.Index]
	if mine {
		delete(r.pending, e.Index)
	}
	cmd, isCmd := result.(udpjson.Command)
	if mine && (!isCmd || e.Term != p.term || cmd.Client != p.cmd.Client || cmd.MID != p.cmd.MID) {
		// Another entry committed where ours stood: ours never applies.
		r.reply(p.cmd, udpjson.TypeRedirect, "")
	}
	if !isCmd || cmd.Op != udpjson.OpPut {
		return
	}
	r.log.Debug("applied put", "index", e.Index, "term", e.Term, "mid", cmd.MID, "key", cmd.Key, "value", cmd.Value, "ack", ack)
	switch {
	case ack:
		r.reply(cmd, udpjson.TypeOK, "")
	case r.isLeader() && e.Term < r.drv.Raft().Term() && e.Index > r.commitAtElection:
		r.inherited = append(r.inherited, cmd)
		r.inheritedIndex = append(r.inheritedIndex, e.Index)
	}
}

// ReadReady serves a get confirmed by a ReadIndex round.
func (r *Replica) ReadReady(ctx uint64) {
	cmd, ok := r.reads[ctx]
	if !ok {
		return
	}
	delete(r.reads, ctx)
	// Leadership is confirmed; the read still waits for the last write to
	// its key to be applied and acknowledged (serveWaiting).
	r.waiting = append(r.waiting, getReq{cmd: cmd})
}

// SoftStateChanged redirects the reads a former leader can no longer serve
// and records what a new leader inherits.
func (r *Replica) SoftStateChanged(s raft.SoftState) {
	wasLeader := r.soft.Role == raft.Leader
	r.soft = s
	if wasLeader && s.Role != raft.Leader {
		for _, g := range r.waiting {
			r.reply(g.cmd, udpjson.TypeRedirect, "")
		}
		r.waiting = nil
		// In registration order: replies must not depend on map order.
		ctxs := make([]uint64, 0, len(r.reads))
		for ctx := range r.reads {
			ctxs = append(ctxs, ctx)
		}
		slices.Sort(ctxs)
		for _, ctx := range ctxs {
			r.reply(r.reads[ctx], udpjson.TypeRedirect, "")
			delete(r.reads, ctx)
		}
		for _, cmd := range r.heldPuts {
			r.reply(cmd, udpjson.TypeRedirect, "")
		}
		r.inherited, r.inheritedIndex, r.heldPuts = nil, nil, nil
		clear(r.inheritKeys)
	}
	if !wasLeader && s.Role == raft.Leader {
		core := r.drv.Raft()
		st := core.Status()
		r.leaderSince = r.now
		r.commitAtElection = st.Commit
		// The entries of earlier terms this leader must decide about: its
		// log past the commit index, up to the no-op opening its term.
		clear(r.inheritKeys)
		r.inheritEnd = 0
		if ents, err := core.Entries(st.Commit+1, st.LastIndex+1); err == nil {
			for _, e := range ents {
				if e.Term == core.Term() || e.Type != raft.EntryNormal {
					continue
				}
				if cmd, err := udpjson.DecodeCommand(e.Data); err == nil && cmd.Op == udpjson.OpPut {
					r.inheritKeys[cmd.Key]++
					r.inheritEnd = e.Index
				}
			}
		}
	}
}
