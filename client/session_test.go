package client

import (
	"context"
	"testing"
)

// The session hands out request 1 alone, then ids within a window counted
// from the oldest unfinished one.
func TestSessionWindow(t *testing.T) {
	cl, err := New(Config{Endpoints: []string{"127.0.0.1:1"}, MaxInFlightWrites: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A canceled context makes beginWrite fail only if it would wait.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	take := func(want uint64) *session {
		t.Helper()
		s, id, err := cl.beginWrite(canceled)
		if err != nil || id != want {
			t.Fatalf("beginWrite = %d, %v; want id %d at once", id, err, want)
		}
		return s
	}
	blocked := func(why string) {
		t.Helper()
		if _, id, err := cl.beginWrite(canceled); err == nil {
			t.Fatalf("beginWrite handed out id %d %s", id, why)
		}
	}
	s := take(1)
	blocked("while request 1 is opening the session")
	cl.endWrite(s, 1, outcomeApplied)
	for id := uint64(2); id <= 5; id++ {
		take(id)
	}
	blocked("with 4 writes in flight")
	cl.endWrite(s, 3, outcomeApplied)
	blocked("while the oldest, 2, is unfinished")
	cl.endWrite(s, 2, outcomeApplied)
	take(6)
	take(7)
	blocked("with 4..7 in flight")
	if cl.ClientID() != s.clientID {
		t.Errorf("session replaced without cause")
	}
	// A session the server forgot is replaced, and the new one opens
	// with request 1.
	cl.endWrite(s, 4, outcomeSessionLost)
	if cl.ClientID() == s.clientID {
		t.Fatalf("session kept after the server forgot it")
	}
	take(1)
}
