// Package wire is the compact binary encoding of the Raft core's types, shared
// by the write-ahead log and the peer transport so that both agree on one
// format and one decoder is fuzzed.
//
// Every integer is an unsigned varint; byte strings are length-prefixed.
// Decoders never trust a length: each is checked against the bytes left, and
// decoded slices alias the input buffer (callers hand over a buffer they will
// not reuse).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
)

// Version is the first byte of every encoded Message. Bump it on any change
// to the layout; decoders reject versions they do not know.
const Version byte = 1

// ErrTruncated means the input ended inside a value.
var ErrTruncated = errors.New("wire: truncated input")

// ErrCorrupt means the input is well-framed but describes an impossible value.
var ErrCorrupt = errors.New("wire: corrupt input")

const (
	flagReject   = 1 << 0
	flagForce    = 1 << 1
	flagSnapshot = 1 << 2
	flagQuiet    = 1 << 3
	flagUrgent   = 1 << 4
)

// AppendEntry appends e's encoding to b.
func AppendEntry(b []byte, e *raft.Entry) []byte {
	b = binary.AppendUvarint(b, e.Term)
	b = binary.AppendUvarint(b, e.Index)
	b = append(b, byte(e.Type))
	b = binary.AppendUvarint(b, e.ClientID)
	b = binary.AppendUvarint(b, e.RequestID)
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	return append(b, e.Data...)
}

// AppendHardState appends h's encoding to b.
func AppendHardState(b []byte, h raft.HardState) []byte {
	b = binary.AppendUvarint(b, h.Term)
	b = binary.AppendUvarint(b, h.Vote)
	return binary.AppendUvarint(b, h.Commit)
}

// AppendSnapshotMeta appends m's encoding to b.
func AppendSnapshotMeta(b []byte, m *raft.SnapshotMeta) []byte {
	b = binary.AppendUvarint(b, m.Index)
	b = binary.AppendUvarint(b, m.Term)
	b = binary.AppendUvarint(b, uint64(len(m.Members)))
	for _, id := range m.Members {
		b = binary.AppendUvarint(b, id)
	}
	return b
}

// AppendMessage appends m's encoding, led by Version, to b.
func AppendMessage(b []byte, m *raft.Message) []byte {
	b = append(b, Version, byte(m.Type))
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.Force {
		flags |= flagForce
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	if m.Quiet {
		flags |= flagQuiet
	}
	if m.Urgent {
		flags |= flagUrgent
	}
	b = append(b, flags)
	for _, v := range [...]uint64{m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.Seq, m.Lead} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Chain)))
	for _, id := range m.Chain {
		b = binary.AppendUvarint(b, id)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		b = AppendEntry(b, &m.Entries[i])
	}
	if m.Snapshot != nil {
		b = AppendSnapshotMeta(b, &m.Snapshot.Meta)
		b = binary.AppendUvarint(b, uint64(len(m.Snapshot.Data)))
		b = append(b, m.Snapshot.Data...)
	}
	return b
}

// MessageSize returns the encoded size of m without encoding it.
func MessageSize(m *raft.Message) int {
	n := 3
	for _, v := range [...]uint64{m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.Seq, m.Lead} {
		n += uvarintLen(v)
	}
	n += uvarintLen(uint64(len(m.Chain)))
	for _, id := range m.Chain {
		n += uvarintLen(id)
	}
	n += uvarintLen(uint64(len(m.Entries)))
	for i := range m.Entries {
		n += EntrySize(&m.Entries[i])
	}
	if s := m.Snapshot; s != nil {
		n += uvarintLen(s.Meta.Index) + uvarintLen(s.Meta.Term) + uvarintLen(uint64(len(s.Meta.Members)))
		for _, id := range s.Meta.Members {
			n += uvarintLen(id)
		}
		n += uvarintLen(uint64(len(s.Data))) + len(s.Data)
	}
	return n
}

// EntrySize returns the encoded size of e.
func EntrySize(e *raft.Entry) int {
	return uvarintLen(e.Term) + uvarintLen(e.Index) + 1 + uvarintLen(e.ClientID) +
		uvarintLen(e.RequestID) + uvarintLen(uint64(len(e.Data))) + len(e.Data)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Decoder reads values from a byte slice, remembering the first error.
// Once an error occurs every later read returns zero values.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder returns a Decoder over b. Decoded byte slices alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining returns the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.buf) }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.buf = nil
}

// Uvarint reads one unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		if n == 0 {
			d.fail(ErrTruncated)
		} else {
			d.fail(fmt.Errorf("%w: varint overflows 64 bits", ErrCorrupt))
		}
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail(ErrTruncated)
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

// Bytes reads a length-prefixed byte string; nil when empty.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail(ErrTruncated)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// count reads a collection length and rejects one that cannot fit in the
// bytes left, given each element takes at least minSize bytes.
func (d *Decoder) count(minSize int) int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)/minSize) {
		d.fail(fmt.Errorf("%w: count %d exceeds input", ErrCorrupt, n))
		return 0
	}
	return int(n)
}

// Entry reads one entry.
func (d *Decoder) Entry() raft.Entry {
	var e raft.Entry
	e.Term = d.Uvarint()
	e.Index = d.Uvarint()
	e.Type = raft.EntryType(d.Byte())
	e.ClientID = d.Uvarint()
	e.RequestID = d.Uvarint()
	e.Data = d.Bytes()
	if d.err == nil && e.Type > raft.EntryNoop {
		d.fail(fmt.Errorf("%w: unknown entry type %d", ErrCorrupt, e.Type))
	}
	return e
}

// HardState reads one hard state.
func (d *Decoder) HardState() raft.HardState {
	return raft.HardState{Term: d.Uvarint(), Vote: d.Uvarint(), Commit: d.Uvarint()}
}

// SnapshotMeta reads one snapshot description.
func (d *Decoder) SnapshotMeta() raft.SnapshotMeta {
	var m raft.SnapshotMeta
	m.Index = d.Uvarint()
	m.Term = d.Uvarint()
	if n := d.count(1); n > 0 {
		m.Members = make([]uint64, n)
		for i := range m.Members {
			m.Members[i] = d.Uvarint()
		}
	}
	return m
}

// DecodeEntry decodes exactly one entry from b.
func DecodeEntry(b []byte) (raft.Entry, error) {
	d := NewDecoder(b)
	e := d.Entry()
	return e, d.finish("entry")
}

// DecodeHardState decodes exactly one hard state from b.
func DecodeHardState(b []byte) (raft.HardState, error) {
	d := NewDecoder(b)
	h := d.HardState()
	return h, d.finish("hard state")
}

// DecodeMessage decodes exactly one message from b, as written by
// AppendMessage. It rejects unknown versions and message types.
func DecodeMessage(b []byte) (raft.Message, error) {
	var m raft.Message
	d := NewDecoder(b)
	if v := d.Byte(); d.err == nil && v != Version {
		return m, fmt.Errorf("%w: message version %d, want %d", ErrCorrupt, v, Version)
	}
	m.Type = raft.MessageType(d.Byte())
	if d.err == nil && !m.Type.Valid() {
		return m, fmt.Errorf("%w: unknown message type %d", ErrCorrupt, m.Type)
	}
	flags := d.Byte()
	if d.err == nil && flags&^(flagReject|flagForce|flagSnapshot|flagQuiet|flagUrgent) != 0 {
		return m, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	m.Reject = flags&flagReject != 0
	m.Force = flags&flagForce != 0
	m.Quiet = flags&flagQuiet != 0
	m.Urgent = flags&flagUrgent != 0
	for _, p := range [...]*uint64{&m.From, &m.To, &m.Term, &m.LogTerm, &m.Index, &m.Commit, &m.RejectHint, &m.Seq, &m.Lead} {
		*p = d.Uvarint()
	}
	if n := d.count(1); n > 0 {
		m.Chain = make([]uint64, n)
		for i := range m.Chain {
			m.Chain[i] = d.Uvarint()
		}
	}
	if n := d.count(6); n > 0 {
		m.Entries = make([]raft.Entry, n)
		for i := range m.Entries {
			m.Entries[i] = d.Entry()
		}
	}
	if flags&flagSnapshot != 0 {
		m.Snapshot = &raft.Snapshot{Meta: d.SnapshotMeta(), Data: d.Bytes()}
	}
	return m, d.finish("message")
}

func (d *Decoder) finish(what string) error {
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("decode %s: %w: %d trailing bytes", what, ErrCorrupt, len(d.buf))
	}
	return nil
}
