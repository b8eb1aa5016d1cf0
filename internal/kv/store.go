package kv

import (
	"fmt"

	"github.com/google/btree"
	"github.com/raftkv/raftkv/internal/raft"
)

// Defaults for the zero Config.
const (
	DefaultResultsPerSession = 64
	DefaultMaxSessions       = 4096
	// DefaultSessionTTL is one hour in nanoseconds: far longer than any
	// client retries one request, short enough that abandoned clients do not
	// pin memory for long.
	DefaultSessionTTL int64 = 3600 * 1e9
)

// btreeDegree is the fan-out of the in-memory trees. 32 keeps nodes within a
// few cache lines of pointers while keeping the tree shallow (4 levels hold
// over a million keys); see docs/kv-storage.md for the measurements.
const btreeDegree = 32

// Config bounds the exactly-once session table. Every replica of a cluster
// must use the same Config: the bounds decide which retries are deduplicated,
// so two replicas with different bounds could apply the same log differently.
// Snapshots record the Config, and Restore refuses an image taken under a
// different one.
type Config struct {
	// ResultsPerSession is how many of a client's most recent results are
	// kept for answering retries; 0 means DefaultResultsPerSession. A client
	// may have at most this many requests outstanding and still get
	// exactly-once answers for all of them.
	ResultsPerSession int
	// MaxSessions bounds the number of client sessions; 0 means
	// DefaultMaxSessions. When a new session would exceed it, the session
	// seen least recently (by log index) is dropped.
	MaxSessions int
	// SessionTTL, in nanoseconds of leader-stamped time, is how long a
	// session may go unseen before it is dropped; 0 means
	// DefaultSessionTTL, negative means sessions never expire by time.
	SessionTTL int64
}

func (c Config) withDefaults() Config {
	if c.ResultsPerSession <= 0 {
		c.ResultsPerSession = DefaultResultsPerSession
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	return c
}

// Store is the replicated key-value state machine. It is not safe for
// concurrent use: one goroutine (the node's apply loop) owns it. To serialize
// a snapshot elsewhere, that goroutine calls Clone and hands the clone over.
type Store struct {
	cfg Config // normalized by withDefaults

	data     *btree.BTreeG[item]
	sessions *btree.BTreeG[sessionRef] // by client id
	lru      *btree.BTreeG[lruKey]     // by last log index a session was seen at
	// cow marks the sessions this Store may modify in place; sessions owned
	// by another token are shared with a clone and are copied first.
	cow *cowToken

	// Invariant: revision <= applied (each entry mutates at most once).
	applied  uint64
	revision uint64
	// now is the largest command timestamp applied so far: leader clocks
	// may step backwards across elections, state machine time never does.
	now int64
}

// item is one key's record. Items are values, never modified in place, so a
// Clone's tree can share them.
type item struct {
	key     string
	value   string
	create  uint64
	mod     uint64
	version uint64
}

func itemLess(a, b item) bool { return a.key < b.key }

// New returns an empty store at applied index 0 and revision 0.
func New(cfg Config) *Store {
	return &Store{
		cfg:      cfg.withDefaults(),
		data:     btree.NewG(btreeDegree, itemLess),
		sessions: btree.NewG(btreeDegree, sessionLess),
		lru:      btree.NewG(btreeDegree, lruLess),
		cow:      new(cowToken),
	}
}

// Config returns the store's configuration with defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// AppliedIndex is the index of the last entry applied (or restored from a
// snapshot). Reads served after a ReadIndex wait until it reaches the read
// index.
func (s *Store) AppliedIndex() uint64 { return s.applied }

// Revision is the number of mutations applied so far. It increases by one
// with every Put and every Delete that removed a key, and by nothing else.
func (s *Store) Revision() uint64 { return s.revision }

// Len is the number of keys in the store.
func (s *Store) Len() int { return s.data.Len() }

// SessionCount is the number of live client sessions.
func (s *Store) SessionCount() int { return s.sessions.Len() }

// Apply applies one committed log entry and returns its result.
//
// Entries must arrive with strictly increasing indexes. An index at or below
// AppliedIndex is a programming error in the caller (it would apply a command
// twice and let replicas diverge), so Apply panics rather than return an
// error that could be ignored. Gaps are allowed, so the caller may keep
// entries that are not for the state machine to itself.
//
// A no-op entry only advances the applied index. An entry whose command does
// not decode returns a result with Err wrapping ErrInvalidCommand (definite:
// it changed nothing). ClientID 0 applies without deduplication; any other
// ClientID goes through the client's session (see doc.go).
func (s *Store) Apply(e raft.Entry) Result {
	if e.Index <= s.applied {
		panic(fmt.Sprintf("kv: apply of index %d at or below applied index %d", e.Index, s.applied))
	}
	s.applied = e.Index
	switch e.Type {
	case raft.EntryNoop:
		return Result{Index: e.Index, Revision: s.revision}
	case raft.EntryNormal:
	default:
		return s.failed(e, fmt.Errorf("%w: entry type %v", ErrInvalidCommand, e.Type))
	}
	cmd, err := DecodeCommand(e.Data)
	if err != nil {
		return s.failed(e, err)
	}
	s.advanceClock(cmd.Timestamp)
	if e.ClientID == 0 {
		return s.exec(&cmd, e.Index)
	}
	return s.applyInSession(e, &cmd)
}

func (s *Store) failed(e raft.Entry, err error) Result {
	return Result{
		Index:    e.Index,
		Revision: s.revision,
		Err:      fmt.Errorf("apply entry %d (client %d request %d): %w", e.Index, e.ClientID, e.RequestID, err),
	}
}

// exec carries out a decoded command against the data and returns its
// outcome. It never fails: a malformed command was rejected by the decoder,
// and a condition that does not hold is an ordinary StatusConflict.
func (s *Store) exec(c *Command, index uint64) Result {
	r := Result{Index: index}
	cur, exists := s.data.Get(item{key: c.Key})
	if c.Conditional && c.IfVersion != cur.version {
		r.Status = StatusConflict
		r.Revision = s.revision
		r.Version, r.CreateRevision, r.ModRevision = cur.version, cur.create, cur.mod
		return r
	}
	switch c.Op {
	case OpPut:
		s.revision++
		it := item{key: c.Key, value: c.Value, create: s.revision, mod: s.revision, version: 1}
		if exists {
			it.create = cur.create
			it.version = cur.version + 1
		}
		s.data.ReplaceOrInsert(it)
		r.Status = StatusOK
		r.Version, r.CreateRevision, r.ModRevision = it.version, it.create, it.mod
	case OpDelete:
		if !exists {
			r.Status = StatusNotFound
			break
		}
		s.data.Delete(cur)
		s.revision++
		r.Status = StatusOK
	default:
		// Unreachable: the decoder rejects unknown ops.
		panic(fmt.Sprintf("kv: exec of unknown op %v", c.Op))
	}
	r.Revision = s.revision
	return r
}

// Clone returns an independent copy of the store in O(1). The trees are
// shared copy-on-write (github.com/google/btree Clone), and sessions are
// copied the first time either side modifies them, so the clone is a stable
// point-in-time image: the owner can keep applying while another goroutine
// writes the clone's snapshot.
//
// Clone itself modifies s (it retires s's copy-on-write token), so only the
// goroutine that owns s may call it.
func (s *Store) Clone() *Store {
	c := *s
	c.data = s.data.Clone()
	c.sessions = s.sessions.Clone()
	c.lru = s.lru.Clone()
	s.cow, c.cow = new(cowToken), new(cowToken)
	return &c
}

// cowToken identifies which Store may modify a session in place. It has a
// nonzero size so that every allocation has a distinct address.
type cowToken struct{ _ byte }
