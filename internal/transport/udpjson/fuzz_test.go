package udpjson

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// FuzzDecode holds the datagram decoder to its promises: it never panics;
// whatever it accepts is valid JSON (json.Valid) whose fields encoding/json
// reads the same way; and whatever it accepts re-encodes, and decodes again
// to the same value.
func FuzzDecode(f *testing.F) {
	for _, m := range everyRaftMessage(f) {
		b, err := AppendRaft(nil, &m, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"src":"0003","dst":"FFFF","leader":"FFFF","type":"hello"}`,
		`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","MID":"ABCDEFGHIJKLMNOP","key":"k"}`,
		`{"src":"0015","dst":"0000","leader":"0000","type":"put","MID":"M","key":"k","value":"v"}`,
		`{"src":"0000","dst":"0015","leader":"0000","type":"ok","MID":"M","value":""}`,
		`{"src":"0000","dst":"0015","leader":"0000","type":"redirect","MID":"M"}`,
		`{"\u0073rc":"\u0030015","dst":"0000","leader":"ffff","type":"\u0067et","MID":"\ud83d\ude00\ud800","key":"\"","x":[{}]}`,
		`{"src":"0000","dst":"0001","leader":"0000","type":"ae","term":3,"e":[{"t":1,"i":2,"d":"\u00ff\n"}]}`,
		`{"src":"0000","dst":"0001","leader":"0000","type":"snap","term":3,"s":{"i":1,"t":1,"d":"QQ=="}}`,
		"{}", "[]", "", "null", `{"a":`, "{\"src\":\"0000\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		checkAgainstEncodingJSON(t, data, &d)
		b, err := AppendDatagram(nil, &d)
		if err != nil {
			t.Fatalf("decoded %q to %+v, which does not encode: %v", data, d, err)
		}
		if bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 || r >= 0x7F }) >= 0 {
			t.Fatalf("re-encoding is not printable ASCII: %q", b)
		}
		d2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoding %q of %q does not decode: %v", b, data, err)
		}
		if d2.Type != d.Type || !reflectEqualDatagram(d2, d) {
			t.Fatalf("round trip changed the value:\n%q\n%+v\n%q\n%+v", data, d, b, d2)
		}
		b2, _ := AppendDatagram(nil, &d2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not canonical: %q then %q", b, b2)
		}
	})
}

// checkAgainstEncodingJSON reads the top-level fields with encoding/json
// (into a map, which matches keys exactly, as we do) and compares.
func checkAgainstEncodingJSON(t *testing.T, data []byte, d *Datagram) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatalf("accepted %q, which encoding/json cannot read as an object: %v", data, err)
	}
	str := func(name string) string {
		var s string
		if err := json.Unmarshal(fields[name], &s); err != nil {
			t.Fatalf("accepted %q whose %s encoding/json reads as no string: %v", data, name, err)
		}
		return s
	}
	for name, want := range map[string]ID{"src": d.Src, "dst": d.Dst, "leader": d.Leader} {
		if id, err := ParseID(str(name)); err != nil || id != want {
			t.Fatalf("%q: %s is %v, encoding/json reads %q", data, name, want, str(name))
		}
	}
	if d.Type == TypeRaft {
		if got := str("type"); got != RaftTypeName(d.Raft.Type) {
			t.Fatalf("%q: type %v, encoding/json reads %q", data, d.Raft.Type, got)
		}
		var term uint64
		if err := json.Unmarshal(fields["term"], &term); err != nil || term != d.Raft.Term {
			t.Fatalf("%q: term %d, encoding/json reads %s (%v)", data, d.Raft.Term, fields["term"], err)
		}
		return
	}
	if got := str("type"); got != d.Type.String() {
		t.Fatalf("%q: type %v, encoding/json reads %q", data, d.Type, got)
	}
	if d.Type == TypeHello {
		return
	}
	if got := str("MID"); got != d.MID {
		t.Fatalf("%q: MID %q, encoding/json reads %q", data, d.MID, got)
	}
	if d.Type.IsRequest() && str("key") != d.Key {
		t.Fatalf("%q: key %q, encoding/json reads %q", data, d.Key, str("key"))
	}
	if d.HasValue && str("value") != d.Value {
		t.Fatalf("%q: value %q, encoding/json reads %q", data, d.Value, str("value"))
	}
}

// FuzzDecodeCommand: the payload decoder never panics and its accepted
// inputs are canonical encodings.
func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{"p001A3:M012:k15:value", "g00150:0:", "p00151:a1:b1:c", "x", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		b, err := AppendCommand(nil, &c)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%q decoded to %+v, which encodes to %q, %v", data, c, b, err)
		}
	})
}

// FuzzRaftRoundTrip: any message the encoder accepts decodes to itself.
func FuzzRaftRoundTrip(f *testing.F) {
	f.Add(uint8(1), uint64(1), uint64(2), uint64(3), uint64(4), uint64(5), uint64(6), true, []byte("p00150:0:"), uint16(0x15))
	f.Fuzz(func(t *testing.T, typ uint8, from, to, term, index, commit, seq uint64, flag bool, data []byte, client uint16) {
		m := raft.Message{Type: raft.MessageType(typ), From: from, To: to, Term: term, Index: index, LogTerm: term / 2,
			Commit: commit, Seq: seq, Reject: flag, Force: !flag, RejectHint: index / 3}
		if len(data) > 0 {
			m.Entries = []raft.Entry{{Term: term, Index: index + 1, ClientID: uint64(client), RequestID: seq, Data: data}}
		}
		if flag {
			m.Snapshot = &raft.Snapshot{Meta: raft.SnapshotMeta{Index: index, Term: term, Members: []uint64{from}}, Data: data}
		}
		b, err := AppendRaft(nil, &m, ID(client))
		if err != nil {
			return
		}
		d, err := Decode(b)
		if err != nil {
			if len(b) > MaxDatagramSize {
				return
			}
			t.Fatalf("%s does not decode: %v", b, err)
		}
		if !sameMessage(d.Raft, m) || d.Leader != ID(client) {
			t.Fatalf("round trip of %s: %+v", b, d.Raft)
		}
	})
}
