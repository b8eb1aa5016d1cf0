package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// sampleStream is one frame of each kind, as a peer would write them.
func sampleStream() (stream []byte, kinds []byte) {
	add := func(kind byte, body []byte) {
		stream = appendFrame(stream, kind, body)
		kinds = append(kinds, kind)
	}
	add(kindHello, appendHello(nil, hello{Version: protocolVersion, ClusterID: "prod", From: 1, To: 2}))
	add(kindAck, appendAck(nil, ack{OK: false, Version: protocolVersion, Reason: "no"}))
	hb := raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 3, Seq: 4}
	add(kindMessage, wire.AppendMessage(nil, &hb))
	snap := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 9, Term: 2, Members: []uint64{1, 2}}, Data: []byte("0123456789")}}
	enc := wire.AppendMessage(nil, &snap)
	for off := 0; off < len(enc); off += 7 {
		n := min(7, len(enc)-off)
		stream = append(appendChunkHeader(stream, 5, uint64(len(enc)), uint64(off), n), enc[off:off+n]...)
		kinds = append(kinds, kindChunk)
	}
	return stream, kinds
}

func TestFramesRoundTrip(t *testing.T) {
	stream, kinds := sampleStream()
	fr := frameReader{br: bufio.NewReader(bytes.NewReader(stream)), maxBody: 1 << 10}
	rcv := receiver{peer: 1, self: 2, maxSnapshot: 1 << 10}
	total := 0
	var got []raft.Message
	for i, want := range kinds {
		kind, body, n, err := fr.next()
		if err != nil || kind != want {
			t.Fatalf("frame %d: kind %d, %v; want kind %d", i, kind, err, want)
		}
		total += n
		switch kind {
		case kindHello:
			h, err := decodeHello(body)
			if err != nil || h != (hello{Version: protocolVersion, ClusterID: "prod", From: 1, To: 2}) {
				t.Fatalf("hello: %+v, %v", h, err)
			}
		case kindAck:
			a, err := decodeAck(body)
			if err != nil || a != (ack{Version: protocolVersion, Reason: "no"}) {
				t.Fatalf("ack: %+v, %v", a, err)
			}
		default:
			m, ok, err := rcv.handle(kind, body)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if ok {
				if err := rcv.admit(&m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
		}
	}
	if _, _, _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
	if total != len(stream) {
		t.Errorf("frame sizes add up to %d, stream is %d bytes", total, len(stream))
	}
	if len(got) != 2 || got[0].Type != raft.MsgHeartbeat || string(got[1].Snapshot.Data) != "0123456789" {
		t.Errorf("decoded %+v", got)
	}
}

// Cut anywhere, a stream yields its whole frames and then a clean io.EOF
// (cut on a boundary) or io.ErrUnexpectedEOF (cut inside a frame).
func TestFrameReaderTruncation(t *testing.T) {
	stream, _ := sampleStream()
	boundaries := map[int]bool{0: true}
	fr := frameReader{br: bufio.NewReader(bytes.NewReader(stream)), maxBody: 1 << 10}
	for off := 0; ; {
		_, _, n, err := fr.next()
		if err != nil {
			break
		}
		off += n
		boundaries[off] = true
	}
	for cut := 0; cut < len(stream); cut++ {
		fr := frameReader{br: bufio.NewReader(bytes.NewReader(stream[:cut])), maxBody: 1 << 10}
		var err error
		for err == nil {
			_, _, _, err = fr.next()
		}
		want := io.ErrUnexpectedEOF
		if boundaries[cut] {
			want = io.EOF
		}
		if !errors.Is(err, want) {
			t.Fatalf("cut at %d: %v, want %v", cut, err, want)
		}
	}
}

func TestFrameLimitsApplyBeforeAllocating(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		want  error
	}{
		{appendFrameHeader(nil, kindHello, maxHandshakeFrame+1), errFrameTooLarge},
		{appendFrameHeader(nil, kindMessage, 1<<62), errFrameTooLarge},
		{appendFrameHeader(nil, kindChunk, 1<<10+1), errFrameTooLarge},
		{[]byte{0, 0}, errProtocol},
		{[]byte{kindMessage, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, nil},
	} {
		fr := frameReader{br: bufio.NewReader(bytes.NewReader(tc.frame)), maxBody: 1 << 10}
		_, _, _, err := fr.next()
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("% x: %v, want %v", tc.frame, err, tc.want)
		}
	}
}

func TestReceiverReassemblesBackToBackSnapshots(t *testing.T) {
	rcv := receiver{peer: 1, self: 2, maxSnapshot: 1 << 20}
	for id := uint64(1); id <= 3; id++ {
		want := raft.Message{Type: raft.MsgSnap, From: 1, To: 2, Term: id, Snapshot: &raft.Snapshot{
			Meta: raft.SnapshotMeta{Index: 100 * id, Term: id}, Data: bytes.Repeat([]byte{byte(id)}, 5000*int(id))}}
		enc := wire.AppendMessage(nil, &want)
		step := 999 * int(id)
		for off := 0; off < len(enc); off += step {
			n := min(step, len(enc)-off)
			frame := append(appendChunkHeader(nil, id, uint64(len(enc)), uint64(off), n), enc[off:off+n]...)
			fr := frameReader{br: bufio.NewReader(bytes.NewReader(frame)), maxBody: 1 << 20}
			kind, b, _, err := fr.next()
			if err != nil {
				t.Fatal(err)
			}
			m, ok, err := rcv.handle(kind, b)
			if err != nil {
				t.Fatalf("snapshot %d at %d: %v", id, off, err)
			}
			if ok != (off+n == len(enc)) {
				t.Fatalf("snapshot %d at %d: complete=%v", id, off, ok)
			}
			if ok && !reflect.DeepEqual(m, want) {
				t.Fatalf("snapshot %d changed", id)
			}
		}
	}
}
