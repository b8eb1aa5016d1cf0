package udpjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// The reference codec: the same wire format through encoding/json and
// concrete structs, the conventional way. It exists to measure what the
// hand-written decoder buys (BenchmarkCodec) and is checked against it
// below, so the comparison is between two correct decoders.

type refEntry struct {
	T  uint64 `json:"t"`
	I  uint64 `json:"i"`
	Y  uint8  `json:"y,omitempty"`
	Cl string `json:"cl,omitempty"`
	R  uint64 `json:"r,omitempty"`
	D  string `json:"d,omitempty"`
}

type refSnap struct {
	I uint64   `json:"i"`
	T uint64   `json:"t"`
	M []string `json:"m,omitempty"`
	D []byte   `json:"d,omitempty"` // encoding/json uses standard base64
}

type refDatagram struct {
	Src    string     `json:"src"`
	Dst    string     `json:"dst"`
	Leader string     `json:"leader"`
	Type   string     `json:"type"`
	MID    *string    `json:"MID,omitempty"`
	Key    *string    `json:"key,omitempty"`
	Value  *string    `json:"value,omitempty"`
	Term   *uint64    `json:"term,omitempty"`
	LT     uint64     `json:"lt,omitempty"`
	I      uint64     `json:"i,omitempty"`
	C      uint64     `json:"c,omitempty"`
	Rj     bool       `json:"rj,omitempty"`
	H      uint64     `json:"h,omitempty"`
	Sq     uint64     `json:"sq,omitempty"`
	F      bool       `json:"f,omitempty"`
	Q      bool       `json:"q,omitempty"`
	U      bool       `json:"u,omitempty"`
	Ch     []string   `json:"ch,omitempty"`
	Ld     string     `json:"ld,omitempty"`
	E      []refEntry `json:"e,omitempty"`
	S      *refSnap   `json:"s,omitempty"`
}

func refMarshalRaft(m *raft.Message, leader ID) ([]byte, error) {
	term := m.Term
	r := refDatagram{Src: ID(m.From - 1).String(), Dst: ID(m.To - 1).String(), Leader: leader.String(),
		Type: RaftTypeName(m.Type), Term: &term, LT: m.LogTerm, I: m.Index, C: m.Commit, Rj: m.Reject,
		H: m.RejectHint, Sq: m.Seq, F: m.Force, Q: m.Quiet, U: m.Urgent}
	for _, id := range m.Chain {
		r.Ch = append(r.Ch, ID(id-1).String())
	}
	if m.Lead != 0 {
		r.Ld = ID(m.Lead - 1).String()
	}
	for _, e := range m.Entries {
		re := refEntry{T: e.Term, I: e.Index, Y: uint8(e.Type), R: e.RequestID}
		if e.ClientID != 0 {
			re.Cl = ID(e.ClientID - 1).String()
		}
		rs := make([]rune, len(e.Data))
		for i, c := range e.Data {
			rs[i] = rune(c)
		}
		re.D = string(rs)
		r.E = append(r.E, re)
	}
	if s := m.Snapshot; s != nil {
		r.S = &refSnap{I: s.Meta.Index, T: s.Meta.Term, D: s.Data}
		for _, id := range s.Meta.Members {
			r.S.M = append(r.S.M, ID(id-1).String())
		}
	}
	return json.Marshal(&r)
}

func refDecode(data []byte) (Datagram, error) {
	var r refDatagram
	if err := json.Unmarshal(data, &r); err != nil {
		return Datagram{}, err
	}
	var d Datagram
	var err error
	if d.Src, err = ParseID(r.Src); err != nil {
		return Datagram{}, err
	}
	if d.Dst, err = ParseID(r.Dst); err != nil {
		return Datagram{}, err
	}
	if d.Leader, err = ParseID(r.Leader); err != nil {
		return Datagram{}, err
	}
	str := func(p *string, name string) (string, error) {
		if p == nil {
			return "", fmt.Errorf("%s: %w", name, ErrMissingField)
		}
		return *p, nil
	}
	switch r.Type {
	case "get", "put", "ok", "fail", "redirect":
		for t, n := range typeNames {
			if n == r.Type {
				d.Type = Type(t)
			}
		}
		if d.MID, err = str(r.MID, "MID"); err != nil {
			return Datagram{}, err
		}
		if d.Type.IsRequest() {
			if d.Key, err = str(r.Key, "key"); err != nil {
				return Datagram{}, err
			}
		}
		if r.Value != nil && d.Type != TypeGet {
			d.Value, d.HasValue = *r.Value, true
		} else if d.Type == TypePut {
			return Datagram{}, ErrMissingField
		}
		return d, nil
	case "hello":
		d.Type = TypeHello
		return d, nil
	}
	mt := raftTypeByName([]byte(r.Type))
	if mt == 0 {
		return Datagram{}, ErrUnknownType
	}
	if r.Term == nil {
		return Datagram{}, ErrMissingField
	}
	var ok1, ok2 bool
	m := &d.Raft
	m.From, ok1 = nodeRaftID(d.Src)
	m.To, ok2 = nodeRaftID(d.Dst)
	if !ok1 || !ok2 {
		return Datagram{}, ErrBadID
	}
	d.Type = TypeRaft
	*m = raft.Message{Type: mt, From: m.From, To: m.To, Term: *r.Term, LogTerm: r.LT, Index: r.I, Commit: r.C,
		Reject: r.Rj, RejectHint: r.H, Seq: r.Sq, Force: r.F, Quiet: r.Q, Urgent: r.U}
	node := func(s string) (uint64, error) {
		id, err := ParseID(s)
		if err != nil {
			return 0, err
		}
		v, ok := nodeRaftID(id)
		if !ok {
			return 0, ErrBadID
		}
		return v, nil
	}
	for _, s := range r.Ch {
		v, err := node(s)
		if err != nil {
			return Datagram{}, err
		}
		m.Chain = append(m.Chain, v)
	}
	if r.Ld != "" {
		if m.Lead, err = node(r.Ld); err != nil {
			return Datagram{}, err
		}
	}
	if len(r.E) > 0 {
		m.Entries = make([]raft.Entry, len(r.E))
	}
	for i, re := range r.E {
		e := &m.Entries[i]
		*e = raft.Entry{Term: re.T, Index: re.I, Type: raft.EntryType(re.Y), RequestID: re.R}
		if re.Y > uint8(maxEntryType) {
			return Datagram{}, ErrBadValue
		}
		if re.Cl != "" {
			if e.ClientID, err = node(re.Cl); err != nil {
				return Datagram{}, err
			}
		}
		if re.D != "" {
			e.Data = make([]byte, 0, len(re.D))
			for _, c := range re.D {
				if c > 0xFF {
					return Datagram{}, ErrBadValue
				}
				e.Data = append(e.Data, byte(c))
			}
		}
	}
	if r.S != nil {
		m.Snapshot = &raft.Snapshot{Meta: raft.SnapshotMeta{Index: r.S.I, Term: r.S.T}, Data: r.S.D}
		for _, s := range r.S.M {
			v, err := node(s)
			if err != nil {
				return Datagram{}, err
			}
			m.Snapshot.Meta.Members = append(m.Snapshot.Meta.Members, v)
		}
	}
	return d, nil
}

// The two codecs agree on every message, both ways.
func TestReferenceCodecAgrees(t *testing.T) {
	for _, m := range everyRaftMessage(t) {
		ours, err := AppendRaft(nil, &m, 0)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := refMarshalRaft(&m, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{ours, ref} {
			if bytes.IndexFunc(b, func(r rune) bool { return r >= 0x80 }) >= 0 {
				// json.Marshal writes UTF-8; the spec (and our decoder)
				// wants ASCII.
				continue
			}
			d1, err1 := Decode(b)
			d2, err2 := refDecode(b)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v / %v", b, err1, err2)
			}
			if !sameMessage(d1.Raft, m) || !sameMessage(d2.Raft, m) {
				t.Fatalf("%s: decoders disagree:\n%+v\n%+v", b, d1.Raft, d2.Raft)
			}
		}
	}
}
