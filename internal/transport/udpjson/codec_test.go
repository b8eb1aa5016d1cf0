package udpjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestRaftRoundTripEveryType(t *testing.T) {
	seen := map[raft.MessageType]bool{}
	for _, m := range everyRaftMessage(t) {
		seen[m.Type] = true
		leader, _ := ClassroomID(m.Lead)
		b, err := AppendRaft(nil, &m, leader)
		if err != nil {
			t.Fatalf("%s: %v", raft.DescribeMessage(m), err)
		}
		checkASCIIJSON(t, b)
		d, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", raft.DescribeMessage(m), b, err)
		}
		if d.Type != TypeRaft || d.Leader != leader || RaftID(d.Src) != m.From || RaftID(d.Dst) != m.To {
			t.Errorf("%s: header %+v", b, d)
		}
		if !sameMessage(d.Raft, m) {
			t.Errorf("round trip of %s\n got %#v\nwant %#v", b, normalize(d.Raft), normalize(m))
		}
		// Re-encoding the decoded datagram gives the same bytes.
		b2, err := AppendDatagram(nil, &d)
		if err != nil || string(b2) != string(b) {
			t.Errorf("re-encode: %v\n got %s\nwant %s", err, b2, b)
		}
		// "term" is a top-level number on every Raft message, for the
		// simulator's timeline.
		var generic map[string]any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatal(err)
		}
		if _, ok := generic["term"].(float64); !ok {
			t.Errorf("%s: no numeric term", b)
		}
	}
	for mt := raft.MsgApp; mt.Valid(); mt++ {
		if !seen[mt] {
			t.Errorf("no round trip for %v", mt)
		}
	}
}

// checkASCIIJSON checks that b is valid JSON in printable ASCII, as the
// spec requires of every datagram.
func checkASCIIJSON(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	for i, c := range b {
		if c < 0x20 || c >= 0x7F {
			t.Fatalf("byte %d of %q is %#x, not printable ASCII", i, b, c)
		}
	}
}

func TestGoldenEncodings(t *testing.T) {
	app := typicalApp(t)
	hb := typicalHeartbeat()
	mustRaft := func(m raft.Message, leader ID) string {
		b, err := AppendRaft(nil, &m, leader)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mustDG := func(d Datagram) string {
		b, err := AppendDatagram(nil, &d)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct{ got, want string }{
		{string(AppendHello(nil, 3)), `{"src":"0003","dst":"FFFF","leader":"FFFF","type":"hello"}`},
		{mustRaft(hb, 0), `{"src":"0000","dst":"0001","leader":"0000","type":"hb","term":3,"c":17,"sq":704643080}`},
		{mustRaft(app, 0), `{"src":"0000","dst":"0001","leader":"0000","type":"ae","term":3,"lt":3,"i":16,"c":16,"sq":704643079,` +
			`"e":[{"t":3,"i":17,"cl":"0015","r":` + u64(app.Entries[0].RequestID) +
			`,"d":"p001516:K3J9Q0ZP1M2N4B5V32:ABCDEFGHIJKLMNOPQRSTUVWXYZ01234532:0123456789abcdef0123456789abcdef"}]}`},
		{mustRaft(raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: 3, Index: 17, Commit: 16, Seq: 7}, 0),
			`{"src":"0001","dst":"0000","leader":"0000","type":"aer","term":3,"i":17,"c":16,"sq":7}`},
		{mustRaft(raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: 3, Index: 17, Reject: true, RejectHint: 12, LogTerm: 2}, 0),
			`{"src":"0001","dst":"0000","leader":"0000","type":"aer","term":3,"lt":2,"i":17,"rj":true,"h":12}`},
		{mustRaft(raft.Message{Type: raft.MsgPreVote, From: 3, To: 1, Term: 5, Index: 17, LogTerm: 3}, Broadcast),
			`{"src":"0002","dst":"0000","leader":"FFFF","type":"pv","term":5,"lt":3,"i":17}`},
		{mustRaft(raft.Message{Type: raft.MsgVoteResp, From: 1, To: 3, Term: 5}, Broadcast),
			`{"src":"0000","dst":"0002","leader":"FFFF","type":"rvr","term":5}`},
		{mustRaft(raft.Message{Type: raft.MsgApp, From: 2, To: 3, Lead: 1, Chain: []uint64{3, 4}, Term: 3, Index: 5, LogTerm: 3}, 0),
			`{"src":"0001","dst":"0002","leader":"0000","type":"ae","term":3,"lt":3,"i":5,"ch":["0002","0003"],"ld":"0000"}`},
		{mustRaft(raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Term: 4, Snapshot: &raft.Snapshot{
			Meta: raft.SnapshotMeta{Index: 90, Term: 4, Members: []uint64{1, 2, 3}}, Data: []byte("kv")}}, 0),
			`{"src":"0000","dst":"0001","leader":"0000","type":"snap","term":4,"s":{"i":90,"t":4,"m":["0000","0001","0002"],"d":"a3Y="}}`},
		{mustRaft(raft.Message{Type: raft.MsgTimeoutNow, From: 1, To: 2, Term: 4}, 0),
			`{"src":"0000","dst":"0001","leader":"0000","type":"tn","term":4}`},
		{mustDG(Datagram{Type: TypeGet, Src: 0x15, Dst: 0, Leader: Broadcast, MID: "M1", Key: "k"}),
			`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","MID":"M1","key":"k"}`},
		{mustDG(Datagram{Type: TypePut, Src: 0x15, Dst: 0, Leader: 0, MID: "M2", Key: "k", Value: "v"}),
			`{"src":"0015","dst":"0000","leader":"0000","type":"put","MID":"M2","key":"k","value":"v"}`},
		{mustDG(Datagram{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "M1", Value: "", HasValue: true}),
			`{"src":"0000","dst":"0015","leader":"0000","type":"ok","MID":"M1","value":""}`},
		{mustDG(Datagram{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "M2"}),
			`{"src":"0000","dst":"0015","leader":"0000","type":"ok","MID":"M2"}`},
		{mustDG(Datagram{Type: TypeFail, Src: 0, Dst: 0x15, Leader: 0, MID: "M3"}),
			`{"src":"0000","dst":"0015","leader":"0000","type":"fail","MID":"M3"}`},
		{mustDG(Datagram{Type: TypeRedirect, Src: 2, Dst: 0x1C, Leader: 0, MID: "M4"}),
			`{"src":"0002","dst":"001C","leader":"0000","type":"redirect","MID":"M4"}`},
	} {
		if tc.got != tc.want {
			t.Errorf("\n got %s\nwant %s", tc.got, tc.want)
		}
		if _, err := Decode([]byte(tc.want)); err != nil {
			t.Errorf("%s: %v", tc.want, err)
		}
	}
}

func u64(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestClientRoundTrip(t *testing.T) {
	for _, d := range []Datagram{
		{Type: TypeHello, Src: 4, Dst: Broadcast, Leader: Broadcast},
		{Type: TypeGet, Src: 0x15, Dst: 0, Leader: Broadcast, MID: "ABCDEFGHIJKLMNOP", Key: strings.Repeat("K", 32)},
		{Type: TypePut, Src: 0x1C, Dst: 4, Leader: 2, MID: "M", Key: "k", Value: "v", HasValue: true},
		{Type: TypePut, Src: 0x1C, Dst: 4, Leader: 2, MID: "", Key: "", Value: "", HasValue: true},
		{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "M", Value: "v", HasValue: true},
		{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "M", HasValue: true},
		{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "M"},
		{Type: TypeFail, Src: 0, Dst: 0x15, Leader: 0, MID: "M"},
		{Type: TypeRedirect, Src: 1, Dst: 0x15, Leader: 0, MID: "M"},
		// Strings that need escaping come back intact, in ASCII.
		{Type: TypePut, Src: 0x15, Dst: 0, Leader: 0, MID: "q\"\\/\b\f\n\r\t\x00\x1f\x7f", Key: "é—😀", Value: "\u2028", HasValue: true},
	} {
		b, err := AppendDatagram(nil, &d)
		if err != nil {
			t.Fatal(err)
		}
		checkASCIIJSON(t, b)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if got.Type != d.Type || !reflectEqualDatagram(got, d) {
			t.Errorf("round trip of %s\n got %+v\nwant %+v", b, got, d)
		}
		// encoding/json reads the same strings.
		var ref struct{ MID, Key, Value string }
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(raw["MID"], &ref.MID)
		_ = json.Unmarshal(raw["key"], &ref.Key)
		_ = json.Unmarshal(raw["value"], &ref.Value)
		if ref.MID != got.MID || ref.Key != got.Key || ref.Value != got.Value {
			t.Errorf("encoding/json reads %+v, we read %+v", ref, got)
		}
	}
	// Invalid UTF-8 is replaced, as encoding/json does.
	d := Datagram{Type: TypeOK, Dst: 0x15, MID: "a\xffb"}
	b, _ := AppendDatagram(nil, &d)
	got, err := Decode(b)
	if err != nil || got.MID != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: %s -> %q, %v", b, got.MID, err)
	}
}

func reflectEqualDatagram(a, b Datagram) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.Leader == b.Leader && a.MID == b.MID && a.Key == b.Key &&
		a.Value == b.Value && a.HasValue == b.HasValue && sameMessage(a.Raft, b.Raft)
}

func TestDecodeTolerates(t *testing.T) {
	for _, in := range []string{
		// Trailing newline (the spec tolerates it) and whitespace anywhere.
		"{\"src\":\"0000\",\"dst\":\"0001\",\"leader\":\"0000\",\"type\":\"hb\",\"term\":3}\n",
		" { \"src\" : \"0000\" , \"dst\":\"0001\",\"leader\":\"0000\",\"type\":\"hb\",\"term\":3 }\r\n\t",
		// Any field order; lower-case IDs; unknown fields of any shape.
		`{"type":"get","key":"k","MID":"m","leader":"ffff","dst":"000a","src":"0015","x":[1,{"y":null}],"z":-1.5e3}`,
		// Escaped keys and values mean what encoding/json says they mean.
		`{"\u0073rc":"\u0030015","dst":"0000","leader":"FFFF","type":"\u0067et","MID":"m","key":"k"}`,
		// An ok may carry anything else (a put's ok with no value, etc.).
		`{"src":"0000","dst":"0015","leader":"0000","type":"ok","MID":"m","key":"ignored"}`,
		// Client fields on Raft messages are ignored, and vice versa.
		`{"src":"0000","dst":"0001","leader":"0000","type":"hb","term":3,"MID":"m"}`,
		`{"src":"0015","dst":"0000","leader":"0000","type":"get","MID":"m","key":"k","term":3,"e":[]}`,
		`{"src":"0000","dst":"0001","leader":"0000","type":"ae","term":3,"e":[],"ch":[],"rj":false,"f":false}`,
		`{"src":"0000","dst":"0001","leader":"0000","type":"ae","term":3,"e":[{"t":1,"i":2,"d":"","new":{}}]}`,
	} {
		if _, err := Decode([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	d, err := Decode([]byte(`{"\u0073rc":"\u0030015","dst":"0000","leader":"FFFF","type":"\u0067et","MID":"\u004d","key":"k"}`))
	if err != nil || d.Type != TypeGet || d.Src != 0x15 || d.MID != "M" {
		t.Errorf("escapes: %+v %v", d, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	const hb = `"src":"0000","dst":"0001","leader":"0000","type":"hb"`
	for _, tc := range []struct {
		in   string
		want error
	}{
		{``, ErrMalformed},
		{`   `, ErrMalformed},
		{`nonsense`, ErrMalformed},
		{`[1,2]`, ErrMalformed},
		{`"hello"`, ErrMalformed},
		{`42`, ErrMalformed},
		{`null`, ErrMalformed},
		{`{`, ErrMalformed},
		{`{"src":"0000"`, ErrMalformed},
		{`{"src":"0000",}`, ErrMalformed},
		{`{"src" "0000"}`, ErrMalformed},
		{`{src:"0000"}`, ErrMalformed},
		{`{"src":'0000'}`, ErrMalformed},
		{`{` + hb + `,"term":3}{}`, ErrMalformed},
		{`{` + hb + `,"term":3} x`, ErrMalformed},
		{`{` + hb + `,"term":03}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":tru}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":"a` + "\x01" + `"}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":"\q"}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":"\u12"}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":1.}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":-}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":1e}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":[1,]}`, ErrMalformed},
		{`{` + hb + `,"term":3,"x":"é"}`, ErrMalformed}, // non-ASCII byte
		{`{` + hb + `,"term":3,"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, ErrMalformed},
		{`{"src":"0000","dst":"0001","leader":"0000","type":"get","MID":"\ud800","key":"k","x":"\` + "\x00" + `"}`, ErrMalformed},
		// Missing fields.
		{`{}`, ErrMissingField},
		{`{"dst":"0001","leader":"0000","type":"hb","term":3}`, ErrMissingField},
		{`{"src":"0000","leader":"0000","type":"hb","term":3}`, ErrMissingField},
		{`{"src":"0000","dst":"0001","type":"hb","term":3}`, ErrMissingField},
		{`{"src":"0000","dst":"0001","leader":"0000","term":3}`, ErrMissingField},
		{`{` + hb + `}`, ErrMissingField},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","key":"k"}`, ErrMissingField},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","MID":"m"}`, ErrMissingField},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"put","MID":"m","key":"k"}`, ErrMissingField},
		{`{"src":"0000","dst":"0015","leader":"0000","type":"ok"}`, ErrMissingField},
		{`{` + hb + `,"term":3,"e":[{"i":1}]}`, ErrMissingField},
		{`{` + hb + `,"term":3,"e":[{"t":1}]}`, ErrMissingField},
		{`{` + hb + `,"term":3,"s":{"t":1}}`, ErrMissingField},
		{`{` + hb + `,"term":3,"s":{"i":1}}`, ErrMissingField},
		// Wrong field types.
		{`{"src":0,"dst":"0001","leader":"0000","type":"hb","term":3}`, ErrFieldType},
		{`{"src":null,"dst":"0001","leader":"0000","type":"hb","term":3}`, ErrFieldType},
		{`{"src":"0000","dst":["0001"],"leader":"0000","type":"hb","term":3}`, ErrFieldType},
		{`{"src":"0000","dst":"0001","leader":{},"type":"hb","term":3}`, ErrFieldType},
		{`{"src":"0000","dst":"0001","leader":"0000","type":7,"term":3}`, ErrFieldType},
		{`{` + hb + `,"term":"3"}`, ErrFieldType},
		{`{` + hb + `,"term":null}`, ErrFieldType},
		{`{` + hb + `,"term":true}`, ErrFieldType},
		{`{` + hb + `,"term":3,"rj":1}`, ErrFieldType},
		{`{` + hb + `,"term":3,"f":"true"}`, ErrFieldType},
		{`{` + hb + `,"term":3,"ch":"0001"}`, ErrFieldType},
		{`{` + hb + `,"term":3,"ch":[1]}`, ErrFieldType},
		{`{` + hb + `,"term":3,"ld":1}`, ErrFieldType},
		{`{` + hb + `,"term":3,"e":{}}`, ErrFieldType},
		{`{` + hb + `,"term":3,"e":[1]}`, ErrFieldType},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"d":7}]}`, ErrFieldType},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"cl":21}]}`, ErrFieldType},
		{`{` + hb + `,"term":3,"s":[]}`, ErrFieldType},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"d":[]}}`, ErrFieldType},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","MID":1,"key":"k"}`, ErrFieldType},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"get","MID":"m","key":null}`, ErrFieldType},
		{`{"src":"0015","dst":"0000","leader":"FFFF","type":"put","MID":"m","key":"k","value":5}`, ErrFieldType},
		// Bad values.
		{`{` + hb + `,"term":-1}`, ErrBadValue},
		{`{` + hb + `,"term":-0}`, ErrBadValue},
		{`{` + hb + `,"term":1.5}`, ErrBadValue},
		{`{` + hb + `,"term":1e3}`, ErrBadValue},
		{`{` + hb + `,"term":18446744073709551616}`, ErrBadValue},
		{`{` + hb + `,"term":99999999999999999999}`, ErrBadValue},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"y":2}]}`, ErrBadValue},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"d":"\u0100"}]}`, ErrBadValue},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"d":"!!"}}`, ErrBadValue},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"d":"QR=="}}`, ErrBadValue},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"d":"QQ==\n"}}`, ErrBadValue},
		// Duplicates.
		{`{` + hb + `,"term":3,"term":4}`, ErrDuplicateField},
		{`{"src":"0000",` + hb + `,"term":3}`, ErrDuplicateField},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"t":2}]}`, ErrDuplicateField},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"i":2}}`, ErrDuplicateField},
		// IDs.
		{`{"src":"000","dst":"0001","leader":"0000","type":"hb","term":3}`, ErrBadID},
		{`{"src":"00000","dst":"0001","leader":"0000","type":"hb","term":3}`, ErrBadID},
		{`{"src":"0000","dst":"00G1","leader":"0000","type":"hb","term":3}`, ErrBadID},
		{`{"src":"0000","dst":"0001","leader":"","type":"hb","term":3}`, ErrBadID},
		{`{"src":"0000","dst":"0001","leader":"-001","type":"hb","term":3}`, ErrBadID},
		{`{"src":"0000","dst":"0001","leader":" 001","type":"hb","term":3}`, ErrBadID},
		{`{"src":"FFFF","dst":"0001","leader":"0000","type":"hb","term":3}`, ErrBadID},
		{`{"src":"0000","dst":"FFFF","leader":"0000","type":"hb","term":3}`, ErrBadID},
		{`{` + hb + `,"term":3,"ld":"FFFF"}`, ErrBadID},
		{`{` + hb + `,"term":3,"ch":["0001","FFFF"]}`, ErrBadID},
		{`{` + hb + `,"term":3,"ch":["01"]}`, ErrBadID},
		{`{` + hb + `,"term":3,"e":[{"t":1,"i":1,"cl":"FFFF"}]}`, ErrBadID},
		{`{` + hb + `,"term":3,"s":{"i":1,"t":1,"m":["FFFF"]}}`, ErrBadID},
		// Types.
		{`{"src":"0000","dst":"0001","leader":"0000","type":"HB","term":3}`, ErrUnknownType},
		{`{"src":"0000","dst":"0001","leader":"0000","type":"","term":3}`, ErrUnknownType},
		{`{"src":"0000","dst":"0001","leader":"0000","type":"raft","term":3}`, ErrUnknownType},
		{`{"src":"0000","dst":"0001","leader":"0000","type":"invalid","term":3}`, ErrUnknownType},
		// Size.
		{`{` + hb + `,"term":3,"x":"` + strings.Repeat("a", MaxDatagramSize) + `"}`, ErrTooLarge},
	} {
		d, err := Decode([]byte(tc.in))
		if !errors.Is(err, tc.want) {
			in := tc.in
			if len(in) > 200 {
				in = in[:200] + "..."
			}
			t.Errorf("%s:\n got %v\nwant %v", in, err, tc.want)
		}
		if err != nil && !reflectEqualDatagram(d, Datagram{}) {
			t.Errorf("%s: error with non-zero datagram %+v", tc.in, d)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	ok := typicalHeartbeat()
	for name, m := range map[string]raft.Message{
		"type 0":          {From: 1, To: 2},
		"type past end":   {Type: raft.MsgTimeoutNow + 1, From: 1, To: 2},
		"from none":       {Type: raft.MsgHeartbeat, To: 2},
		"to none":         {Type: raft.MsgHeartbeat, From: 1},
		"from too big":    {Type: raft.MsgHeartbeat, From: 0x10000, To: 2},
		"to too big":      {Type: raft.MsgHeartbeat, From: 1, To: 1 << 40},
		"lead too big":    {Type: raft.MsgApp, From: 1, To: 2, Lead: 0x10000},
		"chain none":      {Type: raft.MsgApp, From: 1, To: 2, Chain: []uint64{3, 0}},
		"chain too big":   {Type: raft.MsgApp, From: 1, To: 2, Chain: []uint64{0x10000}},
		"entry type":      {Type: raft.MsgApp, From: 1, To: 2, Entries: []raft.Entry{{Term: 1, Index: 1, Type: 9}}},
		"entry client":    {Type: raft.MsgApp, From: 1, To: 2, Entries: []raft.Entry{{Term: 1, Index: 1, ClientID: 0x10000}}},
		"snapshot member": {Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 1, Members: []uint64{0}}}},
	} {
		prefix := []byte("keep")
		b, err := AppendRaft(prefix, &m, 0)
		if !errors.Is(err, ErrInvalid) || string(b) != "keep" {
			t.Errorf("%s: got %q, %v", name, b, err)
		}
	}
	if _, err := AppendRaft(nil, &ok, 0); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]Datagram{
		"invalid type":   {Type: TypeInvalid},
		"type past end":  {Type: typeEnd},
		"raft src wrong": {Type: TypeRaft, Src: 5, Dst: 1, Raft: ok},
		"raft dst wrong": {Type: TypeRaft, Src: 0, Dst: 7, Raft: ok},
	} {
		if _, err := AppendDatagram(nil, &d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
