package udpjson

import (
	"bytes"
	"errors"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestSplitAppBoundsEveryPiece(t *testing.T) {
	big := bytes.Repeat([]byte{0xFF}, 9000) // escapes to 54,000 bytes
	for _, tc := range []struct {
		name    string
		entries []raft.Entry
		limit   int
	}{
		{"many small", manyPuts(t, 3000), DefaultMaxSize},
		{"many small, tight", manyPuts(t, 200), 1000},
		{"large", []raft.Entry{{Term: 2, Index: 11, Data: bytes.Repeat([]byte("x"), 40000)},
			{Term: 2, Index: 12, Data: bytes.Repeat([]byte("y"), 40000)},
			{Term: 3, Index: 13, Data: big}, {Term: 3, Index: 14, Type: raft.EntryNoop}}, DefaultMaxSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := raft.Message{Type: raft.MsgApp, From: 1, To: 3, Term: 3, LogTerm: 2, Index: tc.entries[0].Index - 1,
				Commit: 9, Seq: 77, Lead: 2, Chain: []uint64{3, 4}, Entries: tc.entries}
			pieces, err := SplitApp(&m, 0, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(pieces) < 2 {
				t.Fatalf("%d pieces", len(pieces))
			}
			var all []raft.Entry
			prevIndex, prevTerm := m.Index, m.LogTerm
			for i, p := range pieces {
				b, err := AppendRaft(nil, &p, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > tc.limit {
					t.Fatalf("piece %d: %d bytes > %d", i, len(b), tc.limit)
				}
				// Greedy: the next entry would not have fit.
				if i+1 < len(pieces) {
					more := p
					more.Entries = m.Entries[len(all) : len(all)+len(p.Entries)+1]
					if b2, _ := AppendRaft(nil, &more, 0); len(b2) <= tc.limit {
						t.Errorf("piece %d: could have taken one more entry (%d bytes)", i, len(b2))
					}
				}
				d, err := Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				if !sameMessage(d.Raft, p) {
					t.Fatalf("piece %d does not round-trip", i)
				}
				if p.Index != prevIndex || p.LogTerm != prevTerm {
					t.Errorf("piece %d: prev %d/%d, want %d/%d", i, p.Index, p.LogTerm, prevIndex, prevTerm)
				}
				if p.Term != m.Term || p.Commit != m.Commit || p.Seq != m.Seq || p.Lead != m.Lead || len(p.Chain) != 2 {
					t.Errorf("piece %d lost a field: %s", i, raft.DescribeMessage(p))
				}
				last := p.Entries[len(p.Entries)-1]
				prevIndex, prevTerm = last.Index, last.Term
				all = append(all, p.Entries...)
			}
			if !sameMessage(raft.Message{Entries: all}, raft.Message{Entries: m.Entries}) {
				t.Error("pieces do not add up to the original entries")
			}
		})
	}
}

func manyPuts(t *testing.T, n int) []raft.Entry {
	out := make([]raft.Entry, n)
	for i := range out {
		out[i] = putEntry(t, 2, uint64(11+i))
	}
	return out
}

func TestSplitAppLimits(t *testing.T) {
	small := typicalApp(t)
	pieces, err := SplitApp(&small, 0, DefaultMaxSize)
	if err != nil || len(pieces) != 1 || !sameMessage(pieces[0], small) {
		t.Errorf("a message that fits: %d pieces, %v", len(pieces), err)
	}
	huge := raft.Message{Type: raft.MsgApp, From: 1, To: 2, Term: 1,
		Entries: []raft.Entry{{Term: 1, Index: 1}, {Term: 1, Index: 2, Data: make([]byte, 70000)}}}
	if _, err := SplitApp(&huge, 0, DefaultMaxSize); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an entry too large for any datagram: %v", err)
	}
	snap := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Term: 1,
		Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 5, Term: 1}, Data: make([]byte, 50000)}}
	if _, err := SplitApp(&snap, 0, DefaultMaxSize); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a snapshot too large: %v", err)
	}
	bad := raft.Message{Type: raft.MsgApp, From: 0, To: 2}
	if _, err := SplitApp(&bad, 0, DefaultMaxSize); !errors.Is(err, ErrInvalid) {
		t.Errorf("an invalid message: %v", err)
	}
}
