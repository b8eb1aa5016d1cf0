package kv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func normalEntry(index, clientID, requestID uint64, data []byte) raft.Entry {
	return raft.Entry{Term: 1, Index: index, Type: raft.EntryNormal, ClientID: clientID, RequestID: requestID, Data: data}
}

func mustPut(t testing.TB, key, value string) Command {
	t.Helper()
	c, err := NewPut(key, value)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustDelete(t testing.TB, key string) Command {
	t.Helper()
	c, err := NewDelete(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCASPut(t testing.TB, key, value string, ifVersion uint64) Command {
	t.Helper()
	c, err := NewCASPut(key, value, ifVersion)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCASDelete(t testing.TB, key string, ifVersion uint64) Command {
	t.Helper()
	c, err := NewCASDelete(key, ifVersion)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustEncode(t testing.TB, c Command) []byte {
	t.Helper()
	b, err := EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// driver feeds a Store consecutive entries, as the node's apply loop would.
type driver struct {
	t testing.TB
	s *Store
}

func newDriver(t testing.TB, cfg Config) *driver { return &driver{t: t, s: New(cfg)} }

// apply applies c as the next entry, stamped at ts, for (client, request).
func (d *driver) apply(c Command, ts int64, client, request uint64) Result {
	d.t.Helper()
	c.Timestamp = ts
	return d.s.Apply(normalEntry(d.s.AppliedIndex()+1, client, request, mustEncode(d.t, c)))
}

// do applies c session-less.
func (d *driver) do(c Command) Result {
	d.t.Helper()
	return d.apply(c, 0, 0, 0)
}

func snapshotBytes(t testing.TB, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameOutcome compares results field by field, and errors by the sentinel
// they wrap rather than by message.
func sameOutcome(a, b Result) bool {
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil {
		return errClass(a.Err) == errClass(b.Err) && a.Index == b.Index && a.Revision == b.Revision
	}
	a.Err, b.Err = nil, nil
	return a == b
}

// errClass names the sentinel an Apply error wraps.
func errClass(err error) error {
	for _, s := range []error{ErrSessionEvicted, ErrSessionExpired, ErrBadRequestID, ErrInvalidCommand} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
