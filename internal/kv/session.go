package kv

import (
	"fmt"
	"sort"

	"github.com/raftkv/raftkv/internal/raft"
)

// session is one client's exactly-once state (thesis §6.3): the results of
// its most recent requests, so that a retry is answered from here instead of
// being applied again.
type session struct {
	clientID uint64
	// lastIndex and lastSeen are the log index and state machine time at
	// which the client was last seen. lastIndex is unique across sessions
	// (one entry touches one session), which gives the eviction order a
	// total, replica-independent tie-break.
	lastIndex uint64
	lastSeen  int64
	// Invariant: every request id the session has applied and that is not
	// in results is <= floor, because the cache always drops its smallest id.
	floor uint64
	// results is sorted by requestID, at most Config.ResultsPerSession long.
	results []cachedResult
	owner   *cowToken
}

// cachedResult is the part of a Result worth remembering: errors are never
// cached, because a request that failed with an error changed nothing.
type cachedResult struct {
	requestID uint64
	index     uint64
	status    Status
	revision  uint64
	version   uint64
	create    uint64
	mod       uint64
}

func (c *cachedResult) result() Result {
	return Result{
		Index: c.index, Status: c.status, Revision: c.revision,
		Version: c.version, CreateRevision: c.create, ModRevision: c.mod,
		Duplicate: true,
	}
}

func newCachedResult(requestID uint64, r *Result) cachedResult {
	return cachedResult{
		requestID: requestID, index: r.Index, status: r.Status, revision: r.Revision,
		version: r.Version, create: r.CreateRevision, mod: r.ModRevision,
	}
}

// find returns the position of requestID in the cache, or where it would go.
func (ss *session) find(requestID uint64) (int, bool) {
	i := sort.Search(len(ss.results), func(i int) bool { return ss.results[i].requestID >= requestID })
	return i, i < len(ss.results) && ss.results[i].requestID == requestID
}

// record caches a result, dropping the smallest request id beyond limit.
func (ss *session) record(c cachedResult, limit int) {
	i, _ := ss.find(c.requestID)
	ss.results = append(ss.results, cachedResult{})
	copy(ss.results[i+1:], ss.results[i:])
	ss.results[i] = c
	if len(ss.results) > limit {
		ss.floor = ss.results[0].requestID
		ss.results = append(ss.results[:0], ss.results[1:]...)
	}
}

// sessionRef is the item of the sessions tree. Keeping the key beside the
// pointer lets a lookup build its probe without allocating.
type sessionRef struct {
	clientID uint64
	s        *session
}

func sessionLess(a, b sessionRef) bool { return a.clientID < b.clientID }

// lruKey orders sessions by the log index they were last seen at. Since
// state machine time never decreases, that is also the order of lastSeen, so
// the least recently seen session is always the tree's minimum.
type lruKey struct {
	lastIndex uint64
	clientID  uint64
}

func lruLess(a, b lruKey) bool { return a.lastIndex < b.lastIndex }

// applyInSession applies c at most once for the request (e.ClientID,
// e.RequestID).
func (s *Store) applyInSession(e raft.Entry, c *Command) Result {
	if e.RequestID == 0 {
		return s.failed(e, ErrBadRequestID)
	}
	ref, ok := s.sessions.Get(sessionRef{clientID: e.ClientID})
	ss := ref.s
	if !ok {
		if e.RequestID != 1 {
			return s.failed(e, ErrSessionExpired)
		}
		for s.sessions.Len() >= s.cfg.MaxSessions {
			s.dropOldestSession()
		}
		ss = &session{clientID: e.ClientID, owner: s.cow}
		s.sessions.ReplaceOrInsert(sessionRef{clientID: e.ClientID, s: ss})
	} else {
		ss = s.mutableSession(ss)
		s.lru.Delete(lruKey{lastIndex: ss.lastIndex})
	}
	// The client is alive whatever the outcome below.
	ss.lastIndex, ss.lastSeen = e.Index, s.now
	s.lru.ReplaceOrInsert(lruKey{lastIndex: e.Index, clientID: e.ClientID})

	if i, found := ss.find(e.RequestID); found {
		return ss.results[i].result()
	}
	if e.RequestID <= ss.floor {
		return s.failed(e, fmt.Errorf("%w: oldest cached request id is above %d", ErrSessionEvicted, ss.floor))
	}
	r := s.exec(c, e.Index)
	ss.record(newCachedResult(e.RequestID, &r), s.cfg.ResultsPerSession)
	return r
}

// mutableSession returns a version of ss that this Store may modify, copying
// it first if it is shared with a clone.
func (s *Store) mutableSession(ss *session) *session {
	if ss.owner == s.cow {
		return ss
	}
	c := *ss
	c.results = append(make([]cachedResult, 0, len(ss.results)+1), ss.results...)
	c.owner = s.cow
	s.sessions.ReplaceOrInsert(sessionRef{clientID: c.clientID, s: &c})
	return &c
}

// advanceClock moves state machine time forward to ts (never backward) and
// drops every session not seen for longer than the TTL.
func (s *Store) advanceClock(ts int64) {
	if ts <= s.now {
		return
	}
	s.now = ts
	if s.cfg.SessionTTL < 0 {
		return
	}
	for {
		oldest, ok := s.lru.Min()
		if !ok {
			return
		}
		ref, _ := s.sessions.Get(sessionRef{clientID: oldest.clientID})
		// now >= lastSeen always, so the unsigned difference cannot wrap.
		if uint64(s.now)-uint64(ref.s.lastSeen) <= uint64(s.cfg.SessionTTL) {
			return
		}
		s.dropOldestSession()
	}
}

// dropOldestSession forgets the session seen least recently.
func (s *Store) dropOldestSession() {
	oldest, ok := s.lru.DeleteMin()
	if !ok {
		panic("kv: session table over its bound with no sessions")
	}
	if _, ok := s.sessions.Delete(sessionRef{clientID: oldest.clientID}); !ok {
		panic(fmt.Sprintf("kv: lru names client %d, which has no session", oldest.clientID))
	}
}
