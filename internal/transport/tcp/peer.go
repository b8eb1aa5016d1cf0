package tcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wire"
)

// keepAlive is the TCP keep-alive period of every connection: it is what
// finds a silently dead peer on an idle inbound connection.
const keepAlive = 15 * time.Second

// logEvery is the least interval between two log lines of one kind per peer.
const logEvery = 5 * time.Second

// queued is a message waiting in a peer's queue with its encoded size.
type queued struct {
	m    raft.Message
	size int
}

// peer is one remote node as seen by the sending side: its bounded queue,
// and the writer goroutine (run) that owns its outbound connection.
type peer struct {
	t      *Transport
	id     uint64
	addr   string
	log    *slog.Logger
	ctx    context.Context // done when the peer is removed or the transport closes
	cancel context.CancelFunc
	stats  peerCounters
	wake   chan struct{} // capacity 1: "the queue may be non-empty"

	dropLog, connLog, recvLog limiter

	mu        sync.Mutex
	stopped   bool
	connected bool
	msgs      []queued // ordinary messages, in Send order
	spare     []queued // the writer's last batch, recycled to avoid allocations
	bytes     int      // Invariant: bytes == sum of msgs[i].size
	snaps     []queued // chunked snapshots, in Send order
}

func newPeer(t *Transport, id uint64, addr string) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	return &peer{
		t: t, id: id, addr: addr,
		log:    t.log.With("peer", id, "addr", addr),
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
	}
}

// dropReason says why a message was not queued.
type dropReason int

const (
	queuedOK dropReason = iota
	dropQueueFull
	dropStopped
)

// send validates m's size and queues it, or drops it and counts why.
func (p *peer) send(m *raft.Message, size int) {
	cfg := &p.t.cfg
	chunked := m.Type == raft.MsgSnap && size > cfg.SnapshotChunkSize
	limit := cfg.MaxFrameSize
	if chunked {
		limit = cfg.MaxSnapshotSize
	}
	if size > limit {
		p.stats.droppedTooLarge.Add(1)
		p.dropped(m, slog.LevelWarn, fmt.Sprintf("encoded size %d exceeds the limit %d", size, limit))
		return
	}
	switch p.enqueue(m, size, chunked) {
	case dropQueueFull:
		p.stats.droppedQueueFull.Add(1)
		p.dropped(m, slog.LevelDebug, "queue full")
	case dropStopped:
		p.stats.droppedUnreachable.Add(1)
		p.dropped(m, slog.LevelDebug, "peer removed")
	}
}

// dropped reports a dropped snapshot and logs the drop, rate-limited.
func (p *peer) dropped(m *raft.Message, level slog.Level, reason string) {
	if m.Type == raft.MsgSnap {
		p.t.rep.snapshot(p.id, false)
	}
	if ok, n := p.dropLog.allow(logEvery); ok {
		p.log.Log(p.ctx, level, "dropped outbound message", "type", m.Type, "reason", reason, "suppressed", n)
	}
}

// enqueue appends m to the right queue unless it is full. A message larger
// than QueueBytes is still taken when the queue is empty, so the byte bound
// never blocks a peer for good.
func (p *peer) enqueue(m *raft.Message, size int, chunked bool) dropReason {
	p.mu.Lock()
	switch {
	case p.stopped:
		p.mu.Unlock()
		return dropStopped
	case chunked:
		if len(p.snaps) >= p.t.cfg.MaxPendingSnapshots {
			p.mu.Unlock()
			return dropQueueFull
		}
		p.snaps = append(p.snaps, queued{*m, size})
	default:
		if len(p.msgs) >= p.t.cfg.QueueMessages || (len(p.msgs) > 0 && p.bytes+size > p.t.cfg.QueueBytes) {
			p.mu.Unlock()
			return dropQueueFull
		}
		p.msgs = append(p.msgs, queued{*m, size})
		p.bytes += size
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return queuedOK
}

// take removes the queued messages (and, if wantSnap, the oldest queued
// snapshot) for the writer. The batch goes back through recycle.
func (p *peer) take(wantSnap bool) (batch []queued, snap *queued) {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch, p.msgs, p.spare, p.bytes = p.msgs, p.spare, nil, 0
	if wantSnap && len(p.snaps) > 0 {
		s := p.snaps[0]
		p.snaps[0] = queued{}
		p.snaps = p.snaps[1:]
		snap = &s
	}
	return batch, snap
}

// recycle hands a written batch back for reuse, dropping its references.
func (p *peer) recycle(batch []queued) {
	clear(batch)
	p.mu.Lock()
	if p.spare == nil && cap(batch) <= 2*p.t.cfg.QueueMessages {
		p.spare = batch[:0]
	}
	p.mu.Unlock()
}

// discard empties both queues and returns how many messages it dropped and
// how many of those were snapshots (chunked or not).
func (p *peer) discard() (msgs, snaps int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msgs, snaps = len(p.msgs)+len(p.snaps), len(p.snaps)+countSnaps(p.msgs)
	clear(p.msgs)
	clear(p.snaps)
	p.msgs, p.snaps, p.bytes = p.msgs[:0], nil, 0
	return msgs, snaps
}

// countSnaps counts the snapshots in a batch of ordinary messages.
func countSnaps(batch []queued) int {
	n := 0
	for i := range batch {
		if batch[i].m.Type == raft.MsgSnap {
			n++
		}
	}
	return n
}

// stop makes the peer refuse new messages and ends its writer.
func (p *peer) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cancel()
}

func (p *peer) setConnected(v bool) {
	p.mu.Lock()
	p.connected = v
	p.mu.Unlock()
}

// waitWork blocks until something is queued, and reports false once the
// peer is stopped.
func (p *peer) waitWork() bool {
	for {
		p.mu.Lock()
		n := len(p.msgs) + len(p.snaps)
		p.mu.Unlock()
		if n > 0 {
			return p.ctx.Err() == nil
		}
		select {
		case <-p.wake:
		case <-p.ctx.Done():
			return false
		}
	}
}

// run is the peer's writer goroutine: it connects lazily (when the first
// message is queued), drains the queue into the connection, and on failure
// drops what is queued, reports the peer unreachable and retries with
// backoff. It owns the outbound connection; it ends when the peer is
// removed or the transport closes.
func (p *peer) run() {
	defer p.t.wg.Done()
	bo := backoff{
		min: p.t.cfg.BackoffMin, max: p.t.cfg.BackoffMax,
		rng: rand.New(rand.NewPCG(p.t.cfg.Seed, p.t.cfg.ID<<32^p.id)),
	}
	var c *outConn
	defer func() {
		if c != nil {
			c.close()
		}
		p.setConnected(false)
		if _, snaps := p.discard(); snaps > 0 {
			for range snaps {
				p.t.rep.snapshot(p.id, false)
			}
		}
	}()
	var upSince time.Time
	for p.waitWork() {
		if c == nil {
			var err error
			if c, err = p.connect(); err != nil {
				if p.ctx.Err() != nil {
					return
				}
				delay := bo.next()
				p.connectFailed(err, delay)
				if !sleepCtx(p.ctx, delay) {
					return
				}
				continue
			}
			upSince = time.Now()
			p.setConnected(true)
			p.log.Info("connected to peer")
		}
		if err := p.drain(c); err != nil {
			c.close()
			c = nil
			p.setConnected(false)
			if p.ctx.Err() != nil {
				return
			}
			p.t.rep.unreachable(p.id)
			// The backoff resets once a connection has proved itself by
			// staying up; one that broke at once (a peer that accepts and
			// then drops us) is retried with backoff, not in a hot loop.
			delay := time.Duration(0)
			if time.Since(upSince) >= bo.max {
				bo.reset()
			} else {
				delay = bo.next()
			}
			if ok, n := p.connLog.allow(logEvery); ok {
				p.log.Warn("lost connection to peer; will redial", "err", err, "retry_in", delay, "suppressed", n)
			}
			if !sleepCtx(p.ctx, delay) {
				return
			}
		}
	}
}

// connectFailed drops what is queued (Raft will resend it), reports the
// peer unreachable and logs the failure, rate-limited.
func (p *peer) connectFailed(err error, retry time.Duration) {
	p.stats.dialFailures.Add(1)
	msgs, snaps := p.discard()
	p.stats.droppedUnreachable.Add(uint64(msgs))
	for range snaps {
		p.t.rep.snapshot(p.id, false)
	}
	p.t.rep.unreachable(p.id)
	ok, n := p.connLog.allow(logEvery)
	switch {
	case errors.Is(err, errRejected):
		// A configuration error on one side or the other: always worth
		// seeing, but still rate-limited as it repeats every backoff.
		if ok {
			p.log.Error("peer rejected our handshake", "err", err, "dropped", msgs, "retry_in", retry, "suppressed", n)
		}
	case ok:
		p.log.Warn("cannot reach peer", "err", err, "dropped", msgs, "retry_in", retry, "suppressed", n)
	}
}

// connect dials the peer and runs the handshake.
func (p *peer) connect() (*outConn, error) {
	cfg := &p.t.cfg
	p.stats.dials.Add(1)
	d := net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: keepAlive}
	conn, err := d.DialContext(p.ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial node %d: %w", p.id, err)
	}
	// Closing the connection is what interrupts a blocked write or read
	// when the peer is removed or the transport closes.
	stop := closeOnDone(p.ctx, conn)
	if err := p.handshake(conn); err != nil {
		stop()
		conn.Close()
		return nil, err
	}
	cw := &countingWriter{conn: conn, timeout: cfg.WriteTimeout, stats: &p.stats}
	return &outConn{p: p, conn: conn, stop: stop, bw: bufio.NewWriterSize(cw, cfg.BufferSize)}, nil
}

// handshake sends our hello and waits for the acceptor's verdict.
func (p *peer) handshake(conn net.Conn) error {
	cfg := &p.t.cfg
	if err := conn.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return fmt.Errorf("handshake with node %d: set deadline: %w", p.id, err)
	}
	body := appendHello(nil, hello{Version: protocolVersion, ClusterID: cfg.ClusterID, From: cfg.ID, To: p.id})
	if _, err := conn.Write(appendFrame(nil, kindHello, body)); err != nil {
		return fmt.Errorf("handshake with node %d: send hello: %w", p.id, err)
	}
	fr := frameReader{br: bufio.NewReaderSize(conn, 64), maxBody: maxHandshakeFrame}
	kind, body, _, err := fr.next()
	if err != nil {
		return fmt.Errorf("handshake with node %d: read reply: %w", p.id, err)
	}
	if kind != kindAck {
		return fmt.Errorf("handshake with node %d: %w: reply is a %s frame", p.id, errProtocol, kindName(kind))
	}
	a, err := decodeAck(body)
	if err != nil {
		return fmt.Errorf("handshake with node %d: %w", p.id, err)
	}
	if !a.OK {
		return fmt.Errorf("%w by node %d: %s", errRejected, p.id, a.Reason)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("handshake with node %d: clear deadline: %w", p.id, err)
	}
	return nil
}

// drain writes everything queued to c, interleaving the chunks of at most
// one snapshot with ordinary messages, and returns once the queue is empty
// and all is flushed. Frames accumulate in the write buffer while more
// messages keep arriving; the buffer is flushed when it fills or when the
// queue is momentarily empty, so a burst travels in few large writes.
func (p *peer) drain(c *outConn) error {
	for {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		batch, snap := p.take(c.snap == nil)
		if snap != nil {
			c.startSnapshot(snap)
		}
		n := len(batch)
		for i := range batch {
			if err := c.writeMessage(&batch[i]); err != nil {
				for range countSnaps(batch[i:]) {
					p.t.rep.snapshot(p.id, false)
				}
				p.recycle(batch)
				return err
			}
		}
		p.recycle(batch)
		if c.snap != nil {
			if err := c.writeChunk(); err != nil {
				return err
			}
			continue
		}
		if n == 0 {
			return c.flush()
		}
	}
}

// outConn is an established outbound connection, owned by the writer.
type outConn struct {
	p       *peer
	conn    net.Conn
	stop    func() bool // unregisters the close-on-cancel hook
	bw      *bufio.Writer
	scratch []byte // encoding buffer for frames larger than the free buffer

	snap          *snapSend // snapshot being chunked, if any
	nextSnapID    uint64
	snapsBuffered int // unchunked snapshots written but not yet flushed
}

// snapSend is a snapshot on its way out in chunks.
type snapSend struct {
	id  uint64
	enc []byte // the whole encoded MsgSnap
	off int    // bytes of enc already written
}

// close closes the connection and reports any snapshot it was carrying as
// failed.
func (c *outConn) close() {
	c.stop()
	c.conn.Close()
	failed := c.snapsBuffered
	if c.snap != nil {
		failed++
	}
	for range failed {
		c.p.t.rep.snapshot(c.p.id, false)
	}
	c.snap, c.snapsBuffered = nil, 0
}

// writeMessage writes one message frame into the buffer, encoding in place
// when it fits.
func (c *outConn) writeMessage(q *queued) error {
	need := 1 + uvarintLen(uint64(q.size)) + q.size
	inPlace := need <= c.bw.Available()
	var b []byte
	if inPlace {
		b = c.bw.AvailableBuffer()
	} else {
		b = c.scratch[:0]
	}
	b = appendFrameHeader(b, kindMessage, q.size)
	b = wire.AppendMessage(b, &q.m)
	if len(b) != need {
		panic(fmt.Sprintf("tcp: wire.MessageSize said %d bytes, AppendMessage wrote %d for %v",
			q.size, len(b)-(need-q.size), q.m.Type))
	}
	if _, err := c.bw.Write(b); err != nil {
		return fmt.Errorf("write %v to node %d: %w", q.m.Type, c.p.id, err)
	}
	if !inPlace {
		if cap(b) <= 4*c.bw.Size() {
			c.scratch = b[:0]
		} else {
			c.scratch = nil // do not keep a one-off large buffer alive
		}
	}
	c.p.stats.sentMessages.Add(1)
	if q.m.Type == raft.MsgSnap {
		c.snapsBuffered++
	}
	return nil
}

// startSnapshot encodes a snapshot for chunking.
func (c *outConn) startSnapshot(q *queued) {
	c.nextSnapID++
	enc := wire.AppendMessage(make([]byte, 0, q.size), &q.m)
	c.snap = &snapSend{id: c.nextSnapID, enc: enc}
}

// writeChunk writes the next chunk of the current snapshot; after the last
// one it flushes and reports the snapshot sent.
func (c *outConn) writeChunk() error {
	s := c.snap
	n := min(c.p.t.cfg.SnapshotChunkSize, len(s.enc)-s.off)
	var hdr [1 + 4*10]byte
	h := appendChunkHeader(hdr[:0], s.id, uint64(len(s.enc)), uint64(s.off), n)
	if _, err := c.bw.Write(h); err != nil {
		return fmt.Errorf("write snapshot chunk to node %d: %w", c.p.id, err)
	}
	if _, err := c.bw.Write(s.enc[s.off : s.off+n]); err != nil {
		return fmt.Errorf("write snapshot chunk to node %d: %w", c.p.id, err)
	}
	s.off += n
	c.p.stats.sentChunks.Add(1)
	if s.off < len(s.enc) {
		return nil
	}
	if err := c.flush(); err != nil {
		return err
	}
	c.snap = nil
	c.p.stats.sentSnapshots.Add(1)
	c.p.t.rep.snapshot(c.p.id, true)
	return nil
}

// flush pushes the buffer to the socket and reports the unchunked
// snapshots it carried as sent.
func (c *outConn) flush() error {
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("flush to node %d: %w", c.p.id, err)
	}
	for ; c.snapsBuffered > 0; c.snapsBuffered-- {
		c.p.stats.sentSnapshots.Add(1)
		c.p.t.rep.snapshot(c.p.id, true)
	}
	return nil
}

// countingWriter sits under the write buffer: it arms the write deadline
// before each write and counts the writes, which is how tests and metrics
// see the batching factor.
type countingWriter struct {
	conn    net.Conn
	timeout time.Duration
	stats   *peerCounters
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, fmt.Errorf("set write deadline: %w", err)
	}
	n, err := w.conn.Write(b)
	w.stats.writes.Add(1)
	w.stats.sentBytes.Add(uint64(n))
	return n, err
}

// backoff spaces out connection attempts to a down peer: the bound doubles
// per failure from min up to max, and each delay is drawn from
// [bound/2, bound] ("equal jitter") so that nodes restarted together do not
// dial in lockstep. It is reset when a connection has stayed up for max.
// Owned by one writer goroutine.
type backoff struct {
	min, max, cur time.Duration
	rng           *rand.Rand
}

func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	}
	half := b.cur / 2
	d := half + time.Duration(b.rng.Int64N(int64(b.cur-half)+1))
	b.cur = min(2*b.cur, b.max)
	return d
}

func (b *backoff) reset() { b.cur = 0 }

// sleepCtx waits for d, and reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
