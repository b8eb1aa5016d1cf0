// Package tcp is raftkv's production peer transport: it carries raft.Message
// values between nodes over persistent TCP connections, in a compact binary
// framing around the wire package's encoding. DESIGN.md explains the choices.
//
// # Shape
//
// Each peer has a bounded outbound queue and one writer goroutine that owns
// a single outbound connection, dialled lazily when the first message is
// queued and kept. The writer drains the whole queue into a buffered writer
// and flushes when the queue is momentarily empty, so a burst of messages
// to one peer costs a few large writes. Each accepted connection has one
// reader goroutine that decodes frames and calls the handler. Every
// goroutine belongs to the Transport, is stopped by Close (or RemovePeer)
// and is counted in one WaitGroup.
//
// # Contracts
//
// Send never blocks: a message that cannot be queued is dropped and counted
// (Stats), because Raft retransmits. Send does not copy messages: their
// slices (Entries, Snapshot.Data, Chain) must not be modified afterwards.
//
// Handler is called on the reader goroutine of the connection the message
// came on: serially and in send order for one peer, concurrently across
// peers. While it runs that connection is not read, so it must return
// quickly, typically by offering the message to a buffered channel and
// dropping it when full. It owns the message; its slices alias a buffer
// the transport never reuses. Only messages whose From is the node proven
// by the handshake and whose To is this node reach it.
//
// OnUnreachable and OnSnapshotStatus are called from one goroutine of the
// transport, never from Send, in the order the events happened; they must
// not block either (Close waits for a callback in progress). Unreachable
// reports for one peer are coalesced while pending. Neither the handler nor
// a callback may call Close, which waits for them to return.
//
// Ordering: ordinary messages to one peer arrive in Send order, or not at
// all (a broken connection loses its queue). A snapshot larger than
// SnapshotChunkSize is cut into chunks interleaved with the ordinary
// messages queued after it, so heartbeats keep flowing while it travels;
// it is delivered when its last chunk arrives, possibly after messages sent
// later. Raft tolerates both loss and reordering.
//
// Lifecycle: New checks the config, Start listens and starts the
// goroutines, Close stops everything and returns once all goroutines are
// gone. AddPeer and RemovePeer change the peer set at any time.
package tcp
