package coursesim

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeMessageValid(t *testing.T) {
	tests := []struct {
		name, in               string
		src, dst, leader       uint16
		typ, mid, value, term  string
		canonicalDst, hasTerm  bool
		midPresent, valPresent bool
	}{
		{name: "minimal", in: `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"hello"}`,
			src: 1, dst: 0xFFFF, leader: 0xFFFF, typ: "hello", canonicalDst: true},
		{name: "reply with extras and trailing newline", in: "{\"src\": \"0000\", \"dst\": \"0015\", \"leader\": \"0000\", \"type\": \"ok\", \"MID\": \"AB12\", \"value\": \"\", \"term\": 7, \"log\": [1, {\"a\": null}]}\n",
			src: 0, dst: 0x15, leader: 0, typ: "ok", mid: "AB12", value: "", term: "7", canonicalDst: true, hasTerm: true, midPresent: true, valPresent: true},
		{name: "escaped ID", in: `{"src":"\u0030002","dst":"0A1B","leader":"0002","type":"x"}`,
			src: 2, dst: 0x0A1B, leader: 2, typ: "x", canonicalDst: true},
		{name: "lower-case hex is valid but names no node", in: `{"src":"0002","dst":"000a","leader":"0002","type":"x"}`,
			src: 2, dst: 0x000A, leader: 2, typ: "x", canonicalDst: false},
		{name: "later duplicate key wins", in: `{"src":"0002","dst":"0003","dst":"0004","leader":"0002","type":"x"}`,
			src: 2, dst: 4, leader: 2, typ: "x", canonicalDst: true},
		{name: "non-string type is present", in: `{"src":"0002","dst":"0003","leader":"0002","type":5}`,
			src: 2, dst: 3, leader: 2, typ: "", canonicalDst: true},
		{name: "string term", in: `{"src":"0002","dst":"0003","leader":"0002","type":"x","term":"4"}`,
			src: 2, dst: 3, leader: 2, typ: "x", term: "4", hasTerm: true, canonicalDst: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m message
			if err := decodeMessage([]byte(tt.in), &m); err != nil {
				t.Fatalf("decodeMessage(%s) = %v, want nil", tt.in, err)
			}
			if m.src.v != tt.src || m.dst.v != tt.dst || m.leader.v != tt.leader {
				t.Errorf("ids = %04X %04X %04X, want %04X %04X %04X", m.src.v, m.dst.v, m.leader.v, tt.src, tt.dst, tt.leader)
			}
			if m.dst.canonical != tt.canonicalDst {
				t.Errorf("dst canonical = %v, want %v", m.dst.canonical, tt.canonicalDst)
			}
			if got := m.typ.text(); got != tt.typ || !m.typ.present {
				t.Errorf("type = %q (present %v), want %q", got, m.typ.present, tt.typ)
			}
			if m.mid.present != tt.midPresent || m.mid.text() != tt.mid {
				t.Errorf("MID = %q (present %v), want %q (present %v)", m.mid.text(), m.mid.present, tt.mid, tt.midPresent)
			}
			if m.value.present != tt.valPresent || m.value.text() != tt.value {
				t.Errorf("value = %q (present %v), want %q", m.value.text(), m.value.present, tt.value)
			}
			if m.term.present != tt.hasTerm || termText(&m.term) != tt.term {
				t.Errorf("term = %q (present %v), want %q", termText(&m.term), m.term.present, tt.term)
			}
		})
	}
}

func TestDecodeMessageIncorrect(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", ``, errBadJSON},
		{"truncated", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"hel`, errBadJSON},
		{"trailing garbage", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"x"} x`, errBadJSON},
		{"two objects", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"x"}{}`, errBadJSON},
		{"single quotes", `{'src':'0001'}`, errBadJSON},
		{"trailing comma", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"x",}`, errBadJSON},
		{"leading zero", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"x","n":01}`, errBadJSON},
		{"control character in string", "{\"src\":\"0001\",\"dst\":\"FFFF\",\"leader\":\"FFFF\",\"type\":\"a\tb\"}", errBadJSON},
		{"bad escape", `{"src":"0001","dst":"FFFF","leader":"FFFF","type":"\x"}`, errBadJSON},
		{"array", `[1,2]`, errNotObject},
		{"string", `"hello"`, errNotObject},
		{"missing src", `{"dst":"FFFF","leader":"FFFF","type":"x"}`, errMissingField},
		{"missing dst", `{"src":"0001","leader":"FFFF","type":"x"}`, errMissingField},
		{"missing leader", `{"src":"0001","dst":"FFFF","type":"x"}`, errMissingField},
		{"missing type", `{"src":"0001","dst":"FFFF","leader":"FFFF"}`, errMissingField},
		{"wrong case key", `{"SRC":"0001","dst":"FFFF","leader":"FFFF","type":"x"}`, errMissingField},
		{"short ID", `{"src":"001","dst":"FFFF","leader":"FFFF","type":"x"}`, errBadID},
		{"long ID", `{"src":"00001","dst":"FFFF","leader":"FFFF","type":"x"}`, errBadID},
		{"non-hex ID", `{"src":"0001","dst":"00G0","leader":"FFFF","type":"x"}`, errBadID},
		{"numeric ID", `{"src":"0001","dst":"FFFF","leader":1,"type":"x"}`, errBadID},
		{"null ID", `{"src":null,"dst":"FFFF","leader":"FFFF","type":"x"}`, errBadID},
		{"signed ID", `{"src":"+001","dst":"FFFF","leader":"FFFF","type":"x"}`, errBadID},
		{"spaced ID", `{"src":" 001","dst":"FFFF","leader":"FFFF","type":"x"}`, errBadID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m message
			err := decodeMessage([]byte(tt.in), &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decodeMessage(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestDecodeMessageDepthLimit(t *testing.T) {
	nest := func(depth int) []byte {
		// The top-level object is depth 1.
		return []byte(`{"src":"0001","dst":"FFFF","leader":"FFFF","type":"x","n":` +
			strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
	}
	var m message
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		in := nest(depth)
		got := decodeMessage(in, &m) == nil
		if want := json.Valid(in); got != want {
			t.Errorf("depth %d: decodeMessage ok = %v, json.Valid = %v", depth, got, want)
		}
	}
}

func TestAppendRequestIsValidJSON(t *testing.T) {
	b := appendRequest(nil, "0015", "0002", "FFFF", false, "MID0123456789ABC", strings.Repeat("K", keyLen), strings.Repeat("a", valueLen))
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("request %s is not JSON: %v", b, err)
	}
	want := map[string]string{"src": "0015", "dst": "0002", "leader": "FFFF", "type": "put", "MID": "MID0123456789ABC",
		"key": strings.Repeat("K", keyLen), "value": strings.Repeat("a", valueLen)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// FuzzDecodeMessage checks the hand-written scanner against encoding/json:
// it must accept exactly the same texts, and read the same field values.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"src":"0001","dst":"FFFF","leader":"FFFF","type":"hello"}`,
		`{"src": "0000", "dst": "0015", "leader": "0000", "type": "ok", "MID": "AB", "value": "x\u00e9\n", "term": 1.5e3}`,
		`{"src":"\u0030001","dst":"0001","leader":"abcd","type":"x","a":[true,false,null,-0.1,{"b":"c"}]}`,
		`[]`, `"x"`, `{"a":01}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1,}`, ` {"src":"0001"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m message
		err := decodeMessage(data, &m)
		valid := json.Valid(data)
		if errors.Is(err, errBadJSON) == valid {
			t.Fatalf("decodeMessage err = %v but json.Valid = %v for %q", err, valid, data)
		}
		if !valid {
			return
		}
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil {
			if !errors.Is(err, errNotObject) {
				t.Fatalf("not an object, but decodeMessage err = %v for %q", err, data)
			}
			return
		}
		str := func(name string) (string, bool) {
			s, ok := obj[name].(string)
			return s, ok
		}
		for _, c := range []struct {
			name string
			f    *field
		}{{"type", &m.typ}, {"MID", &m.mid}, {"value", &m.value}, {"term", &m.term}} {
			if err != nil {
				break
			}
			_, present := obj[c.name]
			s, isStr := str(c.name)
			if c.f.present != present || c.f.isStr != isStr || c.f.text() != s {
				t.Fatalf("%s: got present=%v isStr=%v %q, encoding/json says present=%v isStr=%v %q in %q",
					c.name, c.f.present, c.f.isStr, c.f.text(), present, isStr, s, data)
			}
		}
		for _, name := range []string{"src", "dst", "leader", "type"} {
			if _, ok := obj[name]; !ok {
				if !errors.Is(err, errMissingField) && !errors.Is(err, errNotObject) {
					t.Fatalf("%s missing but err = %v for %q", name, err, data)
				}
				return
			}
		}
		for _, name := range []string{"src", "dst", "leader"} {
			s, isStr := str(name)
			if !isStr || len(s) != 4 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
				if !errors.Is(err, errBadID) {
					t.Fatalf("%s = %v is not an ID but err = %v for %q", name, obj[name], err, data)
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("valid message rejected: %v for %q", err, data)
		}
	})
}
