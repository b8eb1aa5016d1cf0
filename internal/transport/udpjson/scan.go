package udpjson

import (
	"encoding/json"
	"fmt"
)

// The JSON scanner under the decoder: RFC 8259's grammar, exactly as
// encoding/json reads it (including its nesting limit), over a byte slice,
// without building values it is not asked for.

// maxDepth is encoding/json's nesting limit, so that skipping an unknown
// value accepts exactly what encoding/json accepts, and recursion is bounded.
const maxDepth = 10000

// rawString is a string token as found in the datagram: its contents
// between the quotes, and whether they hold no escapes.
type rawString struct {
	raw   []byte
	plain bool
}

// decoder is a position in a datagram being scanned.
type decoder struct {
	b []byte
	i int
}

// isPlain reports whether r's value is its bytes: no escapes, or absent.
func (r rawString) isPlain() bool { return r.plain || r.raw == nil }

// text returns the string's value ("" when absent). The escaped case is
// rare (the simulator's alphabets need no escapes), so it goes through
// encoding/json, to unescape exactly as encoding/json does in every corner
// (surrogate pairs, lone surrogates).
func (r rawString) text() (string, error) {
	if r.plain || r.raw == nil {
		return string(r.raw), nil
	}
	quoted := make([]byte, 0, len(r.raw)+2)
	quoted = append(append(append(quoted, '"'), r.raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", fmt.Errorf("string %s: %w", quoted, ErrMalformed)
	}
	return s, nil
}

func fieldErr(name, what string, sentinel error) error {
	return fmt.Errorf("udpjson: decode: field %q: %s: %w", name, what, sentinel)
}

func (s *decoder) syntax(what string) error {
	return fmt.Errorf("udpjson: decode: offset %d: %s: %w", s.i, what, ErrMalformed)
}

func (s *decoder) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// ws skips whitespace; it returns true so it can be chained in conditions.
func (s *decoder) ws() bool {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return true
		}
	}
	return true
}

// next reads the separator after a member or element: a comma (more
// follow) or the closing bracket (done).
func (s *decoder) next(closing byte) (done bool, err error) {
	s.ws()
	switch s.peek() {
	case ',':
		s.i++
		s.ws()
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, s.syntax("want ',' or '" + string(closing) + "'")
}

// key reads an object key and its colon. It returns the key's bytes: the
// datagram's own for a key without escapes (the only kind we write), which
// callers switch on without allocating; an escaped key is unescaped as
// encoding/json would.
func (s *decoder) key() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.syntax("want a string key")
	}
	r, err := s.scanString()
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.peek() != ':' {
		return nil, s.syntax("want ':'")
	}
	s.i++
	s.ws()
	if r.plain {
		return r.raw, nil
	}
	t, err := r.text()
	return []byte(t), err
}

// scanString scans a string token at s.i (the opening quote) and returns
// its contents. Control characters and non-ASCII bytes are errors.
func (s *decoder) scanString() (rawString, error) {
	s.i++
	start := s.i
	plain := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			r := rawString{raw: s.b[start:s.i:s.i], plain: plain}
			s.i++
			return r, nil
		case c == '\\':
			plain = false
			s.i++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return rawString{}, s.syntax("truncated \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if _, ok := hexVal(h); !ok {
						return rawString{}, s.syntax("bad \\u escape")
					}
				}
				s.i += 5
			default:
				return rawString{}, s.syntax("bad escape")
			}
		case c < 0x20:
			return rawString{}, s.syntax("control character in string")
		case c >= 0x80:
			return rawString{}, s.syntax("non-ASCII byte")
		default:
			s.i++
		}
	}
	return rawString{}, s.syntax("unterminated string")
}

// wrongType builds the error for a known field holding the wrong kind of
// value; it first checks that the value is at least valid JSON, so that
// junk is reported as junk.
func (s *decoder) wrongType(name, want string) error {
	at := s.i
	if err := s.skip(1); err != nil {
		return err
	}
	return fmt.Errorf("udpjson: decode: offset %d: field %q: want %s: %w", at, name, want, ErrFieldType)
}

func (s *decoder) str(name string) (rawString, error) {
	if s.peek() != '"' {
		return rawString{}, s.wrongType(name, "a string")
	}
	r, err := s.scanString()
	if err == nil && r.raw == nil {
		r.raw = s.b[s.i-1 : s.i-1] // empty but present
	}
	return r, err
}

// id reads a four-hex-digit ID string.
func (s *decoder) id(name string) (ID, error) {
	r, err := s.str(name)
	if err != nil {
		return 0, err
	}
	if r.plain {
		if id, ok := parseIDBytes(r.raw); ok {
			return id, nil
		}
		return 0, fieldErr(name, fmt.Sprintf("%q is not four hex digits", r.raw), ErrBadID)
	}
	t, err := r.text()
	if err != nil {
		return 0, fmt.Errorf("udpjson: decode: field %q: %w", name, err)
	}
	id, err := ParseID(t)
	if err != nil {
		return 0, fmt.Errorf("udpjson: decode: field %q: %w", name, err)
	}
	return id, nil
}

// uint reads an unsigned integer: JSON digits, no sign, fraction or
// exponent, at most 2^64-1.
func (s *decoder) uint(name string) (uint64, error) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, s.wrongType(name, "a number")
	}
	start := s.i
	var v uint64
	overflow := false
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (1<<64-1-d)/10 {
			overflow = true
		}
		v = v*10 + d
		s.i++
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E', '-', '+':
			s.i = start
			if err := s.number(); err != nil {
				return 0, err
			}
			return 0, fieldErr(name, fmt.Sprintf("%s is not an unsigned integer", s.b[start:s.i]), ErrBadValue)
		}
	}
	if c == '-' {
		s.i = start
		if err := s.number(); err != nil {
			return 0, err
		}
		return 0, fieldErr(name, fmt.Sprintf("%s is negative", s.b[start:s.i]), ErrBadValue)
	}
	if s.b[start] == '0' && s.i-start > 1 {
		return 0, s.syntax("leading zero in number")
	}
	if overflow {
		return 0, fieldErr(name, fmt.Sprintf("%s overflows 64 bits", s.b[start:s.i]), ErrBadValue)
	}
	return v, nil
}

func (s *decoder) boolean(name string) (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"):
		return false, nil
	}
	return false, s.wrongType(name, "true or false")
}

// literal consumes word if it is next.
func (s *decoder) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// skip scans any JSON value at s.i; depth counts the enclosing containers.
func (s *decoder) skip(depth int) error {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		return s.composite(c, depth+1)
	case c == '"':
		_, err := s.scanString()
		return err
	case c == 't':
		if s.literal("true") {
			return nil
		}
	case c == 'f':
		if s.literal("false") {
			return nil
		}
	case c == 'n':
		if s.literal("null") {
			return nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.syntax("want a JSON value")
}

func (s *decoder) composite(open byte, depth int) error {
	if depth > maxDepth {
		return s.syntax("nested too deeply")
	}
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	s.i++
	s.ws()
	if s.peek() == closing {
		s.i++
		return nil
	}
	for {
		if open == '{' {
			if _, err := s.key(); err != nil {
				return err
			}
		}
		if err := s.skip(depth); err != nil {
			return err
		}
		if done, err := s.next(closing); err != nil {
			return err
		} else if done {
			return nil
		}
	}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *decoder) number() error {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return s.syntax("bad number")
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return s.syntax("bad fraction")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return s.syntax("bad exponent")
		}
	}
	return nil
}

func (s *decoder) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
