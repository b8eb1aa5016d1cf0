package tcp

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// FuzzReadFrame feeds arbitrary bytes through exactly what an inbound
// connection runs: the frame reader, the handshake decoders, the message
// decoder and snapshot reassembly. None may panic or allocate past its
// limit, and whatever decodes must survive a re-encoding unchanged.
//
//	go test -run '^$' -fuzz FuzzReadFrame -fuzztime 60s ./internal/transport/tcp/
func FuzzReadFrame(f *testing.F) {
	stream, _ := sampleStream()
	f.Add(stream)
	f.Add([]byte{})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(appendFrameHeader(nil, kindMessage, 1<<40))
	f.Add(append(appendChunkHeader(nil, 1, 1<<40, 0, 1), 'x'))
	app := raft.Message{Type: raft.MsgApp, From: 1, To: 2, Term: 3, Index: 4, LogTerm: 3, Commit: 2,
		Entries: []raft.Entry{{Term: 3, Index: 5, Data: []byte("put k v")}}, Chain: []uint64{2, 3}, Lead: 1}
	f.Add(appendFrame(nil, kindMessage, wire.AppendMessage(nil, &app)))

	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := &frameReader{br: bufio.NewReaderSize(bytes.NewReader(data), 16), maxBody: limit}
		rcv := &receiver{peer: 1, self: 2, maxSnapshot: limit}
		for {
			kind, body, n, err := fr.next()
			if err != nil {
				return
			}
			if len(body) > limit || n != 1+uvarintLen(uint64(len(body)))+len(body) {
				t.Fatalf("kind %d: body %d bytes, wire length %d", kind, len(body), n)
			}
			switch kind {
			case kindHello:
				if h, err := decodeHello(body); err == nil {
					if h2, err := decodeHello(appendHello(nil, h)); err != nil || h2 != h {
						t.Fatalf("hello %+v re-decodes as %+v, %v", h, h2, err)
					}
				}
			case kindAck:
				if a, err := decodeAck(body); err == nil && len(a.Reason) <= maxReasonLen {
					if a2, err := decodeAck(appendAck(nil, a)); err != nil || a2 != a {
						t.Fatalf("ack %+v re-decodes as %+v, %v", a, a2, err)
					}
				}
			default:
				m, ok, err := rcv.handle(kind, body)
				if err != nil {
					return // the connection would be closed here
				}
				if len(rcv.asm) > rcv.asmTotal || rcv.asmTotal > limit {
					t.Fatalf("reassembly holds %d of %d bytes, limit %d", len(rcv.asm), rcv.asmTotal, limit)
				}
				if !ok {
					continue
				}
				_ = rcv.admit(&m)
				m2, err := wire.DecodeMessage(wire.AppendMessage(nil, &m))
				if err != nil || !reflect.DeepEqual(m, m2) {
					t.Fatalf("message %+v re-decodes as %+v, %v", m, m2, err)
				}
			}
		}
	})
}
