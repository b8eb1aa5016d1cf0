package udpjson

import (
	"errors"
	"strconv"

	"github.com/raftkv/raftkv/internal/raft"
)

// Size limits. The spec allows datagrams of up to 65,535 bytes; IPv4 UDP
// carries at most 65,507, so the encoder aims lower, with room to spare.
const (
	// MaxDatagramSize is the largest datagram the decoder accepts, the
	// spec's limit: anything larger is junk whatever it says.
	MaxDatagramSize = 65535
	// DefaultMaxSize is the largest datagram the encoder produces unless
	// configured otherwise: below IPv4's 65,507-byte UDP payload limit, so a
	// datagram we send is never refused by the kernel.
	DefaultMaxSize = 60000
)

// Errors returned by the codec and the transport. Each is wrapped with
// context (the field, the offset, the ID); test with errors.Is.
var (
	// ErrMalformed: the datagram is not one ASCII JSON object.
	ErrMalformed = errors.New("udpjson: malformed datagram")
	// ErrMissingField: a field the message's type requires is absent.
	ErrMissingField = errors.New("udpjson: missing field")
	// ErrFieldType: a known field holds the wrong kind of JSON value.
	ErrFieldType = errors.New("udpjson: wrong field type")
	// ErrBadValue: a field has the right type but an impossible value (a
	// number out of range, an unknown entry type, bad base64).
	ErrBadValue = errors.New("udpjson: bad field value")
	// ErrDuplicateField: a known field appears twice. encoding/json would
	// keep the last one; we refuse rather than guess which one the sender meant.
	ErrDuplicateField = errors.New("udpjson: duplicate field")
	// ErrBadID: an ID is not four hex digits, or names nobody where a node
	// is required.
	ErrBadID = errors.New("udpjson: bad ID")
	// ErrUnknownType: the "type" field names no message we know.
	ErrUnknownType = errors.New("udpjson: unknown message type")
	// ErrTooLarge: a datagram exceeds the size limit (decoding), or a
	// message cannot be encoded within it (encoding).
	ErrTooLarge = errors.New("udpjson: datagram too large")
	// ErrInvalid: a value handed to an encoder cannot be represented (an
	// invalid raft.MessageType, an ID beyond the classroom range, ...).
	ErrInvalid = errors.New("udpjson: cannot encode")
)

// Type is a datagram's "type": the classroom's own messages, and one value
// for all of ours (raft.Message.Type then says which Raft message it is).
type Type uint8

const (
	// TypeInvalid is the zero Type; no datagram has it.
	TypeInvalid Type = iota
	// TypeHello is the replica's first message, which tells the simulator
	// where to deliver: {"src","dst":"FFFF","leader":"FFFF","type":"hello"}.
	TypeHello
	// TypeGet is a client read: MID and key.
	TypeGet
	// TypePut is a client write: MID, key and value.
	TypePut
	// TypeOK answers a get (with "value") or a put.
	TypeOK
	// TypeFail tells the client to retry; it counts against the store.
	TypeFail
	// TypeRedirect tells the client to go to the leader the reply names.
	TypeRedirect
	// TypeRaft is replica-to-replica traffic: Datagram.Raft is the message.
	TypeRaft
	typeEnd
)

var typeNames = [...]string{
	TypeInvalid: "invalid", TypeHello: "hello", TypeGet: "get", TypePut: "put",
	TypeOK: "ok", TypeFail: "fail", TypeRedirect: "redirect", TypeRaft: "raft",
}

// String names t for logs; for TypeRaft the wire name depends on the
// Raft message type (see RaftTypeName).
func (t Type) String() string {
	if t < typeEnd {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// IsRequest reports whether t is a client request (get or put).
func (t Type) IsRequest() bool { return t == TypeGet || t == TypePut }

// IsReply reports whether t is an answer to a client (ok, fail, redirect).
func (t Type) IsReply() bool { return t == TypeOK || t == TypeFail || t == TypeRedirect }

// raftTypeNames are the short wire names of the Raft messages: short to keep
// datagrams small and fast to match, and readable in simulator traces.
var raftTypeNames = [...]string{
	raft.MsgApp:           "ae",
	raft.MsgAppResp:       "aer",
	raft.MsgHeartbeat:     "hb",
	raft.MsgHeartbeatResp: "hbr",
	raft.MsgVote:          "rv",
	raft.MsgVoteResp:      "rvr",
	raft.MsgPreVote:       "pv",
	raft.MsgPreVoteResp:   "pvr",
	raft.MsgSnap:          "snap",
	raft.MsgTimeoutNow:    "tn",
}

// RaftTypeName returns the wire name of a Raft message type, or "" for an
// invalid one.
func RaftTypeName(t raft.MessageType) string {
	if !t.Valid() || int(t) >= len(raftTypeNames) {
		return ""
	}
	return raftTypeNames[t]
}

// Datagram is one decoded classroom datagram: a tagged union on Type.
// Which fields are meaningful depends on Type:
//
//   - every type: Src, Dst, Leader;
//   - TypeGet: MID, Key; TypePut: MID, Key, Value;
//   - TypeOK, TypeFail, TypeRedirect: MID, and Value when HasValue;
//   - TypeRaft: Raft, whose From and To are RaftID(Src) and RaftID(Dst).
//
// A decoded Datagram owns all its memory: nothing aliases the buffer it
// was decoded from, so it may be kept (entries go into the Raft log).
type Datagram struct {
	Type Type
	Src  ID
	Dst  ID
	// Leader is the sender's belief about the leader; Broadcast if unknown.
	// The simulator learns the leader from it, so replies must carry it.
	Leader ID
	MID    string
	Key    string
	Value  string
	// HasValue says "value" is present. An ok to a get must carry a value,
	// even an empty one (a key never put), or the simulator counts an
	// incorrect answer; an ok to a put need not.
	HasValue bool
	Raft     raft.Message
}
