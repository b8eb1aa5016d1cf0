package udpjson

import (
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// BenchmarkCodec measures the typical datagrams: a MsgApp carrying one put
// (the hot path of every write) and a heartbeat, through our codec and
// through the encoding/json reference, encode, decode and both.
//
//	go test -run '^$' -bench Codec -benchmem ./internal/transport/udpjson/
func BenchmarkCodec(b *testing.B) {
	for _, tc := range []struct {
		name string
		m    raft.Message
	}{
		{"app1put", typicalApp(b)},
		{"heartbeat", typicalHeartbeat()},
	} {
		m := tc.m
		enc, err := AppendRaft(nil, &m, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/encode", func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				buf, _ = AppendRaft(buf[:0], &m, 0)
			}
		})
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/roundtrip", func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendRaft(buf[:0], &m, 0)
				if _, err := Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/encodingjson-encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := refMarshalRaft(&m, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/encodingjson-decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := refDecode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/encodingjson-roundtrip", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, _ := refMarshalRaft(&m, 0)
				if _, err := refDecode(out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	get := []byte(`{"src":"0015","dst":"0000","leader":"0000","type":"get","MID":"K3J9Q0ZP1M2N4B5V","key":"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}`)
	b.Run("get/decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(get); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("okreply/encode", func(b *testing.B) {
		d := Datagram{Type: TypeOK, Src: 0, Dst: 0x15, Leader: 0, MID: "K3J9Q0ZP1M2N4B5V",
			Value: "0123456789abcdef0123456789abcdef", HasValue: true}
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendDatagram(buf[:0], &d)
		}
	})
}
