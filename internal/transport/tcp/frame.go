package tcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/raftkv/raftkv/internal/wire"
)

// Frame kinds: the first byte of every frame. The kind comes before the
// length so a reader can apply the kind's own size limit before it
// allocates anything (a hello may not be 16 MiB).
const (
	kindHello   byte = 1 // dialer -> acceptor, first frame on a connection
	kindAck     byte = 2 // acceptor -> dialer, answers the hello
	kindMessage byte = 3 // one raft.Message, encoded by wire.AppendMessage
	kindChunk   byte = 4 // one piece of a large encoded MsgSnap
)

// protocolVersion is announced in the hello; the acceptor rejects others.
// Bump it on any change to the frame layout.
const protocolVersion = 1

// helloMagic opens every hello so that a stray client (an HTTP probe, a
// port scanner) is told apart from a peer of another version.
const helloMagic = "rkvt"

// maxHandshakeFrame bounds hello and ack bodies; both are tiny, and an
// unauthenticated dialer must not make us allocate more.
const maxHandshakeFrame = 1024

// maxReasonLen bounds the rejection reason carried in an ack.
const maxReasonLen = 512

// Read-side allocation: bodies up to slabMax bytes are carved out of a
// shared slab, so a stream of heartbeats costs one allocation per slab
// rather than one per message. A message retains its slab until dropped.
const (
	slabSize = 64 << 10
	slabMax  = 4 << 10
)

var (
	// errFrameTooLarge: a frame's declared length exceeds its kind's limit.
	errFrameTooLarge = errors.New("frame too large")
	// errProtocol: the peer sent something this protocol never produces.
	errProtocol = errors.New("protocol violation")
	// errVersion: the hello names a protocol version we do not speak.
	errVersion = errors.New("unsupported protocol version")
	// errRejected: the other side refused the handshake.
	errRejected = errors.New("handshake rejected")
)

// appendFrameHeader appends the kind and body length of a frame to b.
func appendFrameHeader(b []byte, kind byte, bodyLen int) []byte {
	b = append(b, kind)
	return binary.AppendUvarint(b, uint64(bodyLen))
}

// appendFrame appends a whole frame with the given body to b.
func appendFrame(b []byte, kind byte, body []byte) []byte {
	return append(appendFrameHeader(b, kind, len(body)), body...)
}

// frameLimit returns the largest body a frame of kind may have, or -1 for a
// kind this protocol does not know.
func frameLimit(kind byte, maxBody int) int {
	switch kind {
	case kindHello, kindAck:
		return maxHandshakeFrame
	case kindMessage, kindChunk:
		return maxBody
	}
	return -1
}

// frameReader splits a byte stream into frames, checking each declared
// length against its kind's limit before allocating.
type frameReader struct {
	br      *bufio.Reader
	maxBody int    // limit for message and chunk bodies
	slab    []byte // unused tail of the current slab
	chunk   []byte // reused body buffer for chunk frames
}

// next reads one frame. The returned body of a message or handshake frame
// is owned by the caller (decoded messages alias it); the body of a chunk
// frame is only valid until the next call. wireLen is the frame's size on
// the wire. io.EOF means the stream ended cleanly between frames.
func (r *frameReader) next() (kind byte, body []byte, wireLen int, err error) {
	kind, err = r.br.ReadByte()
	if err != nil {
		return 0, nil, 0, err
	}
	limit := frameLimit(kind, r.maxBody)
	if limit < 0 {
		return kind, nil, 1, fmt.Errorf("%w: unknown frame kind %d", errProtocol, kind)
	}
	size, err := binary.ReadUvarint(r.br)
	if err != nil {
		return kind, nil, 1, fmt.Errorf("read frame length: %w", noEOF(err))
	}
	if size > uint64(limit) {
		return kind, nil, 1, fmt.Errorf("%w: %s frame declares %d bytes, limit is %d",
			errFrameTooLarge, kindName(kind), size, limit)
	}
	body = r.alloc(kind, int(size))
	if _, err := io.ReadFull(r.br, body); err != nil {
		return kind, nil, 1, fmt.Errorf("read %d byte %s frame: %w", size, kindName(kind), noEOF(err))
	}
	return kind, body, 1 + uvarintLen(size) + int(size), nil
}

// alloc returns a buffer for an n-byte body of the given kind.
func (r *frameReader) alloc(kind byte, n int) []byte {
	switch {
	case kind == kindChunk:
		if cap(r.chunk) < n {
			r.chunk = make([]byte, n)
		}
		return r.chunk[:n]
	case n <= slabMax:
		if len(r.slab) < n {
			r.slab = make([]byte, slabSize)
		}
		b := r.slab[:n:n]
		r.slab = r.slab[n:]
		return b
	}
	return make([]byte, n)
}

// noEOF turns an EOF inside a frame into io.ErrUnexpectedEOF: only an EOF
// between frames is a clean end of stream.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func kindName(kind byte) string {
	switch kind {
	case kindHello:
		return "hello"
	case kindAck:
		return "ack"
	case kindMessage:
		return "message"
	case kindChunk:
		return "chunk"
	}
	return fmt.Sprintf("kind-%d", kind)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// hello is the dialer's first frame: who it is, which cluster it belongs
// to, and which node it meant to reach (so a wrong address map is caught).
type hello struct {
	Version   uint64
	ClusterID string
	From, To  uint64
}

// appendHello appends h's body encoding to b: magic, then the version (so
// that any later layout change can still be rejected cleanly), then the rest.
func appendHello(b []byte, h hello) []byte {
	b = append(b, helloMagic...)
	b = binary.AppendUvarint(b, h.Version)
	b = binary.AppendUvarint(b, uint64(len(h.ClusterID)))
	b = append(b, h.ClusterID...)
	b = binary.AppendUvarint(b, h.From)
	return binary.AppendUvarint(b, h.To)
}

// decodeHello decodes a hello body. On errVersion only Version is set.
func decodeHello(body []byte) (hello, error) {
	var h hello
	if len(body) < len(helloMagic) || string(body[:len(helloMagic)]) != helloMagic {
		return h, fmt.Errorf("%w: hello lacks the raftkv magic (not a raftkv peer?)", errProtocol)
	}
	d := wire.NewDecoder(body[len(helloMagic):])
	h.Version = d.Uvarint()
	if d.Err() == nil && h.Version != protocolVersion {
		return h, fmt.Errorf("%w: %d", errVersion, h.Version)
	}
	cluster := d.Bytes()
	if len(cluster) > maxClusterIDLen {
		return h, fmt.Errorf("%w: cluster id of %d bytes", errProtocol, len(cluster))
	}
	h.ClusterID = string(cluster)
	h.From = d.Uvarint()
	h.To = d.Uvarint()
	return h, finish(d, "hello")
}

// ack answers a hello. A rejection carries a reason for the dialer's log.
type ack struct {
	OK      bool
	Version uint64
	Reason  string
}

// appendAck appends a's body encoding to b, truncating a long reason.
func appendAck(b []byte, a ack) []byte {
	status := byte(1)
	if a.OK {
		status = 0
	}
	b = append(b, status)
	b = binary.AppendUvarint(b, a.Version)
	reason := a.Reason
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	b = binary.AppendUvarint(b, uint64(len(reason)))
	return append(b, reason...)
}

// decodeAck decodes an ack body.
func decodeAck(body []byte) (ack, error) {
	var a ack
	d := wire.NewDecoder(body)
	status := d.Byte()
	if d.Err() == nil && status > 1 {
		return a, fmt.Errorf("%w: ack status %d", errProtocol, status)
	}
	a.OK = status == 0
	a.Version = d.Uvarint()
	a.Reason = string(d.Bytes())
	return a, finish(d, "ack")
}

// chunk is one piece of an encoded MsgSnap. All pieces of one snapshot
// carry its ID and Total (encoded size); Offset says where Data goes.
// Pieces are sent in order, and never interleaved with another snapshot's
// on the same connection (ordinary messages may come in between).
type chunk struct {
	ID, Total, Offset uint64
	Data              []byte
}

// appendChunkHeader appends the frame header and chunk header of a chunk
// whose data (dataLen bytes) follows.
func appendChunkHeader(b []byte, id, total, offset uint64, dataLen int) []byte {
	bodyLen := uvarintLen(id) + uvarintLen(total) + uvarintLen(offset) + dataLen
	b = appendFrameHeader(b, kindChunk, bodyLen)
	b = binary.AppendUvarint(b, id)
	b = binary.AppendUvarint(b, total)
	return binary.AppendUvarint(b, offset)
}

// decodeChunk decodes a chunk body; Data aliases body.
func decodeChunk(body []byte) (chunk, error) {
	var c chunk
	d := wire.NewDecoder(body)
	c.ID = d.Uvarint()
	c.Total = d.Uvarint()
	c.Offset = d.Uvarint()
	if err := d.Err(); err != nil {
		return c, fmt.Errorf("decode chunk header: %w", err)
	}
	c.Data = body[len(body)-d.Remaining():]
	return c, nil
}

// finish reports a decoder's error or trailing bytes.
func finish(d *wire.Decoder, what string) error {
	if err := d.Err(); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	if d.Remaining() != 0 {
		return fmt.Errorf("decode %s: %w: %d trailing bytes", what, errProtocol, d.Remaining())
	}
	return nil
}
