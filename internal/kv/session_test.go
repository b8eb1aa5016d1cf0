package kv

import (
	"errors"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestSessionDeduplicatesRetries(t *testing.T) {
	d := newDriver(t, Config{})
	first := d.apply(mustPut(t, "a", "1"), 10, 7, 1)
	if first.Status != StatusOK || first.Duplicate {
		t.Fatalf("first apply: %+v", first)
	}
	// The retry is restamped by a later leader and even carries other bytes:
	// the request id alone decides.
	retry := d.apply(mustPut(t, "a", "2"), 20, 7, 1)
	want := first
	want.Duplicate = true
	if retry != want {
		t.Fatalf("retry: got %+v, want %+v", retry, want)
	}
	if kv, _ := d.s.Get("a"); kv.Value != "1" || kv.Version != 1 || d.s.Revision() != 1 {
		t.Fatalf("retry changed state: %+v revision %d", kv, d.s.Revision())
	}
	if d.s.AppliedIndex() != 2 {
		t.Fatalf("applied index %d, want 2", d.s.AppliedIndex())
	}
}

// TestSessionCachesNonMutatingOutcomes: a conflict is an answer too. If it
// were re-evaluated on retry, a retry arriving after someone else fixed the
// version would apply a write the client was told had failed.
func TestSessionCachesNonMutatingOutcomes(t *testing.T) {
	d := newDriver(t, Config{})
	d.do(mustPut(t, "a", "1"))
	conflict := d.apply(mustCASPut(t, "a", "x", 2), 1, 9, 1)
	if conflict.Status != StatusConflict || conflict.Version != 1 {
		t.Fatalf("cas: %+v", conflict)
	}
	missing := d.apply(mustDelete(t, "zz"), 1, 9, 2)
	if missing.Status != StatusNotFound {
		t.Fatalf("delete: %+v", missing)
	}
	d.do(mustPut(t, "a", "2"))  // a is now at version 2: the CAS would match
	d.do(mustPut(t, "zz", "1")) // zz exists now: the delete would remove it
	for req, want := range map[uint64]Result{1: conflict, 2: missing} {
		want.Duplicate = true
		var c Command
		if req == 1 {
			c = mustCASPut(t, "a", "x", 2)
		} else {
			c = mustDelete(t, "zz")
		}
		if got := d.apply(c, 1, 9, req); got != want {
			t.Fatalf("retry of request %d: got %+v, want %+v", req, got, want)
		}
	}
	if kv, _ := d.s.Get("a"); kv.Value != "2" {
		t.Fatalf("a = %+v", kv)
	}
	if _, ok := d.s.Get("zz"); !ok {
		t.Fatal("zz was deleted by a retry")
	}
}

func TestSessionOutOfOrderWithinWindow(t *testing.T) {
	d := newDriver(t, Config{ResultsPerSession: 4})
	r1 := d.apply(mustPut(t, "k", "1"), 1, 5, 1)
	r3 := d.apply(mustPut(t, "k", "3"), 1, 5, 3)
	r2 := d.apply(mustPut(t, "k", "2"), 1, 5, 2)
	if r1.Status != StatusOK || r2.Status != StatusOK || r3.Status != StatusOK || r2.Version != 3 {
		t.Fatalf("results %+v %+v %+v", r1, r2, r3)
	}
	for req, want := range map[uint64]Result{1: r1, 2: r2, 3: r3} {
		want.Duplicate = true
		if got := d.apply(mustPut(t, "k", "again"), 1, 5, req); got != want {
			t.Fatalf("retry %d: got %+v, want %+v", req, got, want)
		}
	}
	if d.s.Revision() != 3 {
		t.Fatalf("revision %d, want 3", d.s.Revision())
	}
}

func TestSessionEviction(t *testing.T) {
	d := newDriver(t, Config{ResultsPerSession: 3})
	results := map[uint64]Result{}
	for req := uint64(1); req <= 5; req++ {
		results[req] = d.apply(mustPut(t, "k", "v"), 1, 5, req)
	}
	// Cache holds 3, 4, 5; 1 and 2 are gone.
	for _, req := range []uint64{1, 2} {
		r := d.apply(mustPut(t, "k", "v"), 1, 5, req)
		if !errors.Is(r.Err, ErrSessionEvicted) || r.Status != StatusNone || r.Duplicate {
			t.Fatalf("retry of evicted request %d: %+v", req, r)
		}
	}
	for _, req := range []uint64{3, 4, 5} {
		want := results[req]
		want.Duplicate = true
		if got := d.apply(mustPut(t, "k", "v"), 1, 5, req); got != want {
			t.Fatalf("retry %d: got %+v, want %+v", req, got, want)
		}
	}
	if d.s.Revision() != 5 {
		t.Fatalf("revision %d, want 5", d.s.Revision())
	}
}

// TestSessionEvictionOutOfOrder: a request id that was never applied but is
// below the eviction floor is refused too, because the store cannot tell it
// from one that was applied and evicted.
func TestSessionEvictionOutOfOrder(t *testing.T) {
	d := newDriver(t, Config{ResultsPerSession: 3})
	for _, req := range []uint64{1, 5, 6, 7} { // cache 5, 6, 7; floor 1
		if r := d.apply(mustPut(t, "k", "v"), 1, 5, req); r.Status != StatusOK {
			t.Fatalf("request %d: %+v", req, r)
		}
	}
	// 2 is above the floor and new: it applies, then is itself the smallest
	// and is evicted at once, raising the floor to 2.
	if r := d.apply(mustPut(t, "k", "v"), 1, 5, 2); r.Status != StatusOK || r.Duplicate {
		t.Fatalf("late request 2: %+v", r)
	}
	for _, req := range []uint64{2, 1} {
		if r := d.apply(mustPut(t, "k", "v"), 1, 5, req); !errors.Is(r.Err, ErrSessionEvicted) {
			t.Fatalf("request %d after floor 2: %+v", req, r)
		}
	}
	if r := d.apply(mustPut(t, "k", "v"), 1, 5, 3); r.Status != StatusOK || r.Duplicate {
		t.Fatalf("late request 3: %+v", r)
	}
	if d.s.Revision() != 6 {
		t.Fatalf("revision %d, want 6", d.s.Revision())
	}
}

func TestSessionlessAppliesEveryTime(t *testing.T) {
	d := newDriver(t, Config{})
	c := mustPut(t, "k", "v")
	for i := 1; i <= 3; i++ {
		// RequestID is ignored without a client id.
		if r := d.apply(c, 1, 0, 1); r.Status != StatusOK || r.Version != uint64(i) || r.Duplicate {
			t.Fatalf("apply %d: %+v", i, r)
		}
	}
	if d.s.SessionCount() != 0 {
		t.Fatalf("sessions = %d", d.s.SessionCount())
	}
}

func TestSessionRequestIDRules(t *testing.T) {
	d := newDriver(t, Config{})
	if r := d.apply(mustPut(t, "k", "v"), 1, 3, 0); !errors.Is(r.Err, ErrBadRequestID) {
		t.Fatalf("request id 0: %+v", r)
	}
	// An unknown client that does not start at 1 lost its session (or never
	// had one): the store cannot know whether this request applied before.
	if r := d.apply(mustPut(t, "k", "v"), 1, 3, 2); !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("unknown session: %+v", r)
	}
	if d.s.SessionCount() != 0 || d.s.Revision() != 0 {
		t.Fatalf("rejected requests changed state: sessions %d revision %d", d.s.SessionCount(), d.s.Revision())
	}
}

func TestSessionExpiry(t *testing.T) {
	const ttl = 100
	d := newDriver(t, Config{SessionTTL: ttl})
	d.apply(mustPut(t, "a", "1"), 1000, 1, 1)
	d.apply(mustPut(t, "b", "1"), 1050, 2, 1)

	// Time only moves with commands: noops and bad commands do not expire.
	d.s.Apply(raft.Entry{Index: d.s.AppliedIndex() + 1, Type: raft.EntryNoop})
	d.s.Apply(normalEntry(d.s.AppliedIndex()+1, 0, 0, []byte{1}))
	d.apply(mustPut(t, "x", "1"), 1000+ttl, 0, 0) // exactly TTL: still alive
	if d.s.SessionCount() != 2 {
		t.Fatalf("sessions = %d at exactly the TTL", d.s.SessionCount())
	}
	d.apply(mustPut(t, "x", "1"), 1000+ttl+1, 0, 0)
	if d.s.SessionCount() != 1 {
		t.Fatalf("sessions = %d after client 1's TTL", d.s.SessionCount())
	}
	if r := d.apply(mustPut(t, "a", "2"), 1101, 1, 2); !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("expired client: %+v", r)
	}
	if r := d.apply(mustPut(t, "b", "2"), 1101, 2, 2); r.Status != StatusOK {
		t.Fatalf("live client: %+v", r)
	}
	// Client 2 was just seen at 1101; a big jump expires it in the same
	// step that applies the jumping command.
	if r := d.apply(mustPut(t, "b", "3"), 1101+ttl+1, 2, 3); !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("client 2 after its TTL: %+v", r)
	}
	if d.s.SessionCount() != 0 {
		t.Fatalf("sessions = %d", d.s.SessionCount())
	}
}

// TestSessionTimeNeverGoesBack: a new leader with a slow clock stamps an
// older time; the store keeps its time, so sessions are dated by it.
func TestSessionTimeNeverGoesBack(t *testing.T) {
	const ttl = 100
	d := newDriver(t, Config{SessionTTL: ttl})
	d.apply(mustPut(t, "a", "1"), 1000, 1, 1)
	d.apply(mustPut(t, "b", "1"), 500, 2, 1) // seen at 1000, not 500
	d.apply(mustPut(t, "x", "1"), 1100, 0, 0)
	if d.s.SessionCount() != 2 {
		t.Fatalf("sessions = %d, want 2: client 2 must be dated 1000", d.s.SessionCount())
	}
	if d.s.now != 1100 {
		t.Fatalf("now = %d", d.s.now)
	}
	d.apply(mustPut(t, "x", "1"), 1101, 0, 0)
	if d.s.SessionCount() != 0 {
		t.Fatalf("sessions = %d, want 0", d.s.SessionCount())
	}
}

func TestSessionRetryKeepsSessionAlive(t *testing.T) {
	const ttl = 100
	d := newDriver(t, Config{SessionTTL: ttl})
	d.apply(mustPut(t, "a", "1"), 1000, 1, 1)
	if r := d.apply(mustPut(t, "a", "1"), 1090, 1, 1); !r.Duplicate {
		t.Fatalf("retry: %+v", r)
	}
	d.apply(mustPut(t, "x", "1"), 1150, 0, 0)
	if d.s.SessionCount() != 1 {
		t.Fatal("a retry did not count as seeing the client")
	}
}

func TestSessionNegativeTTLNeverExpires(t *testing.T) {
	d := newDriver(t, Config{SessionTTL: -1})
	d.apply(mustPut(t, "a", "1"), 1, 1, 1)
	d.apply(mustPut(t, "a", "1"), 1<<62, 0, 0)
	if d.s.SessionCount() != 1 {
		t.Fatal("session expired with a negative TTL")
	}
}

func TestSessionExpiryAtExtremeTimes(t *testing.T) {
	d := newDriver(t, Config{SessionTTL: 10})
	d.apply(mustPut(t, "a", "1"), -1<<63, 1, 1) // clamps to 0
	d.apply(mustPut(t, "a", "1"), 1<<63-1, 0, 0)
	if d.s.SessionCount() != 0 {
		t.Fatal("session survived a jump to the end of time")
	}
}

func TestMaxSessionsEvictsLeastRecentlySeen(t *testing.T) {
	d := newDriver(t, Config{MaxSessions: 2})
	d.apply(mustPut(t, "k", "v"), 1, 1, 1)
	d.apply(mustPut(t, "k", "v"), 1, 2, 1)
	d.apply(mustPut(t, "k", "v"), 1, 1, 2) // client 1 seen again, later than 2
	d.apply(mustPut(t, "k", "v"), 1, 3, 1) // evicts client 2
	if d.s.SessionCount() != 2 {
		t.Fatalf("sessions = %d", d.s.SessionCount())
	}
	if r := d.apply(mustPut(t, "k", "v"), 1, 2, 2); !errors.Is(r.Err, ErrSessionExpired) {
		t.Fatalf("evicted client 2: %+v", r)
	}
	if r := d.apply(mustPut(t, "k", "v"), 1, 1, 3); r.Status != StatusOK {
		t.Fatalf("client 1: %+v", r)
	}
	if r := d.apply(mustPut(t, "k", "v"), 1, 3, 1); !r.Duplicate {
		t.Fatalf("client 3 retry: %+v", r)
	}
}
