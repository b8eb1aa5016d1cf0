package httpapi

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pair is a follower handler whose store points at a leader served by a
// real HTTP server.
type pair struct {
	follower      *Handler
	followerStore *fakeStore
	leaderStore   *fakeStore
	leaderURL     string
	leaderHits    *atomic.Int64
}

func newPair(t *testing.T) *pair {
	t.Helper()
	leader, leaderStore := newTestHandler(t, nil)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		leader.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	follower, fs := newTestHandler(t, func(c *Config) { c.NodeID = 2 })
	fs.set(func(f *fakeStore) {
		f.proposeErr, f.readErr = ErrNotLeader, ErrNotLeader
		f.leaderID, f.leaderURL, f.hasLeader = 1, srv.URL, true
	})
	return &pair{follower, fs, leaderStore, srv.URL, &hits}
}

func TestForwardWritesAndReads(t *testing.T) {
	p := newPair(t)
	w := do(t, p.follower, "PUT", "/v1/kv/a%2Fb", "v1", HeaderClientID, "9", HeaderRequestID, "1", HeaderIfVersion, "0")
	wantStatus(t, w, 200, "")
	if got := w.Header().Get(HeaderLeader); got != p.leaderURL {
		t.Errorf("%s = %q, want the leader's URL %q", HeaderLeader, got, p.leaderURL)
	}
	// The leader proposed it, with the key, value, precondition and ids
	// intact; the follower's store only said "not leader".
	lp := p.leaderStore.lastProposal()
	if lp.cmd.Key != "a/b" || lp.cmd.Value != "v1" || !lp.cmd.Conditional || lp.clientID != 9 || lp.requestID != 1 {
		t.Errorf("leader got %+v", lp)
	}
	if p.followerStore.revision() != 0 {
		t.Errorf("the follower applied the write itself")
	}

	// JSON bodies are forwarded byte for byte.
	w = do(t, p.follower, "PUT", "/v1/kv/j", `{"value":"from json"}`, "Content-Type", "application/json")
	wantStatus(t, w, 200, "")
	if lp := p.leaderStore.lastProposal(); lp.cmd.Value != "from json" {
		t.Errorf("leader got value %q", lp.cmd.Value)
	}

	// A linearizable read goes to the leader and sees the write.
	w = do(t, p.follower, "GET", "/v1/kv/a%2Fb", "")
	wantStatus(t, w, 200, "")
	var g getJSON
	decode(t, w, &g)
	if g.Value != "v1" {
		t.Errorf("forwarded get: %+v", g)
	}
	w = do(t, p.follower, "GET", "/v1/kv?prefix=a", "")
	var rg rangeJSON
	decode(t, w, &rg)
	if len(rg.KVs) != 1 || rg.KVs[0].Key != "a/b" {
		t.Errorf("forwarded range: %+v", rg)
	}

	// Leader's answers pass through: conflicts and not-found included.
	e := wantStatus(t, do(t, p.follower, "PUT", "/v1/kv/a%2Fb", "v2", HeaderIfVersion, "0"), 409, CodeConflict)
	if e.CurrentVersion == nil || *e.CurrentVersion != 1 {
		t.Errorf("forwarded conflict: %+v", e)
	}
	wantStatus(t, do(t, p.follower, "DELETE", "/v1/kv/nope", ""), 404, CodeNotFound)

	// A stale read is served by the follower from its own (empty) state.
	before := p.leaderHits.Load()
	wantStatus(t, do(t, p.follower, "GET", "/v1/kv/a%2Fb?stale=true", ""), 404, CodeNotFound)
	if p.leaderHits.Load() != before {
		t.Errorf("a stale read was forwarded")
	}
}

// A forwarded request that reaches a node which is not the leader either
// is answered 503 not_leader, never forwarded a second time.
func TestForwardOnlyOnce(t *testing.T) {
	p := newPair(t)
	w := do(t, p.follower, "PUT", "/v1/kv/k", "v", HeaderForwarded, "3")
	e := wantStatus(t, w, 503, CodeNotLeader)
	if e.Indefinite || e.LeaderURL != p.leaderURL || w.Header().Get("Retry-After") == "" {
		t.Errorf("not_leader answer %+v, Retry-After %q", e, w.Header().Get("Retry-After"))
	}
	if p.leaderHits.Load() != 0 {
		t.Errorf("a forwarded request was forwarded again")
	}
	// The leader sees the marker on the requests a follower forwards.
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get(HeaderForwarded))
		w.WriteHeader(200)
	}))
	defer srv.Close()
	p.followerStore.set(func(f *fakeStore) { f.leaderURL = srv.URL })
	do(t, p.follower, "DELETE", "/v1/kv/k", "")
	if seen.Load() != "2" {
		t.Errorf("leader saw %s %q, want the follower's id 2", HeaderForwarded, seen.Load())
	}
	// Two followers that each think the other leads: the second answers
	// not_leader instead of bouncing the request back.
	other, os := newTestHandler(t, nil)
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	os.set(func(f *fakeStore) {
		f.proposeErr, f.leaderID, f.leaderURL, f.hasLeader = ErrNotLeader, 2, "http://127.0.0.1:1", true
	})
	p.followerStore.set(func(f *fakeStore) { f.leaderURL = otherSrv.URL })
	wantStatus(t, do(t, p.follower, "PUT", "/v1/kv/k", "v"), 503, CodeNotLeader)
}

func TestForwardNoLeader(t *testing.T) {
	p := newPair(t)
	p.followerStore.set(func(f *fakeStore) { f.hasLeader = false })
	for _, m := range []string{"PUT", "GET"} {
		w := do(t, p.follower, m, "/v1/kv/k", "v")
		e := wantStatus(t, w, 503, CodeUnavailable)
		if e.Indefinite || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s without a leader: %+v, Retry-After %q", m, e, w.Header().Get("Retry-After"))
		}
	}
	p.followerStore.set(func(f *fakeStore) { f.hasLeader, f.leaderURL = true, "127.0.0.1:2379" }) // no scheme
	wantStatus(t, do(t, p.follower, "PUT", "/v1/kv/k", "v"), 503, CodeUnavailable)
}

// When the leader cannot be reached, a write is definite if no connection
// was made and indefinite if the connection broke after sending.
func TestForwardFailures(t *testing.T) {
	p := newPair(t)
	// Nothing listens on a port we just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	p.followerStore.set(func(f *fakeStore) { f.leaderURL = dead })
	e := wantStatus(t, do(t, p.follower, "PUT", "/v1/kv/k", "v"), 502, CodeForwardFailed)
	if e.Indefinite || e.LeaderURL != dead {
		t.Errorf("unreachable leader: %+v; want definite", e)
	}

	// A leader that reads the request and hangs up without answering.
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangup.Close()
	p.followerStore.set(func(f *fakeStore) { f.leaderURL = hangup.URL })
	e = wantStatus(t, do(t, p.follower, "PUT", "/v1/kv/k", "v"), 502, CodeForwardFailed)
	if !e.Indefinite {
		t.Errorf("write lost after sending: %+v; want indefinite", e)
	}
	e = wantStatus(t, do(t, p.follower, "GET", "/v1/kv/k", ""), 502, CodeForwardFailed)
	if e.Indefinite {
		t.Errorf("read lost after sending: %+v; want definite", e)
	}
}

func TestForwardTimeout(t *testing.T) {
	p := newPair(t)
	p.leaderStore.set(func(f *fakeStore) { f.wait = true })
	follower, fs := newTestHandler(t, func(c *Config) { c.RequestTimeout = 30 * time.Millisecond })
	fs.set(func(f *fakeStore) {
		f.proposeErr, f.leaderID, f.leaderURL, f.hasLeader = ErrNotLeader, 1, p.leaderURL, true
	})
	w := do(t, follower, "PUT", "/v1/kv/k", "v")
	if w.Code != 504 || !strings.Contains(w.Body.String(), `"indefinite":true`) {
		t.Errorf("forward past the deadline: %d %s", w.Code, w.Body)
	}
}
