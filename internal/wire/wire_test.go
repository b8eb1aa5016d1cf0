package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func sampleMessages() []raft.Message {
	return []raft.Message{
		{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 4, Seq: 99, Quiet: true},
		{Type: raft.MsgApp, From: 1, To: 2, Term: 7, LogTerm: 6, Index: 17, Commit: 16,
			Entries: []raft.Entry{
				{Term: 7, Index: 18, Type: raft.EntryNoop},
				{Term: 7, Index: 19, ClientID: 1 << 40, RequestID: 12, Data: []byte("put k v")},
			},
			Chain: []uint64{2, 3}, Lead: 1, Urgent: true},
		{Type: raft.MsgAppResp, From: 2, To: 1, Term: 7, Reject: true, RejectHint: 5, LogTerm: 4},
		{Type: raft.MsgVote, From: 3, To: 1, Term: 9, Force: true, Index: 40, LogTerm: 8},
		{Type: raft.MsgSnap, From: 1, To: 3, Term: 9, Snapshot: &raft.Snapshot{
			Meta: raft.SnapshotMeta{Index: 100, Term: 8, Members: []uint64{1, 2, 3}},
			Data: []byte("image")}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := AppendMessage(nil, &m)
		if got := MessageSize(&m); got != len(b) {
			t.Errorf("%v: MessageSize=%d, encoded %d bytes", m.Type, got, len(b))
		}
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatalf("%v: decode: %v", m.Type, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip changed message:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestDecodeRejectsEveryTruncation(t *testing.T) {
	for _, m := range sampleMessages() {
		b := AppendMessage(nil, &m)
		for n := 0; n < len(b); n++ {
			if _, err := DecodeMessage(b[:n]); err == nil {
				t.Fatalf("%v truncated to %d of %d bytes decoded without error", m.Type, n, len(b))
			}
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := AppendMessage(nil, &raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 2})
	cases := map[string][]byte{
		"version":  append([]byte{Version + 1}, good[1:]...),
		"type":     append([]byte{Version, 200}, good[2:]...),
		"flags":    append([]byte{Version, byte(raft.MsgHeartbeat), 0x80}, good[3:]...),
		"trailing": append(append([]byte{}, good...), 0),
		"count":    {Version, byte(raft.MsgApp), 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range cases {
		if _, err := DecodeMessage(b); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: err = %v, want ErrCorrupt or ErrTruncated", name, err)
		}
	}
}

func TestHardStateAndEntryRoundTrip(t *testing.T) {
	h := raft.HardState{Term: 1 << 50, Vote: 3, Commit: 12345}
	if got, err := DecodeHardState(AppendHardState(nil, h)); err != nil || got != h {
		t.Fatalf("hard state round trip: %+v, %v", got, err)
	}
	e := raft.Entry{Term: 2, Index: 3, ClientID: 4, RequestID: 5, Data: []byte("x")}
	b := AppendEntry(nil, &e)
	if EntrySize(&e) != len(b) {
		t.Fatalf("EntrySize=%d, encoded %d", EntrySize(&e), len(b))
	}
	if got, err := DecodeEntry(b); err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("entry round trip: %+v, %v", got, err)
	}
}

// FuzzDecodeMessage checks that no input crashes the decoder and that every
// input it accepts re-encodes to the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(AppendMessage(nil, &m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		again := AppendMessage(nil, &m)
		m2, err := DecodeMessage(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("accepted input does not round-trip: %v", err)
		}
	})
}
