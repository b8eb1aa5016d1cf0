package tcp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// acceptLoop accepts inbound connections until the listener is closed and
// gives each a reader goroutine.
func (t *Transport) acceptLoop(ln net.Listener) {
	defer t.wg.Done()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off a little,
			// the way net/http does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.log.Error("accept failed; retrying", "err", err, "retry_in", delay)
			if !sleepCtx(t.ctx, delay) {
				return
			}
			continue
		}
		delay = 0
		select {
		case t.hsSem <- struct{}{}:
		default:
			t.rejectedHandshakes.Add(1)
			if ok, n := t.rejectLog.allow(logEvery); ok {
				t.log.Warn("refused connection: too many handshakes in progress", "remote", conn.RemoteAddr().String(), "suppressed", n)
			}
			conn.Close()
			continue
		}
		t.wg.Add(1)
		go t.serve(conn)
	}
}

// serve runs one inbound connection: handshake, then read frames and hand
// each admitted message to the handler, until the connection fails, the
// peer is removed or replaced, or the transport closes.
func (t *Transport) serve(conn net.Conn) {
	defer t.wg.Done()
	defer conn.Close()
	// Closing the connection is what unblocks the read on Close.
	stop := closeOnDone(t.ctx, conn)
	defer stop()
	remote := conn.RemoteAddr().String()
	fr := &frameReader{br: bufio.NewReaderSize(conn, t.cfg.BufferSize), maxBody: t.cfg.MaxFrameSize}

	p, claimed, err := t.acceptHandshake(conn, fr)
	<-t.hsSem
	if err != nil {
		if t.ctx.Err() != nil {
			return
		}
		level := slog.LevelWarn
		if errors.Is(err, errRejected) || errors.Is(err, errProtocol) || errors.Is(err, errFrameTooLarge) {
			// Not a timeout or a dropped connection: someone is
			// misconfigured or is not a raftkv peer at all.
			t.rejectedHandshakes.Add(1)
			level = slog.LevelError
		}
		if ok, n := t.rejectLog.allow(logEvery); ok {
			t.log.Log(t.ctx, level, "refused peer connection", "remote", remote, "claimed_id", claimed, "err", err, "suppressed", n)
		}
		return
	}
	if !t.registerInbound(p, conn) {
		return
	}
	defer t.unregisterInbound(p.id, conn)
	log := p.log.With("remote", remote)
	log.Info("accepted connection from peer")

	rcv := receiver{peer: p.id, self: t.cfg.ID, maxSnapshot: t.cfg.MaxSnapshotSize}
	for {
		kind, body, n, err := fr.next()
		if err != nil {
			t.readFailed(log, err)
			return
		}
		p.stats.receivedBytes.Add(uint64(n))
		m, ok, err := rcv.handle(kind, body)
		if err != nil {
			t.protocolErrors.Add(1)
			log.Error("closing connection from peer: bad frame", "err", err)
			return
		}
		if !ok {
			continue
		}
		if err := rcv.admit(&m); err != nil {
			p.stats.receivedDropped.Add(1)
			if ok, n := p.recvLog.allow(logEvery); ok {
				log.Warn("dropped inbound message", "err", err, "suppressed", n)
			}
			continue
		}
		p.stats.receivedMessages.Add(1)
		t.cfg.Handler(m)
	}
}

// readFailed logs why a connection's read loop ended, at a level that
// matches how surprising it is.
func (t *Transport) readFailed(log *slog.Logger, err error) {
	switch {
	case t.ctx.Err() != nil, errors.Is(err, net.ErrClosed):
		log.Debug("inbound connection closed", "err", err)
	case errors.Is(err, io.EOF):
		log.Info("peer closed its connection")
	case errors.Is(err, errFrameTooLarge), errors.Is(err, errProtocol):
		t.protocolErrors.Add(1)
		log.Error("closing connection from peer: bad frame", "err", err)
	default:
		log.Warn("inbound connection failed", "err", err)
	}
}

// acceptHandshake reads the dialer's hello, checks it, and answers. It
// returns the peer on success; claimed is the id the dialer gave, for logs.
// A dialer that speaks our protocol is told why it is rejected; one that
// does not (bad magic, garbage) just has its connection closed.
func (t *Transport) acceptHandshake(conn net.Conn, fr *frameReader) (p *peer, claimed uint64, err error) {
	if err := conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return nil, 0, fmt.Errorf("handshake: set deadline: %w", err)
	}
	kind, body, _, err := fr.next()
	if err != nil {
		return nil, 0, fmt.Errorf("handshake: read hello: %w", err)
	}
	if kind != kindHello {
		return nil, 0, fmt.Errorf("handshake: %w: first frame is a %s frame, not a hello", errProtocol, kindName(kind))
	}
	h, err := decodeHello(body)
	var reason string
	switch {
	case errors.Is(err, errVersion):
		reason = fmt.Sprintf("protocol version %d is not supported; node %d speaks version %d", h.Version, t.cfg.ID, protocolVersion)
	case err != nil:
		return nil, 0, fmt.Errorf("handshake: %w", err)
	case h.ClusterID != t.cfg.ClusterID:
		reason = fmt.Sprintf("cluster id mismatch: node %d belongs to cluster %q, the dialer to cluster %q", t.cfg.ID, t.cfg.ClusterID, h.ClusterID)
	case h.To != t.cfg.ID:
		reason = fmt.Sprintf("the dialer meant to reach node %d but reached node %d: check its peer addresses", h.To, t.cfg.ID)
	case h.From == t.cfg.ID:
		reason = fmt.Sprintf("the dialer claims to be node %d, which is this node", h.From)
	default:
		t.mu.RLock()
		p = t.peers[h.From]
		t.mu.RUnlock()
		if p == nil {
			reason = fmt.Sprintf("unknown node %d: it is not a peer of node %d in cluster %q", h.From, t.cfg.ID, t.cfg.ClusterID)
		}
	}
	frame := appendFrame(nil, kindAck, appendAck(nil, ack{OK: reason == "", Version: protocolVersion, Reason: reason}))
	_, werr := conn.Write(frame)
	if reason != "" {
		return nil, h.From, fmt.Errorf("%w: %s", errRejected, reason)
	}
	if werr != nil {
		return nil, h.From, fmt.Errorf("handshake: send ack: %w", werr)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, h.From, fmt.Errorf("handshake: clear deadline: %w", err)
	}
	return p, h.From, nil
}

// registerInbound records conn as p's current inbound connection and closes
// the one it replaces (a peer dials again only after its old connection
// failed, so the old one is dead or dying). It reports false if p is no
// longer a peer or the transport is closing.
func (t *Transport) registerInbound(p *peer, conn net.Conn) bool {
	t.mu.Lock()
	if t.closed || t.peers[p.id] != p {
		t.mu.Unlock()
		return false
	}
	old := t.inbound[p.id]
	t.inbound[p.id] = conn
	t.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return true
}

// unregisterInbound forgets conn if it is still id's current connection.
func (t *Transport) unregisterInbound(id uint64, conn net.Conn) {
	t.mu.Lock()
	if t.inbound[id] == conn {
		delete(t.inbound, id)
	}
	t.mu.Unlock()
}
