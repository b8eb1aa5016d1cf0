package coursesim

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Reasons a replica's datagram is an incorrect message. Each is counted
// against the store, as the original simulator did.
var (
	errBadJSON      = errors.New("not valid JSON")
	errNotObject    = errors.New("not a JSON object")
	errMissingField = errors.New("missing required field")
	errBadID        = errors.New("not a four-hex-digit ID")
)

// maxDepth matches encoding/json's nesting limit, so that the decoder below
// accepts exactly what encoding/json accepts (the fuzz test checks this).
const maxDepth = 10000

// broadcastID is FFFF: "everyone" as a destination, "unknown" as a leader.
const broadcastID = 0xFFFF

// field is one top-level member of a datagram that the simulator reads. It
// points into the datagram, so it is valid only until the buffer is reused.
type field struct {
	present bool
	isStr   bool
	// plain means the string has no escapes and only ASCII, so that its
	// contents between the quotes are its value.
	plain bool
	// raw is the value's JSON text: for a string, including the quotes.
	raw []byte
}

// text returns the string value of a string field, and "" otherwise.
func (f *field) text() string {
	if !f.isStr {
		return ""
	}
	if f.plain {
		return string(f.raw[1 : len(f.raw)-1])
	}
	var s string
	if err := json.Unmarshal(f.raw, &s); err != nil {
		panic(fmt.Sprintf("coursesim: scanner accepted a string encoding/json rejects: %q", f.raw))
	}
	return s
}

// equals reports whether f is a string field whose value is s, without
// allocating in the common case.
func (f *field) equals(s string) bool {
	if !f.isStr {
		return false
	}
	if f.plain {
		return string(f.raw[1:len(f.raw)-1]) == s
	}
	return f.text() == s
}

// nodeID is a parsed four-hex-digit ID.
type nodeID struct {
	v uint16
	// canonical means the ID is spelled as the simulator spells IDs (upper
	// case). The original compared IDs as strings, so "000a" names no node.
	canonical bool
}

// parseID checks that f is a string of exactly four hex digits.
func parseID(f *field) (nodeID, bool) {
	if !f.isStr {
		return nodeID{}, false
	}
	var s []byte
	if f.plain {
		s = f.raw[1 : len(f.raw)-1]
	} else {
		s = []byte(f.text())
	}
	if len(s) != 4 {
		return nodeID{}, false
	}
	id := nodeID{canonical: true}
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
			id.canonical = false
		default:
			return nodeID{}, false
		}
		id.v = id.v<<4 | uint16(d)
	}
	return id, true
}

// formatID spells an ID the way the simulator names nodes: four upper-case
// hex digits.
func formatID(v uint16) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{hex[v>>12], hex[v>>8&0xF], hex[v>>4&0xF], hex[v&0xF]})
}

// message is what the simulator reads from one replica datagram. The
// required fields are validated by decodeMessage; the others are read only
// where they matter (MID, key and value on replies to clients; term for the
// timeline).
type message struct {
	src, dst, leader nodeID
	typ              field
	mid              field
	value            field
	term             field
}

// decodeMessage validates a replica datagram as the spec requires: a JSON
// object with src, dst, leader and type, where src, dst and leader are
// four-hex-digit IDs. Extra members are allowed and skipped. It does not
// allocate unless a member it reads contains escapes or non-ASCII bytes.
func decodeMessage(data []byte, m *message) error {
	*m = message{}
	var src, dst, leader field
	s := scanner{b: data}
	s.ws()
	if s.i >= len(s.b) {
		return errBadJSON
	}
	if s.b[s.i] != '{' {
		if !s.value() || !s.end() {
			return errBadJSON
		}
		return errNotObject
	}
	s.i++
	s.depth = 1
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.peek() != '"' {
				return errBadJSON
			}
			kStart := s.i
			kPlain, ok := s.str()
			if !ok {
				return errBadJSON
			}
			key := field{present: true, isStr: true, plain: kPlain, raw: s.b[kStart:s.i]}
			s.ws()
			if s.peek() != ':' {
				return errBadJSON
			}
			s.i++
			s.ws()
			vStart := s.i
			isStr := s.peek() == '"'
			var vPlain bool
			if isStr {
				vPlain, ok = s.str()
			} else {
				ok = s.value()
			}
			if !ok {
				return errBadJSON
			}
			val := field{present: true, isStr: isStr, plain: vPlain, raw: s.b[vStart:s.i]}
			// Later duplicates win, as in encoding/json and Python's json.
			switch {
			case key.equals("src"):
				src = val
			case key.equals("dst"):
				dst = val
			case key.equals("leader"):
				leader = val
			case key.equals("type"):
				m.typ = val
			case key.equals("MID"):
				m.mid = val
			case key.equals("value"):
				m.value = val
			case key.equals("term"):
				m.term = val
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return errBadJSON
			}
		}
	}
	if !s.end() {
		return errBadJSON
	}
	switch {
	case !src.present:
		return fmt.Errorf("%w %q", errMissingField, "src")
	case !dst.present:
		return fmt.Errorf("%w %q", errMissingField, "dst")
	case !leader.present:
		return fmt.Errorf("%w %q", errMissingField, "leader")
	case !m.typ.present:
		return fmt.Errorf("%w %q", errMissingField, "type")
	}
	var ok bool
	if m.leader, ok = parseID(&leader); !ok {
		return fmt.Errorf("leader %s: %w", leader.raw, errBadID)
	}
	if m.dst, ok = parseID(&dst); !ok {
		return fmt.Errorf("dst %s: %w", dst.raw, errBadID)
	}
	if m.src, ok = parseID(&src); !ok {
		return fmt.Errorf("src %s: %w", src.raw, errBadID)
	}
	return nil
}

// scanner validates JSON text by the grammar of RFC 8259, exactly as
// encoding/json does (including its nesting limit), without building values.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace is left: a trailing newline is fine.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str scans a string starting at its opening quote and reports whether it
// is plain (no escapes, only ASCII).
func (s *scanner) str() (plain bool, ok bool) {
	s.i++ // opening quote
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return plain, true
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return false, false
					}
				}
				s.i += 5
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		case c >= 0x80:
			plain = false
			s.i++
		default:
			s.i++
		}
	}
	return false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// value scans any JSON value starting at s.i.
func (s *scanner) value() bool {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		return s.composite(c)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

func (s *scanner) composite(open byte) bool {
	close := byte('}')
	if open == '[' {
		close = ']'
	}
	s.depth++
	if s.depth > maxDepth {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == close {
		s.i++
		s.depth--
		return true
	}
	for {
		s.ws()
		if open == '{' {
			if s.peek() != '"' {
				return false
			}
			if _, ok := s.str(); !ok {
				return false
			}
			s.ws()
			if s.peek() != ':' {
				return false
			}
			s.i++
			s.ws()
		}
		if !s.value() {
			return false
		}
		s.ws()
		c := s.peek()
		s.i++
		if c == close {
			s.depth--
			return true
		}
		if c != ',' {
			return false
		}
	}
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for isDigit(s.peek()) {
			s.i++
		}
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !isDigit(s.peek()) {
			return false
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return false
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	return true
}
