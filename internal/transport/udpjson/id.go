package udpjson

import (
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
)

// ID is a classroom node or client ID: the value of its four hex digits.
// Keeping the parsed value (not the string) lets the hot paths compare and
// map IDs without allocating, and makes every ID that reaches the rest of
// the replica valid by construction.
type ID uint16

// Broadcast is "FFFF": "everyone" as a destination and "unknown" as a
// leader. It is never a node, which is why it maps to raft.None.
const Broadcast ID = 0xFFFF

// hexDigits spells IDs in upper case, as the simulator names its nodes: it
// compares IDs as strings, so "000a" would name nobody.
const hexDigits = "0123456789ABCDEF"

// ParseID parses a classroom ID: exactly four hex digits. Lower-case digits
// are accepted (they are valid hex and the spec allows them); FormatID
// always writes upper case.
func ParseID(s string) (ID, error) {
	if len(s) != 4 {
		return 0, fmt.Errorf("udpjson: ID %q: %w", s, ErrBadID)
	}
	var v ID
	for i := 0; i < 4; i++ {
		d, ok := hexVal(s[i])
		if !ok {
			return 0, fmt.Errorf("udpjson: ID %q: %w", s, ErrBadID)
		}
		v = v<<4 | ID(d)
	}
	return v, nil
}

// parseIDBytes is ParseID for the decoder: no allocation, ok=false on error.
func parseIDBytes(b []byte) (ID, bool) {
	if len(b) != 4 {
		return 0, false
	}
	var v ID
	for _, c := range b {
		d, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | ID(d)
	}
	return v, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// FormatID spells id as the simulator does: four upper-case hex digits.
func FormatID(id ID) string { return string(appendID(make([]byte, 0, 4), id)) }

// String returns FormatID(id), so IDs print the way they travel.
func (id ID) String() string { return FormatID(id) }

// appendID appends id's four upper-case hex digits to b.
func appendID(b []byte, id ID) []byte {
	return append(b, hexDigits[id>>12], hexDigits[id>>8&0xF], hexDigits[id>>4&0xF], hexDigits[id&0xF])
}

// RaftID maps a classroom ID to a raft node ID: its value plus one, because
// raft reserves 0 (raft.None) for "nobody" and the classroom names its first
// replica "0000". Broadcast maps to raft.None, so "unknown leader" and "no
// leader" are the same thing on both sides. The same mapping gives
// raft.Entry.ClientID for client IDs.
func RaftID(id ID) uint64 {
	if id == Broadcast {
		return raft.None
	}
	return uint64(id) + 1
}

// ClassroomID is the inverse of RaftID: raft.None maps to Broadcast, 1 to
// "0000", and 0xFFFF to "FFFE". Larger IDs have no classroom spelling and
// are an error, so a misconfigured cluster fails loudly instead of sending
// datagrams to the wrong node.
func ClassroomID(raftID uint64) (ID, error) {
	if raftID == raft.None {
		return Broadcast, nil
	}
	if raftID > uint64(Broadcast) {
		return 0, fmt.Errorf("udpjson: raft ID %d has no classroom ID (max %d): %w", raftID, Broadcast, ErrBadID)
	}
	return ID(raftID - 1), nil
}

// nodeRaftID maps an ID that must name a node (not Broadcast) to raft.
func nodeRaftID(id ID) (uint64, bool) {
	if id == Broadcast {
		return raft.None, false
	}
	return uint64(id) + 1, true
}

// nodeID maps a raft ID that must name a node (not raft.None) to its
// classroom ID.
func nodeID(raftID uint64) (ID, bool) {
	if raftID == raft.None || raftID > uint64(Broadcast) {
		return 0, false
	}
	return ID(raftID - 1), true
}
