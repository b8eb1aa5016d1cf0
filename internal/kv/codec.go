package kv

import (
	"encoding/binary"
	"fmt"
)

// CommandVersion is the first byte of every encoded Command. Bump it on any
// change to the layout; DecodeCommand rejects versions it does not know, so a
// replica running an older build fails a newer command definitely instead of
// misreading it.
const CommandVersion byte = 1

// Flag bits of the encoding's third byte.
const (
	flagConditional = 1 << 0
	flagsKnown      = flagConditional
)

// commandHeaderSize is version, op, flags and the fixed 8-byte timestamp.
const commandHeaderSize = 3 + 8

// AppendCommand appends the encoding of c to b and returns the extended
// slice. The layout (version 1) is:
//
//	version  byte     CommandVersion
//	op       byte     OpPut or OpDelete
//	flags    byte     bit 0: conditional
//	ts       8 bytes  Timestamp, big-endian two's complement
//	keyLen   uvarint, then key bytes
//	ifVer    uvarint  only when conditional
//	valueLen uvarint, then value bytes; only for OpPut
//
// The timestamp is fixed-width because Unix nanoseconds need 61 bits: as a
// zig-zag varint they take 9 bytes, as a fixed int64 only 8.
//
// AppendCommand does not validate c; EncodeCommand does.
func AppendCommand(b []byte, c *Command) []byte {
	var flags byte
	if c.Conditional {
		flags |= flagConditional
	}
	b = append(b, CommandVersion, byte(c.Op), flags)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Timestamp))
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	if c.Conditional {
		b = binary.AppendUvarint(b, c.IfVersion)
	}
	if c.Op == OpPut {
		b = binary.AppendUvarint(b, uint64(len(c.Value)))
		b = append(b, c.Value...)
	}
	return b
}

// EncodeCommand validates c and returns its encoding, ready for
// raft.Entry.Data.
func EncodeCommand(c Command) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return AppendCommand(make([]byte, 0, CommandSize(&c)), &c), nil
}

// CommandSize returns the length of c's encoding without encoding it.
func CommandSize(c *Command) int {
	n := commandHeaderSize + uvarintLen(uint64(len(c.Key))) + len(c.Key)
	if c.Conditional {
		n += uvarintLen(c.IfVersion)
	}
	if c.Op == OpPut {
		n += uvarintLen(uint64(len(c.Value))) + len(c.Value)
	}
	return n
}

// DecodeCommand decodes exactly one command from b. It accepts only the
// canonical encoding that AppendCommand produces (minimal varints, no unknown
// flags, no trailing bytes), so every accepted input re-encodes to the same
// bytes. The returned strings are copies: b may be reused afterwards.
func DecodeCommand(b []byte) (Command, error) {
	c, err := decodeCommand(b)
	if err != nil {
		return Command{}, fmt.Errorf("decode command: %w", err)
	}
	return c, nil
}

func decodeCommand(b []byte) (Command, error) {
	var c Command
	if len(b) < 1 {
		return c, fmt.Errorf("%w: empty input", ErrTruncated)
	}
	if b[0] != CommandVersion {
		return c, fmt.Errorf("%w %d, want %d", ErrUnknownVersion, b[0], CommandVersion)
	}
	if len(b) < commandHeaderSize {
		return c, fmt.Errorf("%w: header needs %d bytes, have %d", ErrTruncated, commandHeaderSize, len(b))
	}
	c.Op = Op(b[1])
	if !c.Op.Valid() {
		return c, fmt.Errorf("%w %d", ErrUnknownOp, b[1])
	}
	flags := b[2]
	if flags&^flagsKnown != 0 {
		return c, fmt.Errorf("%w: unknown flag bits %#x", ErrMalformed, flags&^flagsKnown)
	}
	c.Conditional = flags&flagConditional != 0
	c.Timestamp = int64(binary.BigEndian.Uint64(b[3:11]))
	d := decoder{buf: b[commandHeaderSize:]}

	key, err := d.bytes("key", MaxKeySize, ErrKeyTooLarge)
	if err != nil {
		return c, err
	}
	if len(key) == 0 {
		return c, ErrEmptyKey
	}
	c.Key = string(key)
	if c.Conditional {
		if c.IfVersion, err = d.uvarint("if-version"); err != nil {
			return c, err
		}
	}
	if c.Op == OpPut {
		val, err := d.bytes("value", MaxValueSize, ErrValueTooLarge)
		if err != nil {
			return c, err
		}
		c.Value = string(val)
	}
	if len(d.buf) != 0 {
		return c, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.buf))
	}
	return c, nil
}

// decoder reads canonical varints and length-prefixed byte strings from a
// slice, never trusting a length it has not checked against the bytes left.
type decoder struct {
	buf []byte
}

func (d *decoder) uvarint(field string) (uint64, error) {
	v, n := binary.Uvarint(d.buf)
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: in %s", ErrTruncated, field)
	case n < 0:
		return 0, fmt.Errorf("%w: %s varint overflows 64 bits", ErrMalformed, field)
	case n != uvarintLen(v):
		// A non-minimal varint would decode to the same command as its
		// minimal form; rejecting it keeps one command, one encoding.
		return 0, fmt.Errorf("%w: %s varint is not minimal", ErrMalformed, field)
	}
	d.buf = d.buf[n:]
	return v, nil
}

// bytes reads a length-prefixed string of at most limit bytes. The result
// aliases the input.
func (d *decoder) bytes(field string, limit int, tooLarge error) ([]byte, error) {
	n, err := d.uvarint(field + " length")
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: %s length %d, limit %d", tooLarge, field, n, limit)
	}
	if n > uint64(len(d.buf)) {
		return nil, fmt.Errorf("%w: %s needs %d bytes, have %d", ErrTruncated, field, n, len(d.buf))
	}
	v := d.buf[:n:n]
	d.buf = d.buf[n:]
	return v, nil
}

// uvarintLen is the length of v's minimal uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
