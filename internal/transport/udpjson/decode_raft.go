package udpjson

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/raftkv/raftkv/internal/raft"
)

// The parts of the decoder that read Raft's own fields: ID lists, entries
// and snapshots.

// Entry field bits.
const (
	eTerm uint32 = 1 << iota
	eIndex
	eType
	eClient
	eRequest
	eData
)

// Snapshot field bits.
const (
	sIndex uint32 = 1 << iota
	sTerm
	sMembers
	sData
)

// nodeList reads an array of IDs that must name nodes; an empty array is
// nil, so that decoding and re-encoding agree.
func (s *decoder) nodeList(name string) ([]uint64, error) {
	if s.peek() != '[' {
		return nil, s.wrongType(name, "an array of IDs")
	}
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
		return nil, nil
	}
	var out []uint64
	for {
		id, err := s.id(name)
		if err != nil {
			return nil, err
		}
		v, ok := nodeRaftID(id)
		if !ok {
			return nil, fieldErr(name, "FFFF names no node", ErrBadID)
		}
		out = append(out, v)
		if done, err := s.next(']'); err != nil {
			return nil, err
		} else if done {
			return out, nil
		}
	}
}

// entries reads the "e" array of entry objects.
func (s *decoder) entries() ([]raft.Entry, error) {
	if s.peek() != '[' {
		return nil, s.wrongType("e", "an array of entries")
	}
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
		return nil, nil
	}
	out := make([]raft.Entry, 0, 1)
	for {
		out = append(out, raft.Entry{})
		if err := s.entry(&out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("%w (entry %d)", err, len(out)-1)
		}
		if done, err := s.next(']'); err != nil {
			return nil, err
		} else if done {
			return out, nil
		}
	}
}

func (s *decoder) entry(e *raft.Entry) error {
	if s.peek() != '{' {
		return s.wrongType("e", "an entry object")
	}
	s.i++
	s.ws()
	var seen uint32
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			name, err := s.key()
			if err != nil {
				return err
			}
			var bit uint32
			switch string(name) {
			case "t":
				bit = eTerm
				e.Term, err = s.uint("t")
			case "i":
				bit = eIndex
				e.Index, err = s.uint("i")
			case "y":
				bit = eType
				var t uint64
				if t, err = s.uint("y"); err == nil && t > uint64(maxEntryType) {
					err = fieldErr("y", fmt.Sprintf("entry type %d", t), ErrBadValue)
				}
				e.Type = raft.EntryType(t)
			case "cl":
				bit = eClient
				var cl ID
				if cl, err = s.id("cl"); err == nil {
					var ok bool
					if e.ClientID, ok = nodeRaftID(cl); !ok {
						err = fieldErr("cl", "FFFF is no client", ErrBadID)
					}
				}
			case "r":
				bit = eRequest
				e.RequestID, err = s.uint("r")
			case "d":
				bit = eData
				e.Data, err = s.byteString("d")
			default:
				err = s.skip(3)
			}
			if err != nil {
				return err
			}
			if seen&bit != 0 {
				return fmt.Errorf("udpjson: decode: entry field %q: %w", name, ErrDuplicateField)
			}
			seen |= bit
			if done, err := s.next('}'); err != nil {
				return err
			} else if done {
				break
			}
		}
	}
	if seen&eTerm == 0 {
		return fmt.Errorf("udpjson: decode: entry field \"t\": %w", ErrMissingField)
	}
	if seen&eIndex == 0 {
		return fmt.Errorf("udpjson: decode: entry field \"i\": %w", ErrMissingField)
	}
	return nil
}

// byteString reads a string whose every character is one byte (code
// 0-255), the inverse of appendByteString. The result is a fresh slice:
// entries outlive the datagram buffer. "" is nil.
func (s *decoder) byteString(name string) ([]byte, error) {
	r, err := s.str(name)
	if err != nil || len(r.raw) == 0 {
		return nil, err
	}
	if r.plain {
		return append([]byte(nil), r.raw...), nil
	}
	out := make([]byte, 0, len(r.raw))
	for i := 0; i < len(r.raw); i++ {
		c := r.raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch r.raw[i] { // scanString validated every escape
		case '"', '\\', '/':
			out = append(out, r.raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			var v uint16
			for _, h := range r.raw[i+1 : i+5] {
				d, _ := hexVal(h)
				v = v<<4 | uint16(d)
			}
			if v > 0xFF {
				return nil, fieldErr(name, fmt.Sprintf("\\u%04x is not a byte", v), ErrBadValue)
			}
			out = append(out, byte(v))
			i += 4
		}
	}
	return out, nil
}

// snapshot reads the "s" object: {"i","t","m","d"}.
func (s *decoder) snapshot() (*raft.Snapshot, error) {
	if s.peek() != '{' {
		return nil, s.wrongType("s", "a snapshot object")
	}
	s.i++
	s.ws()
	snap := &raft.Snapshot{}
	var seen uint32
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			name, err := s.key()
			if err != nil {
				return nil, err
			}
			var bit uint32
			switch string(name) {
			case "i":
				bit = sIndex
				snap.Meta.Index, err = s.uint("i")
			case "t":
				bit = sTerm
				snap.Meta.Term, err = s.uint("t")
			case "m":
				bit = sMembers
				snap.Meta.Members, err = s.nodeList("m")
			case "d":
				bit = sData
				var r rawString
				if r, err = s.str("d"); err == nil {
					snap.Data, err = decodeBase64(r)
				}
			default:
				err = s.skip(2)
			}
			if err != nil {
				return nil, err
			}
			if seen&bit != 0 {
				return nil, fmt.Errorf("udpjson: decode: snapshot field %q: %w", name, ErrDuplicateField)
			}
			seen |= bit
			if done, err := s.next('}'); err != nil {
				return nil, err
			} else if done {
				break
			}
		}
	}
	if seen&sIndex == 0 {
		return nil, fmt.Errorf("udpjson: decode: snapshot field \"i\": %w", ErrMissingField)
	}
	if seen&sTerm == 0 {
		return nil, fmt.Errorf("udpjson: decode: snapshot field \"t\": %w", ErrMissingField)
	}
	return snap, nil
}

func decodeBase64(r rawString) ([]byte, error) {
	text, err := r.text()
	if err != nil {
		return nil, fmt.Errorf("udpjson: decode: snapshot data: %w", err)
	}
	if text == "" {
		return nil, nil
	}
	if strings.ContainsAny(text, "\r\n") {
		return nil, fieldErr("d", "newline in base64", ErrBadValue)
	}
	// Strict refuses stray padding bits, and newlines are refused above
	// (the default decoder skips them): one value, one spelling.
	out, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return nil, fieldErr("d", err.Error(), ErrBadValue)
	}
	return out, nil
}
