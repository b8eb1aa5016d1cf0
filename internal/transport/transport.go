// Package transport declares what every peer transport (tcp, udpjson, mem)
// offers the node driver, so the driver can be written once and run over any
// of them. The driver still declares the narrower interface it consumes; this
// one only fixes the common contract.
package transport

import "github.com/raftkv/raftkv/internal/raft"

// Transport carries Raft messages between nodes.
type Transport interface {
	// Send queues msgs for delivery and returns at once: it never blocks the
	// Raft loop that calls it. A message that cannot be queued (queue full,
	// unknown peer, too large) is dropped and counted, because Raft
	// retransmits anything that matters. The caller must not modify the
	// messages' slices after Send (they may be read later by the transport).
	Send(msgs []raft.Message)
	// Close stops every goroutine the transport started, closes its
	// connections and returns only once they are all gone.
	Close() error
}
