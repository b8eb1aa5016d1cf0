package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// Errors a Node's callers see. Definite errors mean the request did not and
// will not take effect; indefinite ones mean it may have.
var (
	// ErrNotLeader (definite): this node does not lead; see Leader().
	ErrNotLeader = raft.ErrNotLeader
	// ErrStopped (indefinite for writes): the node stopped while the
	// request was in flight.
	ErrStopped = errors.New("node: stopped")
	// ErrDropped (definite): the proposal's log entry was replaced by
	// another leader's before it committed; it will never apply.
	ErrDropped = errors.New("node: proposal dropped by a new leader")
	// ErrBusy (definite): the node's input queue is full.
	ErrBusy = errors.New("node: too many requests in flight")
)

// NodeConfig configures a Node.
type NodeConfig struct {
	Driver Config
	// State is what storage recovered; the state machine must already hold
	// its snapshot.
	State raft.State
	// TickInterval is the real time per core tick. Default 100ms.
	TickInterval time.Duration
	// InboxSize bounds messages from peers waiting for the loop; beyond
	// it they are dropped (Raft retransmits). Default 4096.
	InboxSize int
	Logger    *slog.Logger
}

// Node runs a Driver in one goroutine that owns it and gives servers a
// blocking, concurrency-safe API. Everything the core does happens on that
// goroutine; callers talk to it through channels.
type Node struct {
	cfg  NodeConfig
	drv  *Driver
	log  *slog.Logger
	recv chan raft.Message
	reqs chan func()
	stop chan struct{}
	done chan struct{}

	// The fields below are owned by the loop goroutine.
	waiters map[uint64]*propWaiter // by log index
	reads   map[uint64]*readWaiter // by read context
	nextCtx uint64
	soft    raft.SoftState

	mu     sync.Mutex
	err    error // why the loop stopped, if it failed
	status raft.Status
}

type propWaiter struct {
	term uint64
	ch   chan propResult
}

type propResult struct {
	result any
	index  uint64
	err    error
}

type readWaiter struct {
	ch chan error
}

// NewNode builds a node; Run starts it.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.InboxSize == 0 {
		cfg.InboxSize = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger,
		recv:    make(chan raft.Message, cfg.InboxSize),
		reqs:    make(chan func(), 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		waiters: map[uint64]*propWaiter{},
		reads:   map[uint64]*readWaiter{},
	}
	// The node listens to its own driver; the caller's listener, if any,
	// hears everything too.
	inner := cfg.Driver.Listener
	cfg.Driver.Listener = &nodeListener{n: n, next: inner}
	if cfg.Driver.Logger == nil {
		cfg.Driver.Logger = cfg.Logger
	}
	drv, err := NewDriver(cfg.Driver, cfg.State)
	if err != nil {
		return nil, err
	}
	n.drv = drv
	n.status = drv.Raft().Status()
	return n, nil
}

// Run drives the core until Stop or a fatal storage error, which it
// returns. It must be called once.
func (n *Node) Run() error {
	defer close(n.done)
	start := time.Now()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	var ticked int64
	for {
		select {
		case <-n.stop:
			n.shutdown(ErrStopped)
			return nil
		case m := <-n.recv:
			n.step(m)
		case fn := <-n.reqs:
			fn()
		case <-ticker.C:
			// Deliver every tick due by the monotonic clock, not one per
			// timer event: a late timer or a paused process must not slow
			// the core's clock, or its lease would outlive the followers'
			// promises (see the raft package doc).
			due := int64(time.Since(start) / n.cfg.TickInterval)
			for ; ticked < due; ticked++ {
				n.drv.Tick()
			}
		}
		// Take everything else already queued, so one Ready (one fsync)
		// covers it all: this is the group commit.
		n.drain(256)
		for {
			did, err := n.drv.HandleReady()
			if err != nil {
				n.log.Error("stopping: storage failed", "err", err)
				n.mu.Lock()
				n.err = err
				n.mu.Unlock()
				n.shutdown(ErrStopped)
				return err
			}
			if !did {
				break
			}
		}
		n.publishStatus()
	}
}

func (n *Node) drain(max int) {
	for i := 0; i < max; i++ {
		select {
		case m := <-n.recv:
			n.step(m)
		case fn := <-n.reqs:
			fn()
		default:
			return
		}
	}
}

func (n *Node) step(m raft.Message) {
	if err := n.drv.Step(m); err != nil {
		n.log.Debug("dropped message", "msg", raft.DescribeMessage(m), "err", err)
	}
}

func (n *Node) publishStatus() {
	st := n.drv.Raft().Status()
	n.mu.Lock()
	n.status = st
	n.mu.Unlock()
}

// shutdown fails every waiter: writes in flight may still apply later
// (indefinite), reads simply did not happen.
func (n *Node) shutdown(err error) {
	for idx, w := range n.waiters {
		w.ch <- propResult{err: err}
		delete(n.waiters, idx)
	}
	for ctx, w := range n.reads {
		w.ch <- err
		delete(n.reads, ctx)
	}
}

// Stop ends Run and waits for it.
func (n *Node) Stop() {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	<-n.done
}

// Done is closed when Run returns.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns the fatal error that stopped the node, if any.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Step hands the node a message from a peer. It never blocks: when the
// inbox is full the message is dropped and Raft's retransmission recovers.
func (n *Node) Step(m raft.Message) {
	select {
	case n.recv <- m:
	default:
		n.log.Debug("inbox full, dropping", "msg", raft.DescribeMessage(m))
	}
}

// do runs fn on the loop goroutine and waits for it.
func (n *Node) do(ctx context.Context, fn func()) error {
	ran := make(chan struct{})
	select {
	case n.reqs <- func() { fn(); close(ran) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrStopped
	}
	select {
	case <-ran:
		return nil
	case <-n.done:
		return ErrStopped
	}
}

// Propose replicates data and waits until it is applied here, returning
// the state machine's result and the entry's index. ctx expiring, or the
// node stopping, leaves the outcome unknown (indefinite); ErrNotLeader and
// ErrDropped are definite.
func (n *Node) Propose(ctx context.Context, data []byte, clientID, requestID uint64) (any, uint64, error) {
	ch := make(chan propResult, 1)
	var perr error
	err := n.do(ctx, func() {
		_, last, err := n.drv.Propose(raft.Proposal{ClientID: clientID, RequestID: requestID, Data: data})
		if err != nil {
			perr = err
			return
		}
		n.waiters[last] = &propWaiter{term: n.drv.Raft().Term(), ch: ch}
	})
	if err != nil {
		return nil, 0, err
	}
	if perr != nil {
		return nil, 0, fmt.Errorf("propose: %w", perr)
	}
	select {
	case r := <-ch:
		return r.result, r.index, r.err
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

// ReadIndex waits until a read of the local state machine is linearizable
// (mode picks how leadership is confirmed). Only the leader serves it.
func (n *Node) ReadIndex(ctx context.Context, mode raft.ReadMode) error {
	ch := make(chan error, 1)
	var rerr error
	err := n.do(ctx, func() {
		n.nextCtx++
		id := n.nextCtx
		if err := n.drv.ReadIndex(id, mode); err != nil {
			rerr = err
			return
		}
		n.reads[id] = &readWaiter{ch: ch}
	})
	if err != nil {
		return err
	}
	if rerr != nil {
		return fmt.Errorf("read index: %w", rerr)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TransferLeadership asks the leader to hand over to id.
func (n *Node) TransferLeadership(ctx context.Context, id uint64) error {
	var terr error
	if err := n.do(ctx, func() { terr = n.drv.TransferLeadership(id) }); err != nil {
		return err
	}
	return terr
}

// Status returns the core's state as of the loop's last iteration.
func (n *Node) Status() raft.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// nodeListener wakes the node's waiters, then passes events on.
type nodeListener struct {
	n    *Node
	next Listener
}

func (l *nodeListener) Applied(e raft.Entry, result any, ack bool) {
	n := l.n
	if w, ok := n.waiters[e.Index]; ok {
		delete(n.waiters, e.Index)
		if e.Term == w.term {
			w.ch <- propResult{result: result, index: e.Index}
		} else {
			// Another leader's entry took the slot: ours never commits.
			w.ch <- propResult{err: ErrDropped}
		}
	}
	if l.next != nil {
		l.next.Applied(e, result, ack)
	}
}

func (l *nodeListener) ReadReady(ctx uint64) {
	if w, ok := l.n.reads[ctx]; ok {
		delete(l.n.reads, ctx)
		w.ch <- nil
	}
	if l.next != nil {
		l.next.ReadReady(ctx)
	}
}

func (l *nodeListener) SoftStateChanged(s raft.SoftState) {
	n := l.n
	if n.soft.Role == raft.Leader && s.Role != raft.Leader {
		// Reads registered as leader will never be confirmed now.
		for ctx, w := range n.reads {
			w.ch <- ErrNotLeader
			delete(n.reads, ctx)
		}
	}
	n.soft = s
	if l.next != nil {
		l.next.SoftStateChanged(s)
	}
}

// ReportUnreachable tells the core a message to id could not be delivered.
// It never blocks; the report is dropped if the node is busy.
func (n *Node) ReportUnreachable(id uint64) {
	select {
	case n.reqs <- func() { n.drv.Raft().ReportUnreachable(id) }:
	default:
	}
}

// ReportSnapshot tells the core whether sending a snapshot to id worked.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	select {
	case n.reqs <- func() { n.drv.Raft().ReportSnapshot(id, ok) }:
	default:
	}
}
