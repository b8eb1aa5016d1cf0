package udpjson

import (
	"errors"
	"hash/fnv"
	"strings"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Op: OpGet, Client: 0x15, MID: "ABCDEFGHIJKLMNOP", Key: strings.Repeat("K", 32)},
		{Op: OpPut, Client: 0x1C, MID: "ABCDEFGHIJKLMNOP", Key: strings.Repeat("K", 32), Value: strings.Repeat("f", 32)},
		{Op: OpGet, Client: 0},
		{Op: OpPut, Client: 0xFFFE},
		{Op: OpPut, Client: 1, MID: "3:x", Key: "12:", Value: "a\x00b\xffc:\"\\"},
		{Op: OpPut, Client: 1, MID: strings.Repeat("m", 1000), Key: "k", Value: strings.Repeat("v", 12345)},
	} {
		b, err := AppendCommand(nil, &c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		got, err := DecodeCommand(b)
		if err != nil || got != c {
			t.Errorf("round trip of %q: %+v, %v; want %+v", b, got, err, c)
		}
	}
	b, _ := AppendCommand(nil, &Command{Op: OpPut, Client: 0x1A, MID: "M01", Key: "k1", Value: "value"})
	if string(b) != "p001A3:M012:k15:value" {
		t.Errorf("encoding: %q", b)
	}
}

func TestCommandRejects(t *testing.T) {
	for _, in := range []string{
		"", "g", "g0015", "x00152:ab1:k", "g00G52:ab1:k", "gFFFF2:ab1:k",
		"g00152:ab", "g00152:ab1:", "g00152:ab1:kk", "g00152:ab01:k", "g0015:ab1:k", "g00152ab1:k",
		"g0015-1:ab1:k", "g00152:ab1:k0:", "p00152:ab1:k", "p00152:ab1:k2:v", "p00152:ab1:k1:vv",
		"g00159999999999:a", "g0015 2:ab1:k",
	} {
		if c, err := DecodeCommand([]byte(in)); err == nil {
			t.Errorf("%q decoded to %+v", in, c)
		}
	}
	for _, c := range []Command{
		{Op: 'x', Client: 1},
		{Op: OpGet, Client: Broadcast},
		{Op: OpGet, Client: 1, Value: "v"},
	} {
		if b, err := AppendCommand([]byte("keep"), &c); !errors.Is(err, ErrInvalid) || string(b) != "keep" {
			t.Errorf("%+v: %q, %v", c, b, err)
		}
	}
}

func TestMIDHash(t *testing.T) {
	// Reference values of 64-bit FNV-1a.
	if got := MIDHash(""); got != 0xcbf29ce484222325 {
		t.Errorf("MIDHash(\"\") = %#x", got)
	}
	if got := MIDHash("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("MIDHash(\"a\") = %#x", got)
	}
	for _, mid := range []string{"ABCDEFGHIJKLMNOP", "K3J9Q0ZP1M2N4B5V", "x", strings.Repeat("Z", 100)} {
		h := fnv.New64a()
		h.Write([]byte(mid))
		if got, want := MIDHash(mid), h.Sum64(); got != want {
			t.Errorf("MIDHash(%q) = %#x, hash/fnv says %#x", mid, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { MIDHash("ABCDEFGHIJKLMNOP") }); allocs != 0 {
		t.Errorf("MIDHash allocates %v times", allocs)
	}
}

func TestProposalAndReply(t *testing.T) {
	req, err := Decode([]byte(`{"src":"001A","dst":"0000","leader":"0000","type":"get","MID":"ABCDEFGHIJKLMNOP","key":"k"}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := CommandOf(&req)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Proposal()
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID != 0x1B || p.RequestID != MIDHash("ABCDEFGHIJKLMNOP") {
		t.Errorf("proposal ids %d/%d", p.ClientID, p.RequestID)
	}
	back, err := DecodeCommand(p.Data)
	if err != nil || back != c {
		t.Errorf("payload %q -> %+v, %v", p.Data, back, err)
	}
	// Any replica that applies the entry can answer: dst and MID come from
	// the payload. An ok to a get always carries the value, even "".
	r := back.Reply(TypeOK, 0, "")
	if r.Dst != 0x1A || r.MID != "ABCDEFGHIJKLMNOP" || !r.HasValue || r.Type != TypeOK {
		t.Errorf("reply %+v", r)
	}
	r.Src = 0
	b, _ := AppendDatagram(nil, &r)
	if string(b) != `{"src":"0000","dst":"001A","leader":"0000","type":"ok","MID":"ABCDEFGHIJKLMNOP","value":""}` {
		t.Errorf("reply datagram %s", b)
	}
	put := Command{Op: OpPut, Client: 0x1A, MID: "M", Key: "k", Value: "v"}
	if r := put.Reply(TypeOK, 0, "ignored"); r.HasValue || r.Value != "" {
		t.Errorf("ok to a put carries a value: %+v", r)
	}
	if r := c.Reply(TypeRedirect, 3, "ignored"); r.HasValue || r.Leader != 3 {
		t.Errorf("redirect %+v", r)
	}
	hello := Datagram{Type: TypeHello}
	if _, err := CommandOf(&hello); !errors.Is(err, ErrInvalid) {
		t.Errorf("CommandOf(hello): %v", err)
	}
}
