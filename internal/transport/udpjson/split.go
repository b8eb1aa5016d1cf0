package udpjson

import (
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
)

// entriesOverhead is what a non-empty "e" array adds besides its entries
// and the commas between them: `,"e":[` and `]`.
const entriesOverhead = len(`,"e":[`) + len(`]`)

// SplitApp cuts a MsgApp whose datagram would exceed limit bytes into
// consecutive MsgApps that each fit, so that a long catch-up never becomes
// a datagram the kernel or the simulator refuses. Piece k+1 starts where
// piece k ends: its Index/LogTerm (prevLogIndex/prevLogTerm) are those of
// piece k's last entry. Every piece keeps m's Term, Commit, Seq, Chain and
// Lead; that is safe because a follower commits only up to the last entry
// it was sent (min(leaderCommit, last new index), paper Figure 2), and
// because every acknowledgement of a piece is a true statement about the
// follower's log. The core should bound messages itself (raft's
// Config.MaxBytesPerMsg): this is the safety net, and costs one counted
// message per extra piece.
//
// A message that fits is returned as is; a message other than MsgApp that
// does not fit, or an entry that cannot fit even alone, is ErrTooLarge.
// The pieces' Entries alias m.Entries.
func SplitApp(m *raft.Message, leader ID, limit int) ([]raft.Message, error) {
	buf, err := AppendRaft(nil, m, leader)
	if err != nil {
		return nil, err
	}
	if len(buf) <= limit {
		return []raft.Message{*m}, nil
	}
	if m.Type != raft.MsgApp || len(m.Entries) == 0 {
		return nil, fmt.Errorf("udpjson: %s of %d bytes, limit %d: %w", RaftTypeName(m.Type), len(buf), limit, ErrTooLarge)
	}
	var pieces []raft.Message
	start := 0
	for start < len(m.Entries) {
		piece := *m
		piece.Entries = nil
		if start > 0 {
			prev := &m.Entries[start-1]
			piece.Index, piece.LogTerm = prev.Index, prev.Term
		}
		if buf, err = AppendRaft(buf[:0], &piece, leader); err != nil {
			return nil, err
		}
		size := len(buf) + entriesOverhead - 1 // -1: no comma before the first entry
		end := start
		for end < len(m.Entries) {
			if buf, err = appendEntry(buf[:0], &m.Entries[end]); err != nil {
				return nil, fmt.Errorf("udpjson: split: entry %d: %w", end, err)
			}
			if size+1+len(buf) > limit {
				break
			}
			size += 1 + len(buf)
			end++
		}
		if end == start {
			return nil, fmt.Errorf("udpjson: split: entry %d (%d bytes) does not fit in %d bytes: %w",
				m.Entries[start].Index, len(buf), limit, ErrTooLarge)
		}
		piece.Entries = m.Entries[start:end:end]
		pieces = append(pieces, piece)
		start = end
	}
	return pieces, nil
}
