package udpjson

import (
	"reflect"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// putEntry is the typical replicated client write: a put from client 0015
// with the simulator's alphabets (16-character MID, 32-character key, 32
// hex digits of value).
func putEntry(t testing.TB, term, index uint64) raft.Entry {
	t.Helper()
	c := Command{Op: OpPut, Client: 0x15, MID: "K3J9Q0ZP1M2N4B5V",
		Key: "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", Value: "0123456789abcdef0123456789abcdef"}
	p, err := c.Proposal()
	if err != nil {
		t.Fatal(err)
	}
	return raft.Entry{Term: term, Index: index, ClientID: p.ClientID, RequestID: p.RequestID, Data: p.Data}
}

// typicalApp is a MsgApp from leader 0000 to 0001 carrying one put.
func typicalApp(t testing.TB) raft.Message {
	return raft.Message{Type: raft.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 3, Index: 16, Commit: 16,
		Seq: 42<<24 | 7, Entries: []raft.Entry{putEntry(t, 3, 17)}}
}

// typicalHeartbeat is a heartbeat from leader 0000 to 0001.
func typicalHeartbeat() raft.Message {
	return raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 17, Seq: 42<<24 | 8}
}

// everyRaftMessage has one message of every type, with every field the
// core sets for that type, plus a few with every field set at once.
func everyRaftMessage(t testing.TB) []raft.Message {
	snap := &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 90, Term: 4, Members: []uint64{1, 2, 3, 4, 5}},
		Data: []byte{0, 1, 2, 0xFF, 'a', '"', '\\'}}
	return []raft.Message{
		typicalApp(t),
		{Type: raft.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 2, Index: 10, Commit: 9, Seq: 5,
			Entries: []raft.Entry{{Term: 3, Index: 11, Type: raft.EntryNoop}, putEntry(t, 3, 12),
				{Term: 3, Index: 13, Data: []byte("bin\x00\x01\xff\"\\\n\t\x7f")}}},
		{Type: raft.MsgApp, From: 2, To: 3, Lead: 1, Chain: []uint64{3, 4}, Term: 3, LogTerm: 3, Index: 16,
			Commit: 16, Seq: 9, Entries: []raft.Entry{putEntry(t, 3, 17)}},
		{Type: raft.MsgAppResp, From: 2, To: 1, Term: 3, Index: 17, Commit: 16, Seq: 42<<24 | 7},
		{Type: raft.MsgAppResp, From: 2, To: 1, Term: 3, Index: 17, Reject: true, RejectHint: 12, LogTerm: 2, Commit: 10, Seq: 3},
		{Type: raft.MsgAppResp, From: 4, To: 1, Term: 3, Index: 17, Chain: []uint64{3, 4}, Commit: 16, Seq: 9},
		{Type: raft.MsgApp, From: 1, To: 4, Term: 3, LogTerm: 3, Index: 16, Commit: 16, Seq: 10, Quiet: true},
		{Type: raft.MsgApp, From: 1, To: 2, Term: 3, LogTerm: 3, Index: 16, Chain: []uint64{2, 3}, Seq: 11, Urgent: true},
		typicalHeartbeat(),
		{Type: raft.MsgHeartbeatResp, From: 2, To: 1, Term: 3, Commit: 17, Index: 17, Seq: 42<<24 | 8},
		{Type: raft.MsgVote, From: 3, To: 1, Term: 4, Index: 17, LogTerm: 3},
		{Type: raft.MsgVote, From: 3, To: 1, Term: 4, Index: 17, LogTerm: 3, Force: true},
		{Type: raft.MsgVoteResp, From: 1, To: 3, Term: 4},
		{Type: raft.MsgVoteResp, From: 1, To: 3, Term: 4, Reject: true},
		{Type: raft.MsgPreVote, From: 3, To: 1, Term: 5, Index: 17, LogTerm: 3},
		{Type: raft.MsgPreVoteResp, From: 1, To: 3, Term: 5, Reject: true},
		{Type: raft.MsgSnap, From: 1, To: 5, Term: 4, Snapshot: snap, Seq: 11},
		{Type: raft.MsgSnap, From: 1, To: 5, Term: 4, Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 1, Term: 1}}},
		{Type: raft.MsgTimeoutNow, From: 1, To: 2, Term: 4},
		// Every field at once, at the bounds of the ID range.
		{Type: raft.MsgApp, From: 0xFFFF, To: 1, Term: 1<<64 - 1, LogTerm: 1<<64 - 1, Index: 1<<64 - 1,
			Commit: 1<<64 - 1, Reject: true, RejectHint: 1<<64 - 1, Seq: 1<<64 - 1, Force: true, Quiet: true, Urgent: true,
			Chain: []uint64{1, 0xFFFF}, Lead: 0xFFFF, Snapshot: snap,
			Entries: []raft.Entry{{Term: 1<<64 - 1, Index: 1<<64 - 1, Type: raft.EntryNoop,
				ClientID: 0xFFFF, RequestID: 1<<64 - 1, Data: []byte{0xFF}}}},
		{Type: raft.MsgHeartbeat, From: 1, To: 2}, // term 0 still travels
	}
}

// normalize makes empty slices nil so that reflect.DeepEqual compares what
// travels: the codec sends no empty arrays and decodes none.
func normalize(m raft.Message) raft.Message {
	if len(m.Chain) == 0 {
		m.Chain = nil
	}
	if len(m.Entries) == 0 {
		m.Entries = nil
	} else {
		es := make([]raft.Entry, len(m.Entries))
		copy(es, m.Entries)
		for i := range es {
			if len(es[i].Data) == 0 {
				es[i].Data = nil
			}
		}
		m.Entries = es
	}
	if m.Snapshot != nil {
		s := *m.Snapshot
		if len(s.Meta.Members) == 0 {
			s.Meta.Members = nil
		}
		if len(s.Data) == 0 {
			s.Data = nil
		}
		m.Snapshot = &s
	}
	return m
}

func sameMessage(a, b raft.Message) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }
