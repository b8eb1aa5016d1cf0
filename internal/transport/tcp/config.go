package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// Defaults for the zero fields of Config. They are sized for a LAN cluster
// whose Raft loop ticks every few milliseconds and whose election timeout is
// around a second: a peer comes back within BackoffMax of its restart, and a
// queue holds several seconds of heartbeats and appends.
const (
	DefaultQueueMessages       = 4096
	DefaultQueueBytes          = 64 << 20
	DefaultMaxPendingSnapshots = 2
	DefaultMaxFrameSize        = 16 << 20
	DefaultSnapshotChunkSize   = 1 << 20
	DefaultMaxSnapshotSize     = 1 << 30
	DefaultDialTimeout         = 2 * time.Second
	DefaultHandshakeTimeout    = 5 * time.Second
	DefaultWriteTimeout        = 10 * time.Second
	DefaultBackoffMin          = 50 * time.Millisecond
	DefaultBackoffMax          = 2 * time.Second
	DefaultBufferSize          = 64 << 10
)

// maxClusterIDLen bounds the cluster id so the hello frame stays small.
const maxClusterIDLen = 255

// chunkOverhead is the most a chunk frame's body adds to its data (three
// varints), so that a chunk of SnapshotChunkSize bytes fits in MaxFrameSize.
const chunkOverhead = 3 * binary.MaxVarintLen64

// Config is everything a Transport needs; New copies it, so the caller may
// reuse it. Zero numeric fields take the Default* values above.
type Config struct {
	// ID is this node's id. It is announced in the handshake, and every
	// message passed to Send must carry it as From: the receiver checks both.
	ID uint64
	// ClusterID names the cluster. Both ends of a connection must agree, so a
	// node started with another cluster's peer list cannot join by mistake.
	ClusterID string
	// ListenAddr is where Start listens for peers ("127.0.0.1:0" picks a
	// port; see Addr). Ignored when Listener is set.
	ListenAddr string
	// Listener, if set, is used instead of listening on ListenAddr, so tests
	// and the server can bind first and learn the address. The transport owns
	// it once New succeeds, and closes it on Close.
	Listener net.Listener
	// Peers maps every other member's id to its "host:port". Nonzero ids,
	// never ID itself. Later changes go through AddPeer and RemovePeer.
	Peers map[uint64]string
	// Handler receives every inbound message, on the reader goroutine of the
	// connection it came on. It must return quickly (hand the message to a
	// buffered channel, dropping when full): while it runs, that peer's
	// connection is not read. It owns the message it is given. Required.
	Handler func(m raft.Message)
	// OnUnreachable, if set, is told that a message to peer id could not be
	// delivered (dial failed, connection broke, or id is not a known peer), so
	// the Raft core can be told (ReportUnreachable) and stop pipelining to it.
	// Called from one transport goroutine, never from Send; must not block.
	OnUnreachable func(id uint64)
	// OnSnapshotStatus, if set, is told whether a MsgSnap to peer id was
	// written out in full (ok) or dropped (!ok), so the core can leave its
	// snapshot-pending state (ReportSnapshot). Same goroutine and rule as
	// OnUnreachable.
	OnSnapshotStatus func(id uint64, ok bool)
	// Logger receives the transport's logs, tagged component=tcp; it
	// should already name the node (the server's does). nil discards them.
	Logger *slog.Logger
	// Seed seeds the reconnection jitter (mixed with the node and peer ids so
	// that nodes given the same seed still spread out). No global random
	// source is used, so a test can replay the same delays.
	Seed uint64

	// QueueMessages and QueueBytes bound each peer's outbound queue of
	// ordinary messages; beyond them Send drops.
	QueueMessages int
	QueueBytes    int
	// MaxPendingSnapshots bounds each peer's queue of chunked snapshots,
	// which is kept apart so one large snapshot does not crowd out
	// heartbeats.
	MaxPendingSnapshots int
	// MaxFrameSize bounds one frame's body, inbound and outbound. An ordinary
	// message larger than this is refused by Send; an inbound frame larger
	// than this closes the connection.
	MaxFrameSize int
	// SnapshotChunkSize is the size of the pieces a MsgSnap larger than it is
	// cut into. It must leave room for a chunk header within MaxFrameSize.
	SnapshotChunkSize int
	// MaxSnapshotSize bounds an encoded MsgSnap, outbound and when
	// reassembled inbound.
	MaxSnapshotSize int
	// DialTimeout bounds one connection attempt.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the hello exchange, on both sides.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write to a socket, so a peer that stops
	// reading is found out and reported unreachable.
	WriteTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between failed connection
	// attempts; it doubles per failure, with jitter, and resets once a
	// connection has stayed up for BackoffMax (so a peer that accepts and
	// at once drops us is not redialled in a hot loop).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// BufferSize is the size of each connection's read or write buffer.
	BufferSize int
}

// withDefaults returns a copy of c with zero fields defaulted and the peer
// map copied.
func (c Config) withDefaults() Config {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&c.QueueMessages, DefaultQueueMessages)
	setInt(&c.QueueBytes, DefaultQueueBytes)
	setInt(&c.MaxPendingSnapshots, DefaultMaxPendingSnapshots)
	setInt(&c.MaxFrameSize, DefaultMaxFrameSize)
	setInt(&c.SnapshotChunkSize, min(DefaultSnapshotChunkSize, c.MaxFrameSize-chunkOverhead))
	setInt(&c.MaxSnapshotSize, DefaultMaxSnapshotSize)
	setInt(&c.BufferSize, DefaultBufferSize)
	setDur(&c.DialTimeout, DefaultDialTimeout)
	setDur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDur(&c.WriteTimeout, DefaultWriteTimeout)
	setDur(&c.BackoffMin, DefaultBackoffMin)
	setDur(&c.BackoffMax, max(DefaultBackoffMax, c.BackoffMin))
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	peers := make(map[uint64]string, len(c.Peers))
	for id, addr := range c.Peers {
		peers[id] = addr
	}
	c.Peers = peers
	return c
}

// validate reports the first thing wrong with a defaulted config.
func (c *Config) validate() error {
	switch {
	case c.ID == raft.None:
		return errors.New("node id must be nonzero")
	case len(c.ClusterID) > maxClusterIDLen:
		return fmt.Errorf("cluster id is %d bytes, at most %d allowed", len(c.ClusterID), maxClusterIDLen)
	case c.Handler == nil:
		return errors.New("a Handler is required")
	case c.Listener == nil && c.ListenAddr == "":
		return errors.New("ListenAddr or Listener is required")
	case c.QueueMessages < 1 || c.QueueBytes < 1 || c.MaxPendingSnapshots < 1:
		return errors.New("queue limits must be positive")
	case c.MaxFrameSize < 1024:
		return fmt.Errorf("MaxFrameSize %d is below the 1 KiB minimum", c.MaxFrameSize)
	case c.SnapshotChunkSize < 1 || c.SnapshotChunkSize > c.MaxFrameSize-chunkOverhead:
		return fmt.Errorf("SnapshotChunkSize %d must be in [1, MaxFrameSize-%d]", c.SnapshotChunkSize, chunkOverhead)
	case c.MaxSnapshotSize < 1:
		return errors.New("MaxSnapshotSize must be positive")
	case c.BufferSize < 4096:
		return fmt.Errorf("BufferSize %d is below the 4 KiB minimum", c.BufferSize)
	case c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.WriteTimeout < 0:
		return errors.New("timeouts must be positive")
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("backoff bounds [%v, %v] are not a positive range", c.BackoffMin, c.BackoffMax)
	}
	for id, addr := range c.Peers {
		if err := checkPeer(c.ID, id, addr); err != nil {
			return err
		}
	}
	return nil
}

// checkPeer validates one peer entry.
func checkPeer(self, id uint64, addr string) error {
	switch {
	case id == raft.None:
		return errors.New("peer id 0 is reserved for 'none'")
	case id == self:
		return fmt.Errorf("peer %d is this node itself", id)
	case addr == "":
		return fmt.Errorf("peer %d has no address", id)
	}
	return nil
}
