package udpjson

import (
	"fmt"
	"strings"

	"github.com/raftkv/raftkv/internal/raft"
)

// The decoder is a single pass over the datagram that reads straight into a
// Datagram: no reflection, no intermediate map, no allocation for a
// heartbeat. DESIGN.md has the measurements against encoding/json that
// justify writing it by hand; the fuzz test holds it to accepting only what
// encoding/json accepts (json.Valid) and reading the same strings.
//
// Rules, stricter than encoding/json where that is safer:
//   - the datagram is one JSON object, ASCII only (the spec's rule; a byte
//     >= 0x80 anywhere is ErrMalformed), optionally surrounded by
//     whitespace (a trailing newline is tolerated, as the spec says);
//   - keys match exactly (encoding/json matches case-insensitively);
//   - a known key may appear once (ErrDuplicateField);
//   - unknown keys are skipped, whatever their value, so that newer
//     replicas may add fields without breaking older ones;
//   - known keys must hold the right kind of value: null is not a string
//     or a number (ErrFieldType);
//   - numbers must be unsigned integers that fit in 64 bits (ErrBadValue).

// Field bits, to find missing and duplicate fields without a map.
const (
	fSrc uint32 = 1 << iota
	fDst
	fLeader
	fType
	fMID
	fKey
	fValue
	fTerm
	fLogTerm
	fIndex
	fCommit
	fReject
	fHint
	fSeq
	fForce
	fQuiet
	fUrgent
	fChain
	fLead
	fEntries
	fSnap
)

// Decode parses one datagram. It never panics; on error the returned
// Datagram is zero and the error, wrapping one of the package's sentinel
// errors, says what was wrong and where.
func Decode(data []byte) (Datagram, error) {
	var d Datagram
	if err := decode(data, &d); err != nil {
		return Datagram{}, err
	}
	return d, nil
}

func decode(data []byte, d *Datagram) error {
	if len(data) > MaxDatagramSize {
		return fmt.Errorf("udpjson: decode: %d bytes, limit %d: %w", len(data), MaxDatagramSize, ErrTooLarge)
	}
	s := decoder{b: data}
	s.ws()
	if s.peek() != '{' {
		if s.i < len(s.b) && s.skip(0) == nil && s.ws() && s.i == len(s.b) {
			return fmt.Errorf("udpjson: decode: not a JSON object: %w", ErrMalformed)
		}
		return s.syntax("want a JSON object")
	}
	s.i++
	var (
		seen             uint32
		src, dst, leader ID
		// Absent strings read as "" without escapes.
		typ, mid, key, value = rawString{plain: true}, rawString{plain: true}, rawString{plain: true}, rawString{plain: true}
		m                    = &d.Raft
	)
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			name, err := s.key()
			if err != nil {
				return err
			}
			var bit uint32
			switch string(name) {
			case "src":
				bit = fSrc
				src, err = s.id("src")
			case "dst":
				bit = fDst
				dst, err = s.id("dst")
			case "leader":
				bit = fLeader
				leader, err = s.id("leader")
			case "type":
				bit = fType
				typ, err = s.str("type")
			case "MID":
				bit = fMID
				mid, err = s.str("MID")
			case "key":
				bit = fKey
				key, err = s.str("key")
			case "value":
				bit = fValue
				value, err = s.str("value")
			case "term":
				bit = fTerm
				m.Term, err = s.uint("term")
			case "lt":
				bit = fLogTerm
				m.LogTerm, err = s.uint("lt")
			case "i":
				bit = fIndex
				m.Index, err = s.uint("i")
			case "c":
				bit = fCommit
				m.Commit, err = s.uint("c")
			case "rj":
				bit = fReject
				m.Reject, err = s.boolean("rj")
			case "h":
				bit = fHint
				m.RejectHint, err = s.uint("h")
			case "sq":
				bit = fSeq
				m.Seq, err = s.uint("sq")
			case "f":
				bit = fForce
				m.Force, err = s.boolean("f")
			case "q":
				bit = fQuiet
				m.Quiet, err = s.boolean("q")
			case "u":
				bit = fUrgent
				m.Urgent, err = s.boolean("u")
			case "ch":
				bit = fChain
				m.Chain, err = s.nodeList("ch")
			case "ld":
				bit = fLead
				var lead ID
				if lead, err = s.id("ld"); err == nil {
					var ok bool
					if m.Lead, ok = nodeRaftID(lead); !ok {
						err = fieldErr("ld", "names no node", ErrBadID)
					}
				}
			case "e":
				bit = fEntries
				m.Entries, err = s.entries()
			case "s":
				bit = fSnap
				m.Snapshot, err = s.snapshot()
			default:
				err = s.skip(1)
			}
			if err != nil {
				return err
			}
			if seen&bit != 0 {
				return fmt.Errorf("udpjson: decode: field %q: %w", name, ErrDuplicateField)
			}
			seen |= bit
			if done, err := s.next('}'); err != nil {
				return err
			} else if done {
				break
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("data after the object")
	}
	for _, f := range [...]struct {
		bit  uint32
		name string
	}{{fSrc, "src"}, {fDst, "dst"}, {fLeader, "leader"}, {fType, "type"}} {
		if seen&f.bit == 0 {
			return fmt.Errorf("udpjson: decode: field %q: %w", f.name, ErrMissingField)
		}
	}
	d.Src, d.Dst, d.Leader = src, dst, leader
	// Switching on string(bytes) does not allocate.
	tname := typ.raw
	if !typ.isPlain() {
		t, err := typ.text()
		if err != nil {
			return fmt.Errorf("udpjson: decode: field \"type\": %w", err)
		}
		tname = []byte(t)
	}
	switch string(tname) {
	case "hello":
		d.Type = TypeHello
		d.Raft = raft.Message{}
		return nil
	case "get":
		d.Type = TypeGet
	case "put":
		d.Type = TypePut
	case "ok":
		d.Type = TypeOK
	case "fail":
		d.Type = TypeFail
	case "redirect":
		d.Type = TypeRedirect
	default:
		mt := raftTypeByName(tname)
		if mt == 0 {
			return fmt.Errorf("udpjson: decode: type %q: %w", tname, ErrUnknownType)
		}
		if seen&fTerm == 0 {
			return fmt.Errorf("udpjson: decode: %s: field \"term\": %w", tname, ErrMissingField)
		}
		var ok1, ok2 bool
		m.From, ok1 = nodeRaftID(src)
		m.To, ok2 = nodeRaftID(dst)
		if !ok1 || !ok2 {
			return fmt.Errorf("udpjson: decode: %s from %s to %s: a raft message must name nodes: %w", tname, src, dst, ErrBadID)
		}
		m.Type = mt
		d.Type = TypeRaft
		return nil
	}
	// A client message: whatever Raft fields it carried are not ours to keep.
	d.Raft = raft.Message{}
	need := fMID
	switch d.Type {
	case TypeGet:
		need |= fKey
	case TypePut:
		need |= fKey | fValue
	}
	for _, f := range [...]struct {
		bit  uint32
		name string
	}{{fMID, "MID"}, {fKey, "key"}, {fValue, "value"}} {
		if need&f.bit != 0 && seen&f.bit == 0 {
			return fmt.Errorf("udpjson: decode: %s: field %q: %w", tname, f.name, ErrMissingField)
		}
	}
	if !d.Type.IsRequest() {
		key = rawString{plain: true}
	}
	if d.Type == TypeGet {
		value = rawString{plain: true}
	}
	d.HasValue = value.raw != nil
	return d.setStrings(mid, key, value)
}

// setStrings fills MID, Key and Value with one allocation in the common
// case (no escapes): the three share one backing string.
func (d *Datagram) setStrings(mid, key, value rawString) error {
	if mid.isPlain() && key.isPlain() && value.isPlain() {
		var sb strings.Builder
		sb.Grow(len(mid.raw) + len(key.raw) + len(value.raw))
		sb.Write(mid.raw)
		sb.Write(key.raw)
		sb.Write(value.raw)
		all := sb.String()
		n1, n2 := len(mid.raw), len(mid.raw)+len(key.raw)
		d.MID, d.Key, d.Value = all[:n1], all[n1:n2], all[n2:]
		return nil
	}
	var err error
	if d.MID, err = mid.text(); err != nil {
		return fmt.Errorf("udpjson: decode: field \"MID\": %w", err)
	}
	if d.Key, err = key.text(); err != nil {
		return fmt.Errorf("udpjson: decode: field \"key\": %w", err)
	}
	if d.Value, err = value.text(); err != nil {
		return fmt.Errorf("udpjson: decode: field \"value\": %w", err)
	}
	return nil
}

func raftTypeByName(name []byte) raft.MessageType {
	for t, n := range raftTypeNames {
		if n != "" && n == string(name) {
			return raft.MessageType(t)
		}
	}
	return 0
}
