package tcp

import "sync/atomic"

// PeerStats are one peer's counters since it was added (AddPeer with a new
// address starts them afresh). Counters only grow, so the server can export
// them as Prometheus counters; the Queued* and Connected fields are gauges.
type PeerStats struct {
	ID        uint64
	Addr      string
	Connected bool // an outbound connection is established

	QueuedMessages  int
	QueuedBytes     int
	QueuedSnapshots int

	// SentMessages counts whole-message frames handed to the socket buffer
	// (a connection that breaks may lose the last of them); SentChunks and
	// SentSnapshots count the chunked snapshots' pieces and completions.
	SentMessages  uint64
	SentChunks    uint64
	SentSnapshots uint64
	// SentBytes counts bytes accepted by the socket, Writes the write calls
	// that carried them: SentMessages/Writes is the batching factor.
	SentBytes uint64
	Writes    uint64

	// Outbound drops, by cause.
	DroppedQueueFull   uint64 // the queue was at its bound
	DroppedTooLarge    uint64 // over MaxFrameSize (or MaxSnapshotSize for snapshots)
	DroppedUnreachable uint64 // queued while the peer could not be reached

	ReceivedMessages uint64
	ReceivedBytes    uint64 // frame bytes, handshake excluded
	ReceivedDropped  uint64 // inbound messages whose From or To was wrong

	Dials        uint64
	DialFailures uint64 // dial or handshake failed
}

// Dropped is the total of outbound drops for the peer.
func (s PeerStats) Dropped() uint64 {
	return s.DroppedQueueFull + s.DroppedTooLarge + s.DroppedUnreachable
}

// Stats is a snapshot of the transport's counters, for metrics and tests.
type Stats struct {
	// Peers holds one entry per current peer, in ascending id order.
	Peers []PeerStats
	// DroppedUnknownPeer counts messages passed to Send for an id that is
	// not a peer (each is also reported through OnUnreachable).
	DroppedUnknownPeer uint64
	// DroppedInvalid counts messages passed to Send whose From is not this
	// node: the receiver would drop them anyway.
	DroppedInvalid uint64
	// DroppedClosed counts messages passed to Send after Close.
	DroppedClosed uint64
	// RejectedHandshakes counts inbound connections refused at the hello
	// (wrong cluster, unknown node, wrong version, too many pending).
	RejectedHandshakes uint64
	// ProtocolErrors counts inbound connections closed for a bad frame.
	ProtocolErrors uint64
	// DroppedReports counts callbacks skipped because too many were pending.
	DroppedReports uint64
}

// Peer returns the stats of peer id, and whether it is a peer.
func (s Stats) Peer(id uint64) (PeerStats, bool) {
	for _, p := range s.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return PeerStats{}, false
}

// peerCounters are the live counters behind PeerStats.
type peerCounters struct {
	sentMessages, sentChunks, sentSnapshots, sentBytes, writes atomic.Uint64
	droppedQueueFull, droppedTooLarge, droppedUnreachable      atomic.Uint64
	receivedMessages, receivedBytes, receivedDropped           atomic.Uint64
	dials, dialFailures                                        atomic.Uint64
}
