package udpjson

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/raftkv/raftkv/internal/raft"
)

// The encoders append to a caller's buffer and allocate nothing, so that the
// replica can reuse one buffer for every datagram it sends. Output is always
// printable ASCII: the spec requires ASCII, and escaping DEL and control
// characters as well keeps datagrams clean in logs; anything else is
// \u-escaped. Zero-valued optional fields are left out; the decoder reads an
// absent field as zero, so leaving it out loses nothing.

// AppendHello appends the hello datagram that must be a replica's first
// message: until the simulator has seen it, it delivers nothing to us.
func AppendHello(b []byte, self ID) []byte {
	b = appendHeader(b, self, Broadcast, Broadcast)
	return append(b, `"hello"}`...)
}

// AppendDatagram appends d's encoding to b. For TypeRaft it is AppendRaft,
// and d.Src and d.Dst must agree with d.Raft.From and d.Raft.To. On error b
// is returned unchanged.
func AppendDatagram(b []byte, d *Datagram) ([]byte, error) {
	switch d.Type {
	case TypeRaft:
		if RaftID(d.Src) != d.Raft.From || RaftID(d.Dst) != d.Raft.To {
			return b, fmt.Errorf("udpjson: encode: src %s/dst %s disagree with raft from %d/to %d: %w",
				d.Src, d.Dst, d.Raft.From, d.Raft.To, ErrInvalid)
		}
		return AppendRaft(b, &d.Raft, d.Leader)
	case TypeHello:
		b = appendHeader(b, d.Src, d.Dst, d.Leader)
		return append(b, `"hello"}`...), nil
	case TypeGet, TypePut, TypeOK, TypeFail, TypeRedirect:
		b = appendHeader(b, d.Src, d.Dst, d.Leader)
		b = append(b, '"')
		b = append(b, typeNames[d.Type]...)
		b = append(b, `","MID":`...)
		b = appendString(b, d.MID)
		if d.Type.IsRequest() {
			b = append(b, `,"key":`...)
			b = appendString(b, d.Key)
		}
		if d.Type == TypePut || d.HasValue {
			b = append(b, `,"value":`...)
			b = appendString(b, d.Value)
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("udpjson: encode: datagram type %v: %w", d.Type, ErrInvalid)
}

// AppendRaft appends the datagram carrying m, with leader as the sender's
// belief. src and dst are the classroom IDs of m.From and m.To, which must
// both name nodes. It does not check the size: Conn.Send does, and splits
// appends that are too large (SplitApp). On error b is returned unchanged.
func AppendRaft(b []byte, m *raft.Message, leader ID) ([]byte, error) {
	name := RaftTypeName(m.Type)
	if name == "" {
		return b, fmt.Errorf("udpjson: encode: raft message type %v: %w", m.Type, ErrInvalid)
	}
	src, ok := nodeID(m.From)
	if !ok {
		return b, fmt.Errorf("udpjson: encode %s: from %d: %w", name, m.From, ErrInvalid)
	}
	dst, ok := nodeID(m.To)
	if !ok {
		return b, fmt.Errorf("udpjson: encode %s: to %d: %w", name, m.To, ErrInvalid)
	}
	start := len(b)
	b = appendHeader(b, src, dst, leader)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `","term":`...)
	b = strconv.AppendUint(b, m.Term, 10)
	b = appendUintField(b, `,"lt":`, m.LogTerm)
	b = appendUintField(b, `,"i":`, m.Index)
	b = appendUintField(b, `,"c":`, m.Commit)
	if m.Reject {
		b = append(b, `,"rj":true`...)
	}
	b = appendUintField(b, `,"h":`, m.RejectHint)
	b = appendUintField(b, `,"sq":`, m.Seq)
	if m.Force {
		b = append(b, `,"f":true`...)
	}
	if m.Quiet {
		b = append(b, `,"q":true`...)
	}
	if m.Urgent {
		b = append(b, `,"u":true`...)
	}
	var err error
	if len(m.Chain) > 0 {
		b = append(b, `,"ch":`...)
		if b, err = appendNodeList(b, m.Chain); err != nil {
			return b[:start], fmt.Errorf("udpjson: encode %s: chain: %w", name, err)
		}
	}
	if m.Lead != raft.None {
		lead, ok := nodeID(m.Lead)
		if !ok {
			return b[:start], fmt.Errorf("udpjson: encode %s: lead %d: %w", name, m.Lead, ErrInvalid)
		}
		b = append(b, `,"ld":"`...)
		b = appendID(b, lead)
		b = append(b, '"')
	}
	if len(m.Entries) > 0 {
		b = append(b, `,"e":[`...)
		for i := range m.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendEntry(b, &m.Entries[i]); err != nil {
				return b[:start], fmt.Errorf("udpjson: encode %s: entry %d: %w", name, i, err)
			}
		}
		b = append(b, ']')
	}
	if s := m.Snapshot; s != nil {
		b = append(b, `,"s":{"i":`...)
		b = strconv.AppendUint(b, s.Meta.Index, 10)
		b = append(b, `,"t":`...)
		b = strconv.AppendUint(b, s.Meta.Term, 10)
		if len(s.Meta.Members) > 0 {
			b = append(b, `,"m":`...)
			if b, err = appendNodeList(b, s.Meta.Members); err != nil {
				return b[:start], fmt.Errorf("udpjson: encode %s: snapshot members: %w", name, err)
			}
		}
		if len(s.Data) > 0 {
			b = append(b, `,"d":"`...)
			b = base64.StdEncoding.AppendEncode(b, s.Data)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendEntry appends one entry object. Term and index are always written
// (every real entry has both); the rest only when not zero.
func appendEntry(b []byte, e *raft.Entry) ([]byte, error) {
	if e.Type > maxEntryType {
		return b, fmt.Errorf("entry type %d: %w", e.Type, ErrInvalid)
	}
	b = append(b, `{"t":`...)
	b = strconv.AppendUint(b, e.Term, 10)
	b = append(b, `,"i":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = appendUintField(b, `,"y":`, uint64(e.Type))
	if e.ClientID != 0 {
		cl, ok := nodeID(e.ClientID)
		if !ok {
			return b, fmt.Errorf("client ID %d: %w", e.ClientID, ErrInvalid)
		}
		b = append(b, `,"cl":"`...)
		b = appendID(b, cl)
		b = append(b, '"')
	}
	b = appendUintField(b, `,"r":`, e.RequestID)
	if len(e.Data) > 0 {
		b = append(b, `,"d":`...)
		b = appendByteString(b, e.Data)
	}
	return append(b, '}'), nil
}

// maxEntryType is the largest raft.EntryType the codec carries. Unknown
// types are refused both ways rather than passed to a core that cannot read
// them; raise it when raft gains a type.
const maxEntryType = raft.EntryNoop

func appendHeader(b []byte, src, dst, leader ID) []byte {
	b = append(b, `{"src":"`...)
	b = appendID(b, src)
	b = append(b, `","dst":"`...)
	b = appendID(b, dst)
	b = append(b, `","leader":"`...)
	b = appendID(b, leader)
	return append(b, `","type":`...)
}

func appendUintField(b []byte, name string, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, name...)
	return strconv.AppendUint(b, v, 10)
}

// appendNodeList appends a JSON array of the classroom IDs of raft node IDs.
func appendNodeList(b []byte, ids []uint64) ([]byte, error) {
	b = append(b, '[')
	for i, v := range ids {
		id, ok := nodeID(v)
		if !ok {
			return b, fmt.Errorf("node %d: %w", v, ErrInvalid)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = appendID(b, id)
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string in pure ASCII. Valid UTF-8 runes
// beyond ASCII become \u escapes (surrogate pairs above U+FFFF); invalid
// bytes become \ufffd, as encoding/json does, so any decoded string
// re-encodes to an equal one.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7F && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c < 0x80 {
			b = appendEscapedByte(b, c)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			// An invalid byte decodes as RuneError of size 1: \ufffd.
			if r >= 0x10000 {
				r1, r2 := surrogates(r)
				b = appendU(appendU(b, r1), r2)
			} else {
				b = appendU(b, r)
			}
			i += size
		}
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendByteString appends arbitrary bytes as a JSON string whose every
// character stands for one byte (its code, 0-255). Printable ASCII, which
// is all the classroom command payload normally holds, is written as is;
// other bytes become \u00XX. Readable in traces, lossless for binary.
func appendByteString(b []byte, data []byte) []byte {
	b = append(b, '"')
	start := 0
	for i, c := range data {
		if c >= 0x20 && c < 0x7F && c != '"' && c != '\\' {
			continue
		}
		b = append(b, data[start:i]...)
		if c < 0x80 {
			b = appendEscapedByte(b, c)
		} else {
			b = appendU(b, rune(c))
		}
		start = i + 1
	}
	b = append(b, data[start:]...)
	return append(b, '"')
}

func appendEscapedByte(b []byte, c byte) []byte {
	switch c {
	case '"':
		return append(b, '\\', '"')
	case '\\':
		return append(b, '\\', '\\')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return appendU(b, rune(c))
}

// appendU appends \uXXXX for a rune in the basic multilingual plane.
func appendU(b []byte, r rune) []byte {
	const lower = "0123456789abcdef"
	return append(b, '\\', 'u', lower[r>>12&0xF], lower[r>>8&0xF], lower[r>>4&0xF], lower[r&0xF])
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}
