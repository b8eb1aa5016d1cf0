// Package client is the Go client of raftkv, a strongly consistent
// replicated key-value store. It speaks the HTTP/JSON API described in
// docs/api.md.
//
//	c, err := client.New(client.Config{Endpoints: []string{"127.0.0.1:2379", "127.0.0.1:2380", "127.0.0.1:2381"}})
//	if err != nil { ... }
//	defer c.Close()
//	if _, err := c.Put(ctx, "greeting", "hello"); err != nil { ... }
//	got, err := c.Get(ctx, "greeting")               // linearizable
//	got, err = c.Get(ctx, "greeting", client.Stale()) // local read on any node
//	_, err = c.CompareAndSwap(ctx, "greeting", "hi", got.Version)
//	if v, ok := client.ConflictVersion(err); ok { ... } // someone else won; v is the current version
//
// # Finding the leader
//
// Any node answers any request (followers forward writes and linearizable
// reads to the leader), so any endpoint works. The client still learns the
// leader from the Raftkv-Leader header of forwarded answers, from
// "leader_url" in error answers and from Status, and sends later requests
// there to save a hop. When an endpoint fails it moves to the next.
//
// # Retries and exactly-once writes
//
// Retryable failures (a node unreachable, no leader yet, a server timeout)
// are retried with exponential backoff and jitter, on the next endpoint,
// until Config.Retries or the deadline (Config.Timeout, or the context's if
// earlier) runs out. Every attempt of a write carries the same
// Raftkv-Client-Id and Raftkv-Request-Id, so the server applies it at most
// once however many attempts reach it; the answer to a retry that finds the
// write already applied has WriteResult.Duplicate set. The client id is
// random (crypto/rand) per session, and request ids increase from 1 per
// Client; the Client keeps the server's session rules (one write at a time
// until the session opens, at most Config.MaxInFlightWrites in flight) so
// that concurrent use is safe.
//
// # Definite and indefinite errors
//
// Every error is an *Error. For a write, Error.Indefinite (or
// IsIndefinite) says whether it may have applied: false means it did not
// and never will; true means the client could not find out (a connection
// broke after sending, the deadline passed, leadership changed). Match the
// cause with errors.Is: ErrNotFound, ErrConflict (see ConflictVersion),
// ErrUnavailable, ErrRejected, ErrSessionLost, or context.DeadlineExceeded.
package client
