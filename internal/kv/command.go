package kv

import (
	"errors"
	"fmt"
)

// Op names what a write command does to its key.
type Op uint8

const (
	// OpPut sets a key's value, creating the key if it is absent.
	OpPut Op = iota + 1
	// OpDelete removes a key.
	OpDelete
	opEnd // sentinel for validation; keep last
)

// String names the op for traces and error messages.
func (o Op) String() string {
	switch o {
	case OpPut:
		return "Put"
	case OpDelete:
		return "Delete"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Valid reports whether o is an operation this version of the codec knows.
func (o Op) Valid() bool { return o > 0 && o < opEnd }

// Limits on what one command may carry. They are part of the replicated
// protocol (every replica's decoder must agree on them), so they are constants
// rather than configuration; the HTTP layer may enforce smaller ones.
const (
	// MaxKeySize bounds a key so that range results and snapshots stay
	// proportional to the number of keys, not to a single pathological key.
	MaxKeySize = 4 << 10
	// MaxValueSize bounds a value so that one command fits comfortably in one
	// Raft message and one WAL record.
	MaxValueSize = 1 << 20
)

// Command is one write request, as replicated in raft.Entry.Data.
//
// A command is built with NewPut, NewDelete, NewCASPut or NewCASDelete, which
// validate it, then stamped with the leader's clock (Timestamp) just before it
// is encoded and proposed. The state machine never reads a clock: Timestamp is
// its only notion of time, which keeps every replica's state a function of
// the log alone.
type Command struct {
	Op  Op
	Key string
	// Value is the new value of a Put; always empty for a Delete.
	Value string
	// Conditional makes the command a compare-and-swap: it takes effect only
	// if the key's current Version equals IfVersion, where 0 means "the key
	// must not exist". A mismatch is a normal outcome (StatusConflict).
	Conditional bool
	IfVersion   uint64
	// Timestamp is the proposing leader's wall clock in Unix nanoseconds. It
	// drives session expiry; see Config.SessionTTL.
	Timestamp int64
}

// Errors that describe a malformed command. Each wraps ErrInvalidCommand, so
// callers can test for the class with errors.Is(err, ErrInvalidCommand) and
// for the cause with the specific sentinel. All are definite: a command that
// fails validation never changes the state.
var (
	// ErrInvalidCommand is the class of every command validation or decoding
	// failure.
	ErrInvalidCommand = errors.New("kv: invalid command")
	// ErrEmptyKey: the empty key is reserved as "unbounded" in ranges, so no
	// key may be empty.
	ErrEmptyKey = fmt.Errorf("%w: empty key", ErrInvalidCommand)
	// ErrKeyTooLarge: the key is longer than MaxKeySize.
	ErrKeyTooLarge = fmt.Errorf("%w: key too large", ErrInvalidCommand)
	// ErrValueTooLarge: the value is longer than MaxValueSize.
	ErrValueTooLarge = fmt.Errorf("%w: value too large", ErrInvalidCommand)
	// ErrUnknownVersion: the encoding's version byte is not one this build
	// can read (a newer replica proposed it, or the bytes are not a command).
	ErrUnknownVersion = fmt.Errorf("%w: unknown codec version", ErrInvalidCommand)
	// ErrUnknownOp: the operation code is not one this build knows.
	ErrUnknownOp = fmt.Errorf("%w: unknown op", ErrInvalidCommand)
	// ErrTruncated: the input ended inside a field.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrInvalidCommand)
	// ErrMalformed: the input is framed correctly but not in the one
	// canonical form the encoder produces (unknown flag bits, a value on a
	// Delete, a non-minimal varint, trailing bytes).
	ErrMalformed = fmt.Errorf("%w: malformed", ErrInvalidCommand)
)

// NewPut returns an unconditional Put of value under key.
func NewPut(key, value string) (Command, error) {
	c := Command{Op: OpPut, Key: key, Value: value}
	return c, c.Validate()
}

// NewDelete returns an unconditional Delete of key.
func NewDelete(key string) (Command, error) {
	c := Command{Op: OpDelete, Key: key}
	return c, c.Validate()
}

// NewCASPut returns a Put that applies only if key's current version is
// ifVersion (0: only if key does not exist, i.e. create-only).
func NewCASPut(key, value string, ifVersion uint64) (Command, error) {
	c := Command{Op: OpPut, Key: key, Value: value, Conditional: true, IfVersion: ifVersion}
	return c, c.Validate()
}

// NewCASDelete returns a Delete that applies only if key's current version is
// ifVersion.
func NewCASDelete(key string, ifVersion uint64) (Command, error) {
	c := Command{Op: OpDelete, Key: key, Conditional: true, IfVersion: ifVersion}
	return c, c.Validate()
}

// Validate reports why c cannot be replicated, or nil. It is the same check
// the decoder applies, so a command that validates always round-trips.
func (c Command) Validate() error {
	if !c.Op.Valid() {
		return fmt.Errorf("%w %d", ErrUnknownOp, uint8(c.Op))
	}
	if len(c.Key) == 0 {
		return ErrEmptyKey
	}
	if len(c.Key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrKeyTooLarge, len(c.Key), MaxKeySize)
	}
	if len(c.Value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(c.Value), MaxValueSize)
	}
	if !c.Conditional && c.IfVersion != 0 {
		return fmt.Errorf("%w: IfVersion %d on an unconditional command", ErrMalformed, c.IfVersion)
	}
	if c.Op == OpDelete && len(c.Value) != 0 {
		return fmt.Errorf("%w: Delete carries a value", ErrMalformed)
	}
	return nil
}

// String describes c in one line for traces; values are shown by length only.
func (c Command) String() string {
	s := fmt.Sprintf("%v %q", c.Op, c.Key)
	if c.Op == OpPut {
		s += fmt.Sprintf(" (%d bytes)", len(c.Value))
	}
	if c.Conditional {
		s += fmt.Sprintf(" if version=%d", c.IfVersion)
	}
	return s + fmt.Sprintf(" @%d", c.Timestamp)
}
