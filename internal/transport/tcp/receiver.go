package tcp

import (
	"fmt"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// asmInitial caps the first allocation of a snapshot's reassembly buffer,
// so a chunk header claiming a huge total costs nothing until the data
// actually arrives.
const asmInitial = 4 << 20

// receiver turns the frames of one authenticated inbound connection into
// whole messages. It is the part of the read path with no I/O, so the fuzz
// target drives exactly what a connection runs.
type receiver struct {
	peer        uint64 // node id proven by the handshake
	self        uint64
	maxSnapshot int

	// Reassembly of one chunked snapshot.
	// Invariant: active implies len(asm) < asmTotal <= maxSnapshot.
	active   bool
	asmID    uint64
	asmTotal int
	asm      []byte
}

// handle consumes one post-handshake frame. ok reports that m is a complete
// message (not yet checked by admit). An error means the stream can no
// longer be trusted and the connection must be closed.
func (r *receiver) handle(kind byte, body []byte) (m raft.Message, ok bool, err error) {
	switch kind {
	case kindMessage:
		m, err = wire.DecodeMessage(body)
		if err != nil {
			return m, false, fmt.Errorf("%w: %w", errProtocol, err)
		}
		return m, true, nil
	case kindChunk:
		return r.chunk(body)
	}
	return m, false, fmt.Errorf("%w: unexpected %s frame after the handshake", errProtocol, kindName(kind))
}

// chunk adds one snapshot piece and returns the snapshot once complete.
func (r *receiver) chunk(body []byte) (m raft.Message, ok bool, err error) {
	c, err := decodeChunk(body)
	if err != nil {
		return m, false, fmt.Errorf("%w: %w", errProtocol, err)
	}
	if c.Offset == 0 {
		if r.active {
			return m, false, fmt.Errorf("%w: snapshot %d started while snapshot %d was at %d of %d bytes",
				errProtocol, c.ID, r.asmID, len(r.asm), r.asmTotal)
		}
		if c.Total == 0 || c.Total > uint64(r.maxSnapshot) {
			return m, false, fmt.Errorf("%w: snapshot %d declares %d bytes, limit is %d",
				errFrameTooLarge, c.ID, c.Total, r.maxSnapshot)
		}
		r.active, r.asmID, r.asmTotal = true, c.ID, int(c.Total)
		r.asm = make([]byte, 0, min(r.asmTotal, asmInitial))
	} else if !r.active || c.ID != r.asmID || c.Total != uint64(r.asmTotal) || c.Offset != uint64(len(r.asm)) {
		return m, false, fmt.Errorf("%w: chunk of snapshot %d at offset %d/%d out of sequence",
			errProtocol, c.ID, c.Offset, c.Total)
	}
	if len(c.Data) == 0 || len(c.Data) > r.asmTotal-len(r.asm) {
		return m, false, fmt.Errorf("%w: chunk of snapshot %d carries %d bytes, %d expected at most",
			errProtocol, c.ID, len(c.Data), r.asmTotal-len(r.asm))
	}
	if need := len(r.asm) + len(c.Data); need > cap(r.asm) {
		grown := make([]byte, len(r.asm), min(max(need, 2*cap(r.asm)), r.asmTotal))
		copy(grown, r.asm)
		r.asm = grown
	}
	r.asm = append(r.asm, c.Data...)
	if len(r.asm) < r.asmTotal {
		return m, false, nil
	}
	buf := r.asm
	r.active, r.asm = false, nil
	m, err = wire.DecodeMessage(buf)
	if err != nil {
		return m, false, fmt.Errorf("%w: reassembled snapshot %d: %w", errProtocol, c.ID, err)
	}
	if m.Type != raft.MsgSnap {
		return m, false, fmt.Errorf("%w: chunked message is a %v; only snapshots are chunked", errProtocol, m.Type)
	}
	return m, true, nil
}

// admit checks a decoded message against the connection it came on: the
// sender must be the node the handshake proved, the receiver this node.
// A non-nil error means drop the message (the stream itself is fine).
func (r *receiver) admit(m *raft.Message) error {
	if m.From != r.peer {
		return fmt.Errorf("%v claims From=%d on the connection from node %d", m.Type, m.From, r.peer)
	}
	if m.To != r.self {
		return fmt.Errorf("%v from node %d is addressed to node %d, this is node %d", m.Type, m.From, m.To, r.self)
	}
	return nil
}
