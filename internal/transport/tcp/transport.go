package tcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport"
	"github.com/raftkv/raftkv/internal/wire"
)

// ErrClosed is returned by Start and AddPeer once Close has been called.
var ErrClosed = errors.New("tcp transport: closed")

// maxPendingHandshakes bounds inbound connections that have not yet proven
// who they are, so a flood of idle connections cannot pile up goroutines.
const maxPendingHandshakes = 64

// Transport is the production peer transport: persistent TCP connections,
// one writer goroutine per peer, one reader goroutine per inbound
// connection. See the package doc for the contracts.
type Transport struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // done on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the transport starts
	rep    *reporter
	hsSem  chan struct{} // slots for connections in handshake

	unknownLog, invalidLog, rejectLog limiter

	droppedUnknown, droppedInvalid, droppedClosed atomic.Uint64
	rejectedHandshakes, protocolErrors            atomic.Uint64

	mu      sync.RWMutex
	running bool // Start has launched the goroutines
	started bool
	closed  bool
	ln      net.Listener
	peers   map[uint64]*peer
	inbound map[uint64]net.Conn // the latest authenticated connection from each peer
}

var _ transport.Transport = (*Transport)(nil)

// New checks cfg and builds a transport. It starts nothing: Send only
// queues until Start, which listens and launches the goroutines.
func New(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("tcp transport config: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "tcp"),
		ctx:     ctx,
		cancel:  cancel,
		rep:     newReporter(cfg.OnUnreachable, cfg.OnSnapshotStatus),
		hsSem:   make(chan struct{}, maxPendingHandshakes),
		ln:      cfg.Listener,
		peers:   make(map[uint64]*peer, len(cfg.Peers)),
		inbound: make(map[uint64]net.Conn),
	}
	for id, addr := range cfg.Peers {
		t.peers[id] = newPeer(t, id, addr)
	}
	return t, nil
}

// Start listens for peers (unless a Listener was given) and starts the
// accept loop, the callback goroutine and one writer per peer. After a
// failed Start, call Close.
func (t *Transport) Start() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.started {
		t.mu.Unlock()
		return errors.New("tcp transport: already started")
	}
	t.started = true
	ln := t.ln
	t.mu.Unlock()

	if ln == nil {
		lc := net.ListenConfig{KeepAlive: keepAlive}
		var err error
		if ln, err = lc.Listen(t.ctx, "tcp", t.cfg.ListenAddr); err != nil {
			return fmt.Errorf("tcp transport: listen on %s: %w", t.cfg.ListenAddr, err)
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		ln.Close()
		return ErrClosed
	}
	t.ln, t.running = ln, true
	t.wg.Add(2 + len(t.peers))
	go t.acceptLoop(ln)
	go t.rep.run(t.ctx, t.wg.Done)
	for _, p := range t.peers {
		go p.run()
	}
	t.log.Info("peer transport listening", "addr", ln.Addr().String(), "peers", len(t.peers))
	return nil
}

// Addr returns the address the transport listens on (useful with port 0),
// or nil before Start.
func (t *Transport) Addr() net.Addr {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.ln == nil || !t.running {
		return nil
	}
	return t.ln.Addr()
}

// Send queues each message for its destination and returns without
// blocking. Messages are dropped (and counted in Stats) when the peer's
// queue is full, the destination is not a peer (also reported through
// OnUnreachable), From is not this node, the message exceeds its size
// limit, or the transport is closed; a dropped MsgSnap is also reported
// through OnSnapshotStatus. The transport keeps referring to the messages'
// slices until they are written: the caller must not modify them.
func (t *Transport) Send(msgs []raft.Message) {
	for i := range msgs {
		m := &msgs[i]
		size := wire.MessageSize(m)
		t.mu.RLock()
		p, closed := t.peers[m.To], t.closed
		t.mu.RUnlock()
		switch {
		case closed:
			t.droppedClosed.Add(1)
		case m.From != t.cfg.ID:
			t.droppedInvalid.Add(1)
			if ok, n := t.invalidLog.allow(logEvery); ok {
				t.log.Error("dropped outbound message not from this node", "type", m.Type, "from", m.From, "to", m.To, "suppressed", n)
			}
		case p == nil:
			t.droppedUnknown.Add(1)
			if m.Type == raft.MsgSnap {
				t.rep.snapshot(m.To, false)
			}
			t.rep.unreachable(m.To)
			if ok, n := t.unknownLog.allow(logEvery); ok {
				t.log.Warn("dropped message to unknown peer", "type", m.Type, "to", m.To, "suppressed", n)
			}
		default:
			p.send(m, size)
		}
	}
}

// AddPeer adds peer id at addr, or moves it to a new address (its queue and
// counters start afresh). Adding a peer with its current address is a
// no-op. Its connection is opened when the first message is sent.
func (t *Transport) AddPeer(id uint64, addr string) error {
	if err := checkPeer(t.cfg.ID, id, addr); err != nil {
		return fmt.Errorf("tcp transport: add peer: %w", err)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	old := t.peers[id]
	if old != nil && old.addr == addr {
		t.mu.Unlock()
		return nil
	}
	p := newPeer(t, id, addr)
	t.peers[id] = p
	if t.running {
		t.wg.Add(1)
		go p.run()
	}
	t.mu.Unlock()
	if old != nil {
		old.stop()
	}
	return nil
}

// RemovePeer forgets peer id: its queue is dropped, its connections are
// closed, and later messages to it or connections from it are refused.
// Removing an unknown peer is a no-op.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p, in := t.peers[id], t.inbound[id]
	delete(t.peers, id)
	delete(t.inbound, id)
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
	if in != nil {
		in.Close()
	}
}

// Close stops accepting, closes every connection, stops every goroutine the
// transport started, and returns once they have all exited. No callback or
// handler call is made after Close returns. Safe to call more than once.
func (t *Transport) Close() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	ln := t.ln
	t.mu.Unlock()
	var err error
	if !already {
		t.cancel()
		if ln != nil {
			if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				err = fmt.Errorf("tcp transport: close listener: %w", cerr)
			}
		}
	}
	t.wg.Wait()
	return err
}

// Stats returns the current counters; see Stats and PeerStats.
func (t *Transport) Stats() Stats {
	t.mu.RLock()
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	t.mu.RUnlock()
	slices.SortFunc(peers, func(a, b *peer) int { return cmp.Compare(a.id, b.id) })
	s := Stats{
		Peers:              make([]PeerStats, 0, len(peers)),
		DroppedUnknownPeer: t.droppedUnknown.Load(),
		DroppedInvalid:     t.droppedInvalid.Load(),
		DroppedClosed:      t.droppedClosed.Load(),
		RejectedHandshakes: t.rejectedHandshakes.Load(),
		ProtocolErrors:     t.protocolErrors.Load(),
		DroppedReports:     t.rep.dropped.Load(),
	}
	for _, p := range peers {
		s.Peers = append(s.Peers, p.snapshotStats())
	}
	return s
}

// snapshotStats reads one peer's counters.
func (p *peer) snapshotStats() PeerStats {
	p.mu.Lock()
	ps := PeerStats{
		ID: p.id, Addr: p.addr, Connected: p.connected,
		QueuedMessages: len(p.msgs), QueuedBytes: p.bytes, QueuedSnapshots: len(p.snaps),
	}
	p.mu.Unlock()
	c := &p.stats
	ps.SentMessages = c.sentMessages.Load()
	ps.SentChunks = c.sentChunks.Load()
	ps.SentSnapshots = c.sentSnapshots.Load()
	ps.SentBytes = c.sentBytes.Load()
	ps.Writes = c.writes.Load()
	ps.DroppedQueueFull = c.droppedQueueFull.Load()
	ps.DroppedTooLarge = c.droppedTooLarge.Load()
	ps.DroppedUnreachable = c.droppedUnreachable.Load()
	ps.ReceivedMessages = c.receivedMessages.Load()
	ps.ReceivedBytes = c.receivedBytes.Load()
	ps.ReceivedDropped = c.receivedDropped.Load()
	ps.Dials = c.dials.Load()
	ps.DialFailures = c.dialFailures.Load()
	return ps
}

// closeOnDone closes c when ctx is done, which is what interrupts a read,
// write or handshake blocked on it; the returned func unregisters the hook.
func closeOnDone(ctx context.Context, c net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { c.Close() })
}
