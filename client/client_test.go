package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/httpapi"
)

func TestOperations(t *testing.T) {
	c := newCluster(t, 3)
	cl := newClient(t, c, nil)
	ctx := context.Background()

	w, err := cl.Put(ctx, "a/b", "one")
	if err != nil || w.Version != 1 || w.Revision != 1 || w.Key != "a/b" || w.Duplicate {
		t.Fatalf("Put: %+v, %v", w, err)
	}
	g, err := cl.Get(ctx, "a/b")
	if err != nil || g.Value != "one" || g.Version != 1 || g.CreateRevision != 1 || g.Revision != 1 {
		t.Fatalf("Get: %+v, %v", g, err)
	}
	// Binary keys and values round-trip exactly.
	bk, bv := "bin\x00\xff/..//?#%", "\xfe\x00\xff"
	if _, err := cl.Put(ctx, bk, bv); err != nil {
		t.Fatal(err)
	}
	if g, err := cl.Get(ctx, bk, Stale()); err != nil || g.Key != bk || g.Value != bv {
		t.Fatalf("binary Get: %+v, %v", g, err)
	}

	// Compare-and-swap.
	if _, err := cl.CompareAndSwap(ctx, "a/b", "two", 1); err != nil {
		t.Fatalf("CAS at the right version: %v", err)
	}
	_, err = cl.CompareAndSwap(ctx, "a/b", "three", 1)
	if v, ok := ConflictVersion(err); !ok || v != 2 || !errors.Is(err, ErrConflict) || IsIndefinite(err) {
		t.Fatalf("CAS at a stale version: %v (version %d, %v)", err, v, ok)
	}
	if _, err := cl.CompareAndSwap(ctx, "new", "x", 0); err != nil {
		t.Fatalf("create-only CAS: %v", err)
	}
	if _, err := cl.CompareAndDelete(ctx, "new", 7); !errors.Is(err, ErrConflict) {
		t.Fatalf("CompareAndDelete at a wrong version: %v", err)
	}
	if _, err := cl.CompareAndDelete(ctx, "new", 1); err != nil {
		t.Fatalf("CompareAndDelete: %v", err)
	}

	// Range.
	for _, k := range []string{"p/1", "p/2", "p/3", "q"} {
		if _, err := cl.Put(ctx, k, "v"+k); err != nil {
			t.Fatal(err)
		}
	}
	r, err := cl.Range(ctx, RangeRequest{Prefix: "p/", Limit: 2})
	if err != nil || len(r.KVs) != 2 || !r.More || r.KVs[0].Key != "p/1" || r.KVs[1].Value != "vp/2" {
		t.Fatalf("Range prefix: %+v, %v", r, err)
	}
	r, err = cl.Range(ctx, RangeRequest{Start: r.NextStart(), End: "q"}, Stale())
	if err != nil || len(r.KVs) != 1 || r.More || r.KVs[0].Key != "p/3" {
		t.Fatalf("Range continued: %+v, %v", r, err)
	}
	if _, err := cl.Range(ctx, RangeRequest{Prefix: "p", Start: "a"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("Range with prefix and start: %v", err)
	}

	// Delete.
	if _, err := cl.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, "a/b"); !errors.Is(err, ErrNotFound) || IsIndefinite(err) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if _, err := cl.Delete(ctx, "a/b"); !errors.Is(err, ErrNotFound) || IsIndefinite(err) {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if _, err := cl.Put(ctx, "", "v"); !errors.Is(err, ErrRejected) {
		t.Fatalf("empty key: %v", err)
	}

	// Status of one node, and of whichever answers.
	st, err := cl.Status(ctx, c.Node(1).URL())
	if err != nil || st.ID != 2 || st.Role != "follower" || st.Leader != 1 || st.LeaderURL != c.Node(0).URL() {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	if _, err := cl.Status(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// Request ids increase from 1 per client, and every applied write carries
// the client's id.
func TestRequestIDsIncrease(t *testing.T) {
	c := newCluster(t, 1)
	cl := newClient(t, c, nil)
	for range 3 {
		if _, err := cl.Put(context.Background(), "k", "v"); err != nil {
			t.Fatal(err)
		}
	}
	got := c.Applied()
	want := [][2]uint64{{cl.ClientID(), 1}, {cl.ClientID(), 2}, {cl.ClientID(), 3}}
	if !slices.Equal(got, want) || cl.ClientID() == 0 {
		t.Errorf("applied ids %v, want %v", got, want)
	}
	other := newClient(t, c, nil)
	if other.ClientID() == cl.ClientID() {
		t.Errorf("two clients share the id %d", cl.ClientID())
	}
}

// The client learns the leader from a forwarded answer and goes there
// directly afterwards.
func TestLeaderHint(t *testing.T) {
	c := newCluster(t, 3)
	c.SetLeader(2)
	cl := newClient(t, c, nil)
	ctx := context.Background()
	if _, err := cl.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if c.Hits(0) != 1 || c.Hits(2) != 1 {
		t.Fatalf("first put: hits %d/%d/%d; want node 1 to forward to node 3", c.Hits(0), c.Hits(1), c.Hits(2))
	}
	if eps := cl.Endpoints(); eps[0] != c.Node(2).URL() {
		t.Errorf("preferred endpoint %s, want the leader %s", eps[0], c.Node(2).URL())
	}
	for range 3 {
		if _, err := cl.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if c.Hits(0) != 1 || c.Hits(2) != 4 {
		t.Errorf("after the hint: hits %d/%d/%d; want the leader only", c.Hits(0), c.Hits(1), c.Hits(2))
	}
	// Status also teaches the leader.
	c.SetLeader(1)
	if _, err := cl.Status(ctx, c.Node(0).URL()); err != nil {
		t.Fatal(err)
	}
	if eps := cl.Endpoints(); eps[0] != c.Node(1).URL() {
		t.Errorf("after Status: preferred %s, want %s", eps[0], c.Node(1).URL())
	}
}

// When the preferred node dies, the client moves on to another, which
// forwards to the new leader.
func TestFailover(t *testing.T) {
	c := newCluster(t, 3)
	cl := newClient(t, c, nil)
	ctx := context.Background()
	if _, err := cl.Put(ctx, "k", "1"); err != nil {
		t.Fatal(err)
	}
	// Node 1 crashes; node 2 becomes leader.
	c.Node(0).Stop()
	c.SetLeader(1)
	w, err := cl.Put(ctx, "k", "2")
	if err != nil || w.Version != 2 {
		t.Fatalf("Put after failover: %+v, %v", w, err)
	}
	if eps := cl.Endpoints(); eps[0] != c.Node(1).URL() {
		t.Errorf("preferred %s, want the new leader %s", eps[0], c.Node(1).URL())
	}
	// An election in progress: nobody leads for a while, then node 3.
	c.SetLeader(-1)
	var calls atomic.Int32
	c.SetIntercept(1, func(w http.ResponseWriter, r *http.Request) bool {
		if calls.Add(1) == 2 {
			c.SetLeader(2)
		}
		return false
	})
	if g, err := cl.Get(ctx, "k"); err != nil || g.Value != "2" {
		t.Fatalf("Get across an election: %+v, %v", g, err)
	}
}

// Every retry of a write carries the same ids, so the store applies it
// once, and the answer that finally arrives says it was a duplicate.
func TestRetriesReuseIDs(t *testing.T) {
	c := newCluster(t, 3)
	var mu sync.Mutex
	var seen [][2]uint64
	// Node 1 leads; every node records ids, and the first two attempts
	// apply the write but lose the answer.
	for i := range 3 {
		c.SetIntercept(i, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get(httpapi.HeaderForwarded) != "" {
				return false // count client attempts, not forwarding hops
			}
			cid, rid := ids(r)
			mu.Lock()
			seen = append(seen, [2]uint64{cid, rid})
			count := len(seen)
			mu.Unlock()
			if count <= 2 {
				c.Node(i).Handler().ServeHTTP(httptest.NewRecorder(), r) // apply (node 1 leads)...
				return hangUp(w, r)                                      // ...and lose the answer
			}
			return false
		})
	}
	cl := newClient(t, c, nil)
	w, err := cl.Put(context.Background(), "k", "v")
	if err != nil || !w.Duplicate || w.Version != 1 {
		t.Fatalf("Put: %+v, %v; want success flagged duplicate", w, err)
	}
	if len(seen) != 3 {
		t.Fatalf("%d attempts, want 3", len(seen))
	}
	for _, s := range seen {
		if s != seen[0] || s[0] == 0 || s[1] != 1 {
			t.Errorf("attempt ids %v, want all equal to %v (request 1)", seen, seen[0])
		}
	}
	if rev := c.Revision(); rev != 1 {
		t.Errorf("revision %d: the write applied more than once", rev)
	}
}

// Definite and indefinite outcomes are told apart, and an attempt that
// may have applied keeps the write indefinite.
func TestIndefiniteClassification(t *testing.T) {
	ctx := context.Background()
	dead := deadURL(t)
	t.Run("unreachable everywhere is definite", func(t *testing.T) {
		cl, err := New(Config{Endpoints: []string{dead, deadURL(t)}, Retries: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Put(ctx, "k", "v")
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) || e.Indefinite || e.Attempts != 4 {
			t.Fatalf("got %v (%+v); want definite ErrUnavailable after 4 attempts", err, e)
		}
	})
	t.Run("lost answer is indefinite and sticky", func(t *testing.T) {
		c := newCluster(t, 1)
		c.SetIntercept(0, hangUp)
		cl, err := New(Config{Endpoints: []string{c.Node(0).URL(), dead}, Retries: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Put(ctx, "k", "v")
		if !IsIndefinite(err) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v; want indefinite", err)
		}
		if !strings.Contains(err.Error(), "may have applied") {
			t.Errorf("message does not say the write may have applied: %v", err)
		}
		// A read that loses its answer is never indefinite.
		if _, err := cl.Get(ctx, "k"); err == nil || IsIndefinite(err) {
			t.Fatalf("read: %v; want a definite error", err)
		}
	})
	for _, tt := range []struct {
		name       string
		status     int
		body       string
		sentinel   error
		indefinite bool
		attempts   int
	}{
		{"no leader", 503, `{"error":"no leader","code":"unavailable","indefinite":false}`, ErrUnavailable, false, 3},
		{"leadership lost", 503, `{"error":"x","code":"indeterminate","indefinite":true}`, ErrUnavailable, true, 3},
		{"server timeout", 504, `{"error":"x","code":"timeout","indefinite":true}`, ErrUnavailable, true, 3},
		{"proxy page", 502, `<html>bad gateway</html>`, ErrUnavailable, true, 3},
		{"bad request", 400, `{"error":"x","code":"invalid_header","indefinite":false}`, ErrRejected, false, 1},
		{"too large", 413, `{"error":"x","code":"value_too_large","indefinite":false}`, ErrRejected, false, 1},
		{"session expired", 410, `{"error":"x","code":"session_expired","indefinite":true}`, ErrSessionLost, true, 1},
		{"conflict", 409, `{"error":"x","code":"conflict","indefinite":false,"current_version":4}`, ErrConflict, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 1)
			c.SetIntercept(0, answer(tt.status, tt.body))
			cl := newClient(t, c, func(cfg *Config) { cfg.Retries = 2 })
			_, err := cl.Put(ctx, "k", "v")
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.sentinel) || e.Indefinite != tt.indefinite ||
				e.Attempts != tt.attempts || e.StatusCode != tt.status {
				t.Fatalf("got %v (%+v); want %v, indefinite %v, %d attempts", err, e, tt.sentinel, tt.indefinite, tt.attempts)
			}
			if tt.sentinel == ErrConflict && e.CurrentVersion != 4 {
				t.Errorf("current version %d, want 4", e.CurrentVersion)
			}
			if _, err := cl.Get(ctx, "k"); IsIndefinite(err) {
				t.Errorf("a read is indefinite: %v", err)
			}
		})
	}
}

// The deadline bounds a call, retries and waits included, and a write
// still in flight when it passes is indefinite.
func TestDeadlines(t *testing.T) {
	c := newCluster(t, 1)
	release := c.HoldWrites() // writes hang until their context ends
	defer release()
	cl := newClient(t, c, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond })
	start := time.Now()
	_, err := cl.Put(context.Background(), "k", "v")
	if !errors.Is(err, context.DeadlineExceeded) || !IsIndefinite(err) {
		t.Fatalf("Put past Config.Timeout: %v; want an indefinite deadline error", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Put took %v with a 50ms timeout", el)
	}
	// A caller's earlier deadline wins over Config.Timeout.
	cl = newClient(t, c, func(cfg *Config) { cfg.Timeout = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := cl.Put(ctx, "k", "v"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put past the context deadline: %v", err)
	}
	// An endpoint that never answers reads: the deadline ends the wait
	// and the error is definite.
	c.SetIntercept(0, func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true })
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := cl.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) || IsIndefinite(err) {
		t.Fatalf("Get past the deadline: %v", err)
	}
}

// Many goroutines writing through a fresh client: request 1 opens the
// session alone, and no more than MaxInFlightWrites are in flight, so
// the server never sees a request from a session it does not know.
func TestConcurrentWritesKeepSessionRules(t *testing.T) {
	c := newCluster(t, 2)
	cl := newClient(t, c, func(cfg *Config) { cfg.MaxInFlightWrites = 4 })
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := cl.Put(context.Background(), "k"+strings.Repeat("x", i%5), "v")
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	applied := c.Applied()
	if len(applied) != 40 || applied[0][1] != 1 {
		t.Fatalf("applied %v; want 40 writes, request 1 first", applied)
	}
	if maxIn := c.MaxInFlight(); maxIn > 4 {
		t.Errorf("%d writes in flight at once, limit 4", maxIn)
	}
}

// The session opens only when request 1 is known to have applied: after a
// definite failure request 1 is reused, after an indefinite one a new
// client id starts over, and a session the server forgot is replaced.
func TestSessionOpening(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 1)
	cl := newClient(t, c, func(cfg *Config) { cfg.Retries = -1 })
	first := cl.ClientID()

	c.SetIntercept(0, answer(400, `{"error":"x","code":"invalid_header","indefinite":false}`))
	if _, err := cl.Put(ctx, "k", "v"); !errors.Is(err, ErrRejected) {
		t.Fatal(err)
	}
	c.SetIntercept(0, nil)
	if _, err := cl.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := c.Applied(); !slices.Equal(got, [][2]uint64{{first, 1}}) {
		t.Fatalf("after a definite failure of request 1: applied %v, want request 1 of %d", got, first)
	}

	cl = newClient(t, c, func(cfg *Config) { cfg.Retries = -1 })
	second := cl.ClientID()
	c.SetIntercept(0, hangUp)
	if _, err := cl.Put(ctx, "k", "v"); !IsIndefinite(err) {
		t.Fatal(err)
	}
	c.SetIntercept(0, nil)
	if _, err := cl.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if third := cl.ClientID(); third == second {
		t.Fatalf("request 1's fate is unknown, yet the client kept its session %d", second)
	}
	if got := c.Applied(); got[len(got)-1] != [2]uint64{cl.ClientID(), 1} {
		t.Fatalf("new session did not start at request 1: %v", got)
	}

	// The server forgets the session: the write is indefinite and the
	// next one opens a new session.
	before := cl.ClientID()
	c.SetIntercept(0, answer(410, `{"error":"x","code":"session_expired","indefinite":true}`))
	if _, err := cl.Put(ctx, "k", "v"); !errors.Is(err, ErrSessionLost) || !IsIndefinite(err) {
		t.Fatal(err)
	}
	c.SetIntercept(0, nil)
	if _, err := cl.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if cl.ClientID() == before {
		t.Errorf("client kept a session the server forgot")
	}
}

func TestConfig(t *testing.T) {
	for _, eps := range [][]string{nil, {"ftp://x"}, {"http://"}, {"::bad"}} {
		if _, err := New(Config{Endpoints: eps}); err == nil {
			t.Errorf("New with endpoints %q succeeded", eps)
		}
	}
	cl, err := New(Config{Endpoints: []string{"127.0.0.1:2379", "http://127.0.0.1:2380/", " https://h:1 "}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://127.0.0.1:2379", "http://127.0.0.1:2380", "https://h:1"}
	if got := cl.Endpoints(); !slices.Equal(got, want) {
		t.Errorf("endpoints %q, want %q", got, want)
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Op: "compare-and-swap", Key: "k", Endpoint: "http://a", Attempts: 1, Err: ErrConflict, Message: "key \"k\" is at version 3, not 1"}
	if got := e.Error(); got != `raftkv compare-and-swap "k": version conflict: key "k" is at version 3, not 1 (http://a, 1 attempt)` {
		t.Errorf("message %q", got)
	}
	e = &Error{Op: "put", Key: "k", Endpoint: "http://a", Attempts: 3, Cause: context.DeadlineExceeded, Indefinite: true}
	if got := e.Error(); got != `raftkv put "k": context deadline exceeded (http://a, 3 attempts) (the write may have applied)` {
		t.Errorf("message %q", got)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""}, {"a", "b"}, {"app/", "app0"}, {"a\xff", "b"}, {"\xff\xff", ""},
	} {
		if got := PrefixEnd(tt.in); got != tt.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Request 1 lost its answer, then a retry was refused: the write stays
// indefinite, and the next write does not reuse request 1 of the session
// (which might be answered with the first write's cached result).
func TestIndefiniteOpenerNotReused(t *testing.T) {
	c := newCluster(t, 1)
	var n atomic.Int32
	c.SetIntercept(0, func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1) == 1 {
			c.Node(0).Handler().ServeHTTP(httptest.NewRecorder(), r) // applies...
			return hangUp(w, r)                                      // ...answer lost
		}
		return answer(400, `{"error":"x","code":"invalid_header","indefinite":false}`)(w, r)
	})
	cl := newClient(t, c, nil)
	first := cl.ClientID()
	_, err := cl.Put(context.Background(), "k", "one")
	if !IsIndefinite(err) || !errors.Is(err, ErrRejected) {
		t.Fatalf("got %v; want an indefinite rejection", err)
	}
	c.SetIntercept(0, nil)
	w, err := cl.Put(context.Background(), "k", "two")
	if err != nil || w.Duplicate || w.Version != 2 {
		t.Fatalf("next write: %+v, %v; want a fresh write at version 2", w, err)
	}
	if cl.ClientID() == first {
		t.Errorf("the session whose request 1 is in doubt was kept")
	}
}
