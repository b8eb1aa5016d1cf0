package udpjson

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// Errors of the transport, besides the codec's.
var (
	// ErrTimeout: Recv's read deadline passed before a datagram arrived;
	// the event loop's cue to tick. It is returned unwrapped (no
	// allocation on the tick path).
	ErrTimeout = errors.New("udpjson: recv: read deadline passed")
	// ErrClosed: the Conn was closed; Recv will never return anything else.
	ErrClosed = errors.New("udpjson: connection closed")
	// ErrMisdelivered: a datagram named another destination than this
	// replica or FFFF. The simulator routes on dst, so it means a bug
	// somewhere; the caller drops it as it drops junk.
	ErrMisdelivered = errors.New("udpjson: datagram for another node")
)

// loopback is where the simulator listens: the spec says localhost, and
// our simulator requires 127.0.0.1 (a replica that resolves localhost to ::1
// is not heard).
var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// Config configures a Conn. Listen fills it from its arguments.
type Config struct {
	// Port is the simulator's UDP port for this replica (argv[1]): every
	// datagram goes to 127.0.0.1:Port.
	Port int
	// Self is this replica's classroom ID (argv[2]).
	Self string
	// Logger receives the few events worth a line (listening, closing);
	// per-datagram outcomes are returned to the caller and counted instead,
	// because logging on the hot path costs more than the send itself.
	// nil discards.
	Logger *slog.Logger
	// MaxSize bounds every datagram sent; 0 means DefaultMaxSize. Larger
	// appends are split (SplitApp); other messages that exceed it are
	// dropped with ErrTooLarge.
	MaxSize int
}

// Conn is a replica's one UDP socket to the classroom simulator.
//
// Send, SendHello and SendClient may be called from any goroutine. Recv and
// SetReadDeadline belong to one goroutine, the replica's event loop: Recv
// reuses one receive buffer. Close may be called from anywhere, once.
type Conn struct {
	self    ID
	conn    *net.UDPConn
	sim     netip.AddrPort
	log     *slog.Logger
	maxSize int

	sendMu  sync.Mutex
	sendBuf []byte // guarded by sendMu

	// Owned by the Recv goroutine.
	recvBuf  []byte
	deadline time.Time

	stats counters
}

// counters are atomics so that Stats may be read from any goroutine while
// the loop sends and receives.
type counters struct {
	sentRaft, sentClient, sentHello, sentBytes, sendErrors, tooLarge, splits atomic.Uint64
	received, receivedBytes, recvRaft, recvClient, recvOther                 atomic.Uint64
	malformed, misdelivered                                                  atomic.Uint64
}

// Stats counts what a Conn did since Listen.
type Stats struct {
	// SentRaft, SentClient and SentHello count datagrams written, by kind;
	// SentRaft is what the simulator counts against total_msgs.
	SentRaft, SentClient, SentHello uint64
	// SentBytes is the total size of the datagrams written.
	SentBytes uint64
	// SendErrors counts messages dropped because they could not be encoded
	// or written (TooLarge included).
	SendErrors uint64
	// TooLarge counts messages dropped because they could not fit MaxSize.
	TooLarge uint64
	// Splits counts MsgApps that had to be cut into several datagrams.
	Splits uint64
	// Received counts datagrams read, ReceivedBytes their total size.
	Received, ReceivedBytes uint64
	// RecvRaft, RecvClient and RecvOther count the datagrams that decoded,
	// by kind (Raft messages; get and put; anything else).
	RecvRaft, RecvClient, RecvOther uint64
	// Malformed counts datagrams that did not decode; Misdelivered those
	// addressed to another node.
	Malformed, Misdelivered uint64
}

// Listen opens the replica's socket on 127.0.0.1 (any free port) and
// sends every datagram to 127.0.0.1:port, the simulator's port for this
// replica. The caller must then send the hello (SendHello) before anything
// else: until the simulator has seen it, nothing is delivered to us.
func Listen(port int, self string, logger *slog.Logger) (*Conn, error) {
	return ListenConfig(Config{Port: port, Self: self, Logger: logger})
}

// ListenConfig is Listen with every option.
func ListenConfig(cfg Config) (*Conn, error) {
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("udpjson: listen: port %d out of range", cfg.Port)
	}
	self, err := ParseID(cfg.Self)
	if err != nil {
		return nil, fmt.Errorf("udpjson: listen: own ID: %w", err)
	}
	if self == Broadcast {
		return nil, fmt.Errorf("udpjson: listen: own ID FFFF names no node: %w", ErrBadID)
	}
	maxSize := cfg.MaxSize
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	if maxSize < 256 || maxSize > MaxDatagramSize {
		return nil, fmt.Errorf("udpjson: listen: max size %d outside [256, %d]", maxSize, MaxDatagramSize)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Unconnected on purpose: a connected socket would drop datagrams from
	// any port but the simulator's, and the spec does not promise that the
	// simulator writes from the port it reads on (ours does; see DESIGN.md).
	uc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		return nil, fmt.Errorf("udpjson: listen: %w", err)
	}
	// Bigger socket buffers absorb bursts (a broadcast of votes, a batch of
	// client requests) instead of dropping them; the kernel caps the size
	// at its own limit, which is fine.
	for _, set := range []func(int) error{uc.SetReadBuffer, uc.SetWriteBuffer} {
		if err := set(1 << 20); err != nil {
			log.Debug("udpjson: socket buffer size not raised", "err", err)
		}
	}
	c := &Conn{
		self:    self,
		conn:    uc,
		sim:     netip.AddrPortFrom(loopback, uint16(cfg.Port)),
		log:     log,
		maxSize: maxSize,
		sendBuf: make([]byte, 0, 4096),
		recvBuf: make([]byte, MaxDatagramSize+1),
	}
	log.Info("udpjson: listening", "self", self.String(), "local", uc.LocalAddr().String(), "simulator", c.sim.String())
	return c, nil
}

// Self returns this replica's classroom ID.
func (c *Conn) Self() ID { return c.self }

// LocalAddr returns the socket's own address (for logs and tests).
func (c *Conn) LocalAddr() netip.AddrPort {
	return c.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SendHello sends the hello that must be the replica's first message.
func (c *Conn) SendHello() error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.sendBuf = AppendHello(c.sendBuf[:0], c.self)
	if err := c.write(c.sendBuf); err != nil {
		return fmt.Errorf("udpjson: send hello: %w", err)
	}
	c.stats.sentHello.Add(1)
	return nil
}

// SendClient sends a reply to a client: d.Type must be TypeOK, TypeFail or
// TypeRedirect, d.Dst the client and d.MID the request's (Command.Reply
// builds one). Src is set to this replica.
func (c *Conn) SendClient(d Datagram) error {
	if !d.Type.IsReply() {
		return fmt.Errorf("udpjson: send client: %v is not a reply: %w", d.Type, ErrInvalid)
	}
	d.Src = c.self
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	var err error
	if c.sendBuf, err = AppendDatagram(c.sendBuf[:0], &d); err == nil {
		if len(c.sendBuf) > c.maxSize {
			err = fmt.Errorf("%d bytes, limit %d: %w", len(c.sendBuf), c.maxSize, ErrTooLarge)
			c.stats.tooLarge.Add(1)
		} else {
			err = c.write(c.sendBuf)
		}
	}
	if err != nil {
		c.stats.sendErrors.Add(1)
		return fmt.Errorf("udpjson: send %v to %s MID %q: %w", d.Type, d.Dst, d.MID, err)
	}
	c.stats.sentClient.Add(1)
	return nil
}

// Send encodes and writes each Raft message, with leader (the sender's
// belief, Broadcast if unknown) in every datagram: the simulator learns
// the leader from it. Every message is attempted; one that cannot be
// encoded or written is dropped and counted, as Raft retransmits anything
// that matters, and the error returned says how many were dropped and why
// the first one was. A MsgApp larger than MaxSize is split (SplitApp).
// The messages are not retained.
func (c *Conn) Send(msgs []raft.Message, leader ID) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	var first error
	dropped := 0
	for i := range msgs {
		if err := c.sendRaft(&msgs[i], leader); err != nil {
			c.stats.sendErrors.Add(1)
			if first == nil {
				first = err
			}
			dropped++
		}
	}
	if first != nil {
		return fmt.Errorf("udpjson: send: %d of %d messages dropped, first: %w", dropped, len(msgs), first)
	}
	return nil
}

// sendRaft encodes and writes one message; c.sendMu is held.
func (c *Conn) sendRaft(m *raft.Message, leader ID) error {
	var err error
	if c.sendBuf, err = AppendRaft(c.sendBuf[:0], m, leader); err != nil {
		return err
	}
	if len(c.sendBuf) <= c.maxSize {
		if err := c.write(c.sendBuf); err != nil {
			return fmt.Errorf("%s to %d: %w", RaftTypeName(m.Type), m.To, err)
		}
		c.stats.sentRaft.Add(1)
		return nil
	}
	pieces, err := SplitApp(m, leader, c.maxSize)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			c.stats.tooLarge.Add(1)
		}
		return err
	}
	c.stats.splits.Add(1)
	for i := range pieces {
		if c.sendBuf, err = AppendRaft(c.sendBuf[:0], &pieces[i], leader); err != nil {
			return err
		}
		if err := c.write(c.sendBuf); err != nil {
			return fmt.Errorf("%s to %d, piece %d of %d: %w", RaftTypeName(m.Type), m.To, i+1, len(pieces), err)
		}
		c.stats.sentRaft.Add(1)
	}
	return nil
}

func (c *Conn) write(b []byte) error {
	if _, err := c.conn.WriteToUDPAddrPort(b, c.sim); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return err
	}
	c.stats.sentBytes.Add(uint64(len(b)))
	return nil
}

// SetReadDeadline makes Recv return ErrTimeout once t has passed, so that
// one goroutine can both act on each datagram the moment it arrives and
// tick on time. The zero time means no deadline. Setting the deadline it
// already has costs nothing, so the loop may call it before every Recv.
// A deadline already in the past makes Recv return ErrTimeout at once,
// even if datagrams are waiting: missed ticks come first.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.Equal(c.deadline) {
		return nil
	}
	if err := c.conn.SetReadDeadline(t); err != nil {
		return fmt.Errorf("udpjson: set read deadline: %w", err)
	}
	c.deadline = t
	return nil
}

// Recv blocks until the next datagram arrives and returns it decoded, or
// until the read deadline passes (ErrTimeout) or the Conn is closed
// (ErrClosed). A datagram that does not decode, or is addressed to another
// node, is returned as an error wrapping the codec's sentinel (or
// ErrMisdelivered): the caller logs it and calls Recv again, which keeps
// working. The Datagram owns its memory.
func (c *Conn) Recv() (Datagram, error) {
	n, from, err := c.conn.ReadFromUDPAddrPort(c.recvBuf)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return Datagram{}, ErrTimeout
		case errors.Is(err, net.ErrClosed):
			return Datagram{}, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return Datagram{}, fmt.Errorf("udpjson: recv: %w", err)
	}
	c.stats.received.Add(1)
	c.stats.receivedBytes.Add(uint64(n))
	d, err := Decode(c.recvBuf[:n])
	if err != nil {
		c.stats.malformed.Add(1)
		return Datagram{}, fmt.Errorf("udpjson: recv %d bytes from %v: %w", n, from, err)
	}
	if d.Dst != c.self && d.Dst != Broadcast {
		c.stats.misdelivered.Add(1)
		return Datagram{}, fmt.Errorf("udpjson: recv %v from %s to %s (we are %s): %w", d.Type, d.Src, d.Dst, c.self, ErrMisdelivered)
	}
	switch {
	case d.Type == TypeRaft:
		c.stats.recvRaft.Add(1)
	case d.Type.IsRequest():
		c.stats.recvClient.Add(1)
	default:
		c.stats.recvOther.Add(1)
	}
	return d, nil
}

// Stats returns the counters; safe from any goroutine.
func (c *Conn) Stats() Stats {
	s := &c.stats
	return Stats{
		SentRaft: s.sentRaft.Load(), SentClient: s.sentClient.Load(), SentHello: s.sentHello.Load(),
		SentBytes: s.sentBytes.Load(), SendErrors: s.sendErrors.Load(), TooLarge: s.tooLarge.Load(),
		Splits: s.splits.Load(), Received: s.received.Load(), ReceivedBytes: s.receivedBytes.Load(),
		RecvRaft: s.recvRaft.Load(), RecvClient: s.recvClient.Load(), RecvOther: s.recvOther.Load(),
		Malformed: s.malformed.Load(), Misdelivered: s.misdelivered.Load(),
	}
}

// Close closes the socket: a blocked Recv returns ErrClosed.
func (c *Conn) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("udpjson: close: %w", err)
	}
	st := c.Stats()
	c.log.Info("udpjson: closed", "sent_raft", st.SentRaft, "sent_client", st.SentClient,
		"received", st.Received, "malformed", st.Malformed, "send_errors", st.SendErrors)
	return nil
}
