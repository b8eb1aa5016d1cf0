// Package node drives a Raft core: it persists, sends, applies and
// acknowledges each Ready in the order the core's contract demands, serves
// reads once they are safe, and takes snapshots. The same Driver runs in the
// production server (wrapped by a goroutine loop) and inside the
// deterministic simulator (called directly on virtual time).
package node

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/raftkv/raftkv/internal/raft"
)

// Storage is the durable storage the driver needs. Save must not return
// before the data is durable when sync is true: messages that depend on it
// are sent right after.
type Storage interface {
	Save(hs raft.HardState, ents []raft.Entry, sync bool) error
	// SaveSnapshot durably records a snapshot; entries it covers may be
	// dropped from storage afterwards.
	SaveSnapshot(s raft.Snapshot) error
}

// Transport sends messages to peers. It must not block for long.
type Transport interface {
	Send(msgs []raft.Message)
}

// StateMachine is the replicated application. It must be deterministic:
// the same entries in the same order give the same state and results.
type StateMachine interface {
	// Apply applies one committed entry and returns its result.
	Apply(e raft.Entry) any
	// Snapshot returns an image of the state after the last applied entry.
	Snapshot() ([]byte, error)
	// Restore replaces the state with an image made by Snapshot.
	Restore(data []byte) error
}

// Listener hears about applied entries and reads that became safe. Calls
// come from the goroutine that calls the driver, in log order.
type Listener interface {
	// Applied reports that e was applied with result. ack is true when
	// this node is the one to acknowledge e's client (raft.Ready.Acks).
	Applied(e raft.Entry, result any, ack bool)
	// ReadReady reports that the read registered as ctx may be served
	// from the state machine now.
	ReadReady(ctx uint64)
	// SoftStateChanged reports a change of leader or role.
	SoftStateChanged(s raft.SoftState)
}

// Config configures a Driver.
type Config struct {
	Raft    raft.Config
	Storage Storage
	// Transport, StateMachine and Listener are required.
	Transport    Transport
	StateMachine StateMachine
	Listener     Listener
	// SnapshotEvery takes a snapshot and compacts the log after that many
	// applied entries; 0 never does.
	SnapshotEvery uint64
	Logger        *slog.Logger
}

// Driver owns one core. It is not safe for concurrent use.
type Driver struct {
	r   *raft.Raft
	cfg Config
	// applied is the index of the last entry applied to the state machine.
	applied uint64
	// snapIndex is the index of the last snapshot taken or installed.
	snapIndex uint64
	// reads wait for applied to reach their index, in arrival order.
	reads []raft.ReadState
	// acks are index ranges this node acknowledges, not yet applied.
	acks []raft.AckRange
	log  *slog.Logger
}

// ErrStorage wraps a storage failure. The node cannot continue: a failed
// write or fsync leaves the disk in an unknown state, and retrying could
// acknowledge what is not durable. The caller must stop the process.
var ErrStorage = errors.New("node: storage failed")

// NewDriver builds a driver over a core restored from st. The state
// machine must already hold st.Snapshot's image (or be empty without one).
func NewDriver(cfg Config, st raft.State) (*Driver, error) {
	if cfg.Storage == nil || cfg.Transport == nil || cfg.StateMachine == nil || cfg.Listener == nil {
		return nil, errors.New("node: driver needs storage, transport, state machine and listener")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Raft.Logger == nil {
		cfg.Raft.Logger = cfg.Logger
	}
	r, err := raft.New(cfg.Raft, st)
	if err != nil {
		return nil, fmt.Errorf("node: start core: %w", err)
	}
	d := &Driver{r: r, cfg: cfg, log: cfg.Logger}
	if st.Snapshot != nil {
		d.snapIndex = st.Snapshot.Meta.Index
	}
	d.applied = r.Status().Applied
	return d, nil
}

// Raft exposes the core for reads of its state (Status, Role, Leader).
// Callers must not feed it input directly: use the driver's methods.
func (d *Driver) Raft() *raft.Raft { return d.r }

// Applied returns the index of the last entry applied.
func (d *Driver) Applied() uint64 { return d.applied }

// Step feeds a message from a peer.
func (d *Driver) Step(m raft.Message) error { return d.r.Step(m) }

// Tick advances the core's clock by one tick.
func (d *Driver) Tick() { d.r.Tick() }

// Propose offers commands to the core; see raft.Raft.Propose.
func (d *Driver) Propose(ps ...raft.Proposal) (first, last uint64, err error) {
	return d.r.Propose(ps...)
}

// ReadIndex registers a linearizable read; Listener.ReadReady fires when
// it may be served.
func (d *Driver) ReadIndex(ctx uint64, mode raft.ReadMode) error {
	return d.r.ReadIndex(ctx, mode)
}

// TransferLeadership asks the leader to hand over to id.
func (d *Driver) TransferLeadership(id uint64) error { return d.r.TransferLeadership(id) }

// HandleReady processes one batch of the core's work, if there is any, and
// reports whether there was. An error wraps ErrStorage and is fatal.
func (d *Driver) HandleReady() (bool, error) {
	if !d.r.HasReady() {
		return false, nil
	}
	rd := d.r.Ready()
	if rd.Snapshot != nil {
		if err := d.cfg.Storage.SaveSnapshot(*rd.Snapshot); err != nil {
			return true, fmt.Errorf("%w: save snapshot %d: %v", ErrStorage, rd.Snapshot.Meta.Index, err)
		}
	}
	if !rd.HardState.IsEmpty() || len(rd.Entries) > 0 {
		if err := d.cfg.Storage.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
			return true, fmt.Errorf("%w: save %s: %v", ErrStorage, raft.DescribeReady(rd), err)
		}
	}
	if len(rd.Messages) > 0 {
		d.cfg.Transport.Send(rd.Messages)
	}
	if rd.SoftState != nil {
		d.cfg.Listener.SoftStateChanged(*rd.SoftState)
	}
	if rd.Snapshot != nil {
		if err := d.cfg.StateMachine.Restore(rd.Snapshot.Data); err != nil {
			// A snapshot the leader sent that we cannot load is as fatal
			// as a disk error: we would diverge.
			return true, fmt.Errorf("%w: restore snapshot %d: %v", ErrStorage, rd.Snapshot.Meta.Index, err)
		}
		d.applied = rd.Snapshot.Meta.Index
		d.snapIndex = rd.Snapshot.Meta.Index
	}
	d.acks = append(d.acks, rd.Acks...)
	for _, e := range rd.CommittedEntries {
		if e.Index != d.applied+1 {
			panic(fmt.Sprintf("node: applying %d after %d", e.Index, d.applied))
		}
		var result any
		if e.Type == raft.EntryNormal {
			result = d.cfg.StateMachine.Apply(e)
		}
		d.applied = e.Index
		d.cfg.Listener.Applied(e, result, d.takeAck(e.Index))
	}
	d.reads = append(d.reads, rd.ReadStates...)
	d.serveReads()
	d.r.Advance()
	if err := d.maybeSnapshot(); err != nil {
		return true, err
	}
	return true, nil
}

// takeAck reports whether index falls in an acknowledged range, dropping
// ranges already passed.
func (d *Driver) takeAck(index uint64) bool {
	for len(d.acks) > 0 && d.acks[0].Hi < index {
		d.acks = d.acks[1:]
	}
	return len(d.acks) > 0 && d.acks[0].Lo <= index
}

func (d *Driver) serveReads() {
	n := 0
	for _, rs := range d.reads {
		if rs.Index > d.applied {
			break
		}
		d.cfg.Listener.ReadReady(rs.Ctx)
		n++
	}
	d.reads = d.reads[n:]
}

func (d *Driver) maybeSnapshot() error {
	if d.cfg.SnapshotEvery == 0 || d.applied-d.snapIndex < d.cfg.SnapshotEvery {
		return nil
	}
	term, err := d.r.LogTerm(d.applied)
	if err != nil {
		return fmt.Errorf("node: snapshot at %d: %w", d.applied, err)
	}
	data, err := d.cfg.StateMachine.Snapshot()
	if err != nil {
		return fmt.Errorf("node: snapshot state machine at %d: %w", d.applied, err)
	}
	s := raft.Snapshot{Meta: raft.SnapshotMeta{Index: d.applied, Term: term, Members: d.r.Members()}, Data: data}
	if err := d.cfg.Storage.SaveSnapshot(s); err != nil {
		return fmt.Errorf("%w: save snapshot %d: %v", ErrStorage, s.Meta.Index, err)
	}
	if err := d.r.Compact(s); err != nil {
		return fmt.Errorf("node: compact to %d: %w", s.Meta.Index, err)
	}
	d.snapIndex = s.Meta.Index
	return nil
}
