package udpjson

import (
	"errors"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestIDBounds(t *testing.T) {
	for _, tc := range []struct {
		s    string
		id   ID
		raft uint64
	}{
		{"0000", 0, 1},
		{"0001", 1, 2},
		{"0015", 0x15, 0x16},
		{"0AA1", 0xAA1, 0xAA2},
		{"0aa1", 0xAA1, 0xAA2},
		{"FFFE", 0xFFFE, 0xFFFF},
		{"FFFF", Broadcast, raft.None},
		{"ffff", Broadcast, raft.None},
	} {
		id, err := ParseID(tc.s)
		if err != nil || id != tc.id {
			t.Errorf("ParseID(%q) = %v, %v; want %v", tc.s, id, err, tc.id)
		}
		if got := RaftID(id); got != tc.raft {
			t.Errorf("RaftID(%v) = %d, want %d", id, got, tc.raft)
		}
		back, err := ClassroomID(tc.raft)
		if err != nil || back != tc.id {
			t.Errorf("ClassroomID(%d) = %v, %v; want %v", tc.raft, back, err, tc.id)
		}
	}
	for _, bad := range []string{"", "0", "000", "00000", "000G", "00 0", " 000", "+000", "-000", "0x00", "\x00000", "０000"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q): %v, want ErrBadID", bad, err)
		}
	}
	for _, bad := range []uint64{0x10000, 0x10001, 1 << 63, 1<<64 - 1} {
		if _, err := ClassroomID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ClassroomID(%d): %v, want ErrBadID", bad, err)
		}
	}
}

// Every ID formats as four upper-case hex digits and maps both ways.
func TestIDAllValues(t *testing.T) {
	for v := 0; v <= 0xFFFF; v++ {
		id := ID(v)
		s := FormatID(id)
		if len(s) != 4 || s != id.String() {
			t.Fatalf("FormatID(%d) = %q", v, s)
		}
		for _, c := range s {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
				t.Fatalf("FormatID(%d) = %q: not upper-case hex", v, s)
			}
		}
		if back, err := ParseID(s); err != nil || back != id {
			t.Fatalf("ParseID(FormatID(%d)) = %v, %v", v, back, err)
		}
		if back, err := ClassroomID(RaftID(id)); err != nil || back != id {
			t.Fatalf("ClassroomID(RaftID(%d)) = %v, %v", v, back, err)
		}
		if id != Broadcast {
			if r, ok := nodeRaftID(id); !ok || r != RaftID(id) || r == raft.None {
				t.Fatalf("nodeRaftID(%d) = %d, %v", v, r, ok)
			}
		} else if _, ok := nodeRaftID(id); ok {
			t.Fatal("FFFF is a node")
		}
	}
}
