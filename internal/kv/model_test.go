package kv

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

var (
	modelSeed   = flag.Uint64("kv.seed", 0, "run the model test with this seed only")
	modelSeeds  = flag.Int("kv.seeds", 40, "number of fixed seeds the model test runs")
	modelRandom = flag.Bool("kv.random", false, "also run the model test with a seed from the clock")
	modelSteps  = flag.Int("kv.steps", 3000, "steps per model test seed")
)

// model is a naive twin of Store: a plain map, every result ever produced
// kept forever, and the session rules written as directly as possible
// (scans instead of indexes). The Store must agree with it on every result
// and every read.
type model struct {
	cfg      Config
	kv       map[string]KeyValue
	revision uint64
	now      int64
	sessions map[uint64]*modelSession
}

type modelSession struct {
	applied   []uint64 // every request id applied, ascending
	results   map[uint64]Result
	lastIndex uint64
	lastSeen  int64
}

func newModel(cfg Config) *model {
	return &model{cfg: cfg.withDefaults(), kv: map[string]KeyValue{}, sessions: map[uint64]*modelSession{}}
}

// apply mirrors Store.Apply; valid reports whether e.Data decodes to c.
func (m *model) apply(e raft.Entry, c Command, valid bool) Result {
	if e.Type == raft.EntryNoop {
		return Result{Index: e.Index, Revision: m.revision}
	}
	if e.Type != raft.EntryNormal || !valid {
		return Result{Index: e.Index, Revision: m.revision, Err: ErrInvalidCommand}
	}
	if c.Timestamp > m.now {
		m.now = c.Timestamp
		if m.cfg.SessionTTL >= 0 {
			for id, s := range m.sessions {
				if uint64(m.now)-uint64(s.lastSeen) > uint64(m.cfg.SessionTTL) {
					delete(m.sessions, id)
				}
			}
		}
	}
	if e.ClientID == 0 {
		return m.exec(c, e.Index)
	}
	fail := func(err error) Result { return Result{Index: e.Index, Revision: m.revision, Err: err} }
	if e.RequestID == 0 {
		return fail(ErrBadRequestID)
	}
	s := m.sessions[e.ClientID]
	if s == nil {
		if e.RequestID != 1 {
			return fail(ErrSessionExpired)
		}
		if len(m.sessions) >= m.cfg.MaxSessions {
			var oldest uint64
			for id, o := range m.sessions {
				if oldest == 0 || o.lastIndex < m.sessions[oldest].lastIndex {
					oldest = id
				}
			}
			delete(m.sessions, oldest)
		}
		s = &modelSession{results: map[uint64]Result{}}
		m.sessions[e.ClientID] = s
	}
	s.lastIndex, s.lastSeen = e.Index, m.now
	// The cache holds the ResultsPerSession largest ids applied; the floor
	// is the largest id applied but not cached.
	k := m.cfg.ResultsPerSession
	var cached []uint64
	var floor uint64
	if n := len(s.applied); n > k {
		cached, floor = s.applied[n-k:], s.applied[n-k-1]
	} else {
		cached = s.applied
	}
	if slices.Contains(cached, e.RequestID) {
		r := s.results[e.RequestID]
		r.Duplicate = true
		return r
	}
	if e.RequestID <= floor {
		return fail(ErrSessionEvicted)
	}
	r := m.exec(c, e.Index)
	s.applied = append(s.applied, e.RequestID)
	slices.Sort(s.applied)
	s.results[e.RequestID] = r
	return r
}

func (m *model) exec(c Command, index uint64) Result {
	cur, exists := m.kv[c.Key]
	r := Result{Index: index, Revision: m.revision}
	if c.Conditional && c.IfVersion != cur.Version {
		r.Status = StatusConflict
		r.Version, r.CreateRevision, r.ModRevision = cur.Version, cur.CreateRevision, cur.ModRevision
		return r
	}
	if c.Op == OpDelete {
		if !exists {
			r.Status = StatusNotFound
			return r
		}
		delete(m.kv, c.Key)
		m.revision++
		return Result{Index: index, Status: StatusOK, Revision: m.revision}
	}
	m.revision++
	n := KeyValue{Key: c.Key, Value: c.Value, CreateRevision: m.revision, ModRevision: m.revision, Version: 1}
	if exists {
		n.CreateRevision, n.Version = cur.CreateRevision, cur.Version+1
	}
	m.kv[c.Key] = n
	return Result{Index: index, Status: StatusOK, Revision: m.revision,
		Version: n.Version, CreateRevision: n.CreateRevision, ModRevision: n.ModRevision}
}

func (m *model) rangeOf(req RangeRequest) RangeResult {
	var keys []string
	for k := range m.kv {
		if k >= req.Start && (req.End == "" || k < req.End) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := RangeResult{Revision: m.revision}
	if req.Limit > 0 && len(keys) > req.Limit {
		keys, res.More = keys[:req.Limit], true
	}
	for _, k := range keys {
		res.KVs = append(res.KVs, m.kv[k])
	}
	return res
}

func TestStoreAgainstModel(t *testing.T) {
	var seeds []uint64
	switch {
	case *modelSeed != 0:
		seeds = []uint64{*modelSeed}
	default:
		for i := 1; i <= *modelSeeds; i++ {
			seeds = append(seeds, uint64(i))
		}
		if *modelRandom {
			seeds = append(seeds, uint64(time.Now().UnixNano()))
		}
	}
	steps := *modelSteps
	if testing.Short() {
		steps /= 10
	}
	seen := map[string]int{}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if msg := runModel(t, seed, steps, seen); msg != "" {
				t.Fatalf("seed %d (rerun: go test -run TestStoreAgainstModel ./internal/kv/ -kv.seed=%d): %s", seed, seed, msg)
			}
		})
	}
	// The workload must reach every outcome, or agreement proves little.
	t.Logf("outcomes over %d seeds: %v", len(seeds), seen)
	if len(seeds) >= 10 && !t.Failed() {
		for _, what := range []string{"OK", "NotFound", "Conflict", "Duplicate", "Noop", "expired by time",
			"evicted by MaxSessions", ErrSessionEvicted.Error(), ErrSessionExpired.Error(),
			ErrBadRequestID.Error(), ErrInvalidCommand.Error(), "snapshot", "clone"} {
			if seen[what] == 0 {
				t.Errorf("no seed reached %q; outcomes: %v", what, seen)
			}
		}
	}
}

// runModel drives a Store and the model with one seeded workload and returns
// a description of the first disagreement, or "".
func runModel(t *testing.T, seed uint64, steps int, seen map[string]int) string {
	rng := rand.New(rand.NewPCG(seed, 0x6b76))
	cfg := Config{ResultsPerSession: 1 + rng.IntN(5), MaxSessions: 1 + rng.IntN(5), SessionTTL: int64(50 + rng.IntN(300))}
	if rng.IntN(8) == 0 {
		cfg.SessionTTL = -1
	}
	s, m := New(cfg), newModel(cfg)

	alphabet := []byte{'a', 'b', 0x00, 0xff}
	randKey := func() string {
		b := make([]byte, 1+rng.IntN(3))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	// Clients: a pool of ids and the next request id each will use.
	clients := []uint64{1, 2, 3, 4, 5, 6}
	nextReq := map[uint64]uint64{}
	nextClient := uint64(7)
	clock := int64(1000)
	var index uint64

	for step := 0; step < steps; step++ {
		index++
		if rng.IntN(20) == 0 {
			index += uint64(rng.IntN(3)) // gaps are allowed
		}
		switch n := rng.IntN(10); {
		case n < 6:
			clock += int64(rng.IntN(30))
		case n < 7:
			clock -= int64(rng.IntN(60)) // a new leader with a slower clock
		case n < 8:
			clock += cfg.SessionTTL
		}

		e := raft.Entry{Term: 1, Index: index, Type: raft.EntryNormal}
		var c Command
		valid := true
		switch n := rng.IntN(100); {
		case n < 3:
			e.Type = raft.EntryNoop
		case n < 4:
			e.Type = raft.EntryType(2 + rng.IntN(5))
		case n < 7:
			e.Data = []byte{byte(rng.IntN(3)), byte(rng.IntN(4))}
			valid = false
		default:
			key := randKey()
			switch rng.IntN(4) {
			case 0:
				c = Command{Op: OpPut, Key: key, Value: fmt.Sprint(step)}
			case 1:
				c = Command{Op: OpDelete, Key: key}
			case 2:
				c = Command{Op: OpPut, Key: key, Value: fmt.Sprint(step), Conditional: true, IfVersion: uint64(rng.IntN(3))}
			case 3:
				c = Command{Op: OpDelete, Key: key, Conditional: true, IfVersion: uint64(rng.IntN(3))}
			}
			c.Timestamp = clock
			e.Data = AppendCommand(nil, &c)
		}
		if e.Type == raft.EntryNormal && rng.IntN(5) != 0 {
			ci := rng.IntN(len(clients))
			e.ClientID = clients[ci]
			next := nextReq[e.ClientID] + 1
			switch n := rng.IntN(20); {
			case n < 12: // the next request
				e.RequestID = next
			case n < 16: // a retry of a recent one
				e.RequestID = uint64(max(1, int64(next)-1-int64(rng.IntN(6))))
			case n < 18: // one overtaking others still in flight
				e.RequestID = next + uint64(rng.IntN(4))
			case n < 19: // a very old one
				e.RequestID = 1 + uint64(rng.IntN(int(next)))
			default: // a buggy client
				e.RequestID = 0
			}
			nextReq[e.ClientID] = max(nextReq[e.ClientID], e.RequestID)
		}

		sessionsBefore := len(m.sessions)
		got, want := s.Apply(e), m.apply(e, c, valid)
		switch {
		case got.Err != nil:
			seen[errClass(got.Err).Error()]++
		case got.Duplicate:
			seen["Duplicate"]++
		case e.Type == raft.EntryNoop:
			seen["Noop"]++
		default:
			seen[got.Status.String()]++
		}
		if len(m.sessions) < sessionsBefore {
			seen["expired by time"]++
		}
		if len(m.sessions) == sessionsBefore && sessionsBefore == cfg.MaxSessions && e.RequestID == 1 && !got.Duplicate && got.Err == nil {
			seen["evicted by MaxSessions"]++
		}
		if !sameOutcome(got, want) {
			return fmt.Sprintf("step %d entry %d (client %d request %d) %v: store %+v, model %+v",
				step, e.Index, e.ClientID, e.RequestID, c, got, want)
		}
		if got.Err != nil && errClass(got.Err) == ErrSessionExpired {
			// The client starts over under a new id, as doc.go tells it to.
			for i, id := range clients {
				if id == e.ClientID {
					clients[i] = nextClient
					nextClient++
				}
			}
		}

		if s.Revision() != m.revision || s.AppliedIndex() != index || s.SessionCount() != len(m.sessions) {
			return fmt.Sprintf("step %d: store revision %d applied %d sessions %d; model %d %d %d",
				step, s.Revision(), s.AppliedIndex(), s.SessionCount(), m.revision, index, len(m.sessions))
		}
		if msg := compareReads(s, m, rng); msg != "" {
			return fmt.Sprintf("step %d: %s", step, msg)
		}

		switch rng.IntN(200) {
		case 0: // install a snapshot into a fresh replica and carry on there
			var buf bytes.Buffer
			if err := s.WriteSnapshot(&buf); err != nil {
				return fmt.Sprintf("step %d: snapshot: %v", step, err)
			}
			n := New(cfg)
			if err := n.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				return fmt.Sprintf("step %d: restore: %v", step, err)
			}
			s = n
			seen["snapshot"]++
		case 1: // carry on in a clone, or in the original, and check the other froze
			frozen := snapshotBytes(t, s)
			other := s.Clone()
			if rng.IntN(2) == 0 {
				s, other = other, s
			}
			seen["clone"]++
			defer func() {
				if !bytes.Equal(snapshotBytes(t, other), frozen) {
					t.Errorf("seed %d: the store left behind at step %d changed", seed, step)
				}
			}()
		}
	}
	return ""
}

func compareReads(s *Store, m *model, rng *rand.Rand) string {
	for k, want := range m.kv {
		if got, ok := s.Get(k); !ok || got != want {
			return fmt.Sprintf("Get(%q) = %+v %v, model %+v", k, got, ok, want)
		}
	}
	if s.Len() != len(m.kv) {
		return fmt.Sprintf("store has %d keys, model %d", s.Len(), len(m.kv))
	}
	reqs := []RangeRequest{{}, PrefixRange(string(rune('a'+rng.IntN(2))), rng.IntN(4))}
	pick := []string{"", "a", "b", "\x00", "\xff", "a\xff", "\xff\xff", "ab"}
	reqs = append(reqs,
		PrefixRange(pick[rng.IntN(len(pick))], rng.IntN(4)),
		RangeRequest{Start: pick[rng.IntN(len(pick))], End: pick[rng.IntN(len(pick))], Limit: rng.IntN(5) - 1})
	for _, req := range reqs {
		got, want := s.Range(req), m.rangeOf(req)
		if got.More != want.More || got.Revision != want.Revision || !slices.Equal(got.KVs, want.KVs) {
			return fmt.Sprintf("Range(%q, %q, %d) = %+v, model %+v", req.Start, req.End, req.Limit, got, want)
		}
	}
	return ""
}
