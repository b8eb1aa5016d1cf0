package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

func TestOps(t *testing.T) {
	type kv = KeyValue
	tests := []struct {
		name  string
		setup []Command
		op    Command
		want  Result // Index is filled in by the test
		// after is the key's record after op, nil if it must be absent.
		after *KeyValue
	}{
		{
			name:  "put creates at version 1",
			op:    Command{Op: OpPut, Key: "a", Value: "1"},
			want:  Result{Status: StatusOK, Revision: 1, Version: 1, CreateRevision: 1, ModRevision: 1},
			after: &kv{Key: "a", Value: "1", Version: 1, CreateRevision: 1, ModRevision: 1},
		},
		{
			name:  "put overwrites and bumps version",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}, {Op: OpPut, Key: "b", Value: "x"}},
			op:    Command{Op: OpPut, Key: "a", Value: "2"},
			want:  Result{Status: StatusOK, Revision: 3, Version: 2, CreateRevision: 1, ModRevision: 3},
			after: &kv{Key: "a", Value: "2", Version: 2, CreateRevision: 1, ModRevision: 3},
		},
		{
			name:  "put with empty value",
			op:    Command{Op: OpPut, Key: "a"},
			want:  Result{Status: StatusOK, Revision: 1, Version: 1, CreateRevision: 1, ModRevision: 1},
			after: &kv{Key: "a", Version: 1, CreateRevision: 1, ModRevision: 1},
		},
		{
			name:  "delete existing",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}},
			op:    Command{Op: OpDelete, Key: "a"},
			want:  Result{Status: StatusOK, Revision: 2},
		},
		{
			name:  "delete missing key changes nothing",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}},
			op:    Command{Op: OpDelete, Key: "b"},
			want:  Result{Status: StatusNotFound, Revision: 1},
		},
		{
			name:  "put after delete starts a new life",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}, {Op: OpPut, Key: "a", Value: "2"}, {Op: OpDelete, Key: "a"}},
			op:    Command{Op: OpPut, Key: "a", Value: "3"},
			want:  Result{Status: StatusOK, Revision: 4, Version: 1, CreateRevision: 4, ModRevision: 4},
			after: &kv{Key: "a", Value: "3", Version: 1, CreateRevision: 4, ModRevision: 4},
		},
		{
			name:  "cas put create-only on missing key",
			op:    Command{Op: OpPut, Key: "a", Value: "1", Conditional: true},
			want:  Result{Status: StatusOK, Revision: 1, Version: 1, CreateRevision: 1, ModRevision: 1},
			after: &kv{Key: "a", Value: "1", Version: 1, CreateRevision: 1, ModRevision: 1},
		},
		{
			name: "cas put on missing key expecting a version",
			op:   Command{Op: OpPut, Key: "a", Value: "1", Conditional: true, IfVersion: 1},
			want: Result{Status: StatusConflict, Revision: 0},
		},
		{
			name:  "cas put create-only on existing key",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}, {Op: OpPut, Key: "a", Value: "2"}},
			op:    Command{Op: OpPut, Key: "a", Value: "3", Conditional: true},
			want:  Result{Status: StatusConflict, Revision: 2, Version: 2, CreateRevision: 1, ModRevision: 2},
			after: &kv{Key: "a", Value: "2", Version: 2, CreateRevision: 1, ModRevision: 2},
		},
		{
			name:  "cas put with matching version",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}, {Op: OpPut, Key: "a", Value: "2"}},
			op:    Command{Op: OpPut, Key: "a", Value: "3", Conditional: true, IfVersion: 2},
			want:  Result{Status: StatusOK, Revision: 3, Version: 3, CreateRevision: 1, ModRevision: 3},
			after: &kv{Key: "a", Value: "3", Version: 3, CreateRevision: 1, ModRevision: 3},
		},
		{
			name:  "cas put with stale version reports the current one",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}, {Op: OpPut, Key: "a", Value: "2"}},
			op:    Command{Op: OpPut, Key: "a", Value: "3", Conditional: true, IfVersion: 1},
			want:  Result{Status: StatusConflict, Revision: 2, Version: 2, CreateRevision: 1, ModRevision: 2},
			after: &kv{Key: "a", Value: "2", Version: 2, CreateRevision: 1, ModRevision: 2},
		},
		{
			name:  "cas delete with matching version",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}},
			op:    Command{Op: OpDelete, Key: "a", Conditional: true, IfVersion: 1},
			want:  Result{Status: StatusOK, Revision: 2},
		},
		{
			name:  "cas delete with wrong version",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}},
			op:    Command{Op: OpDelete, Key: "a", Conditional: true, IfVersion: 5},
			want:  Result{Status: StatusConflict, Revision: 1, Version: 1, CreateRevision: 1, ModRevision: 1},
			after: &kv{Key: "a", Value: "1", Version: 1, CreateRevision: 1, ModRevision: 1},
		},
		{
			name:  "cas delete must-not-exist on existing key",
			setup: []Command{{Op: OpPut, Key: "a", Value: "1"}},
			op:    Command{Op: OpDelete, Key: "a", Conditional: true},
			want:  Result{Status: StatusConflict, Revision: 1, Version: 1, CreateRevision: 1, ModRevision: 1},
			after: &kv{Key: "a", Value: "1", Version: 1, CreateRevision: 1, ModRevision: 1},
		},
		{
			name: "cas delete on missing key expecting a version",
			op:   Command{Op: OpDelete, Key: "a", Conditional: true, IfVersion: 1},
			want: Result{Status: StatusConflict},
		},
		{
			name: "cas delete must-not-exist on missing key",
			op:   Command{Op: OpDelete, Key: "a", Conditional: true},
			want: Result{Status: StatusNotFound},
		},
		{
			name:  "keys with 0xff and 0x00 bytes",
			setup: []Command{{Op: OpPut, Key: "\xff", Value: "1"}},
			op:    Command{Op: OpPut, Key: "\xff\x00", Value: "2"},
			want:  Result{Status: StatusOK, Revision: 2, Version: 1, CreateRevision: 2, ModRevision: 2},
			after: &kv{Key: "\xff\x00", Value: "2", Version: 1, CreateRevision: 2, ModRevision: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Config{})
			for _, c := range tt.setup {
				if r := d.do(c); r.Err != nil || r.Status != StatusOK {
					t.Fatalf("setup %v: %+v", c, r)
				}
			}
			before := d.s.Revision()
			got := d.do(tt.op)
			want := tt.want
			want.Index = d.s.AppliedIndex()
			if got != want {
				t.Fatalf("%v:\n got %+v\nwant %+v", tt.op, got, want)
			}
			wantRev := before
			if got.Status == StatusOK {
				wantRev++
			}
			if d.s.Revision() != wantRev {
				t.Fatalf("revision %d -> %d for status %v", before, d.s.Revision(), got.Status)
			}
			kv, ok := d.s.Get(tt.op.Key)
			switch {
			case tt.after == nil && ok:
				t.Fatalf("key %q present after op: %+v", tt.op.Key, kv)
			case tt.after != nil && (!ok || kv != *tt.after):
				t.Fatalf("Get(%q) = %+v, %v; want %+v", tt.op.Key, kv, ok, *tt.after)
			}
		})
	}
}

func TestRevisionMonotonic(t *testing.T) {
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, seed))
	d := newDriver(t, Config{})
	for i := 0; i < 2000; i++ {
		key := fmt.Sprintf("k%d", rng.IntN(10))
		var c Command
		switch rng.IntN(4) {
		case 0:
			c = mustPut(t, key, "v")
		case 1:
			c = mustDelete(t, key)
		case 2:
			c = mustCASPut(t, key, "v", uint64(rng.IntN(3)))
		case 3:
			c = mustCASDelete(t, key, uint64(rng.IntN(3)))
		}
		before := d.s.Revision()
		r := d.do(c)
		want := before
		if r.Status == StatusOK {
			want++
		}
		if r.Revision != want || d.s.Revision() != want {
			t.Fatalf("seed %d step %d %v: result revision %d, store %d, want %d", seed, i, c, r.Revision, d.s.Revision(), want)
		}
		if d.s.Revision() > d.s.AppliedIndex() {
			t.Fatalf("seed %d step %d: revision %d above applied %d", seed, i, d.s.Revision(), d.s.AppliedIndex())
		}
		if kv, ok := d.s.Get(key); ok && (kv.ModRevision > d.s.Revision() || kv.CreateRevision > kv.ModRevision) {
			t.Fatalf("seed %d step %d: %+v at revision %d", seed, i, kv, d.s.Revision())
		}
	}
}

func TestApplyEntryKinds(t *testing.T) {
	s := New(Config{})
	put := mustEncode(t, mustPut(t, "a", "1"))

	if r := s.Apply(raft.Entry{Index: 1, Type: raft.EntryNoop}); r != (Result{Index: 1}) {
		t.Fatalf("noop: %+v", r)
	}
	if r := s.Apply(normalEntry(2, 0, 0, put)); r.Status != StatusOK || r.Revision != 1 {
		t.Fatalf("put: %+v", r)
	}
	// A gap is allowed: the caller may keep some entries to itself.
	if r := s.Apply(raft.Entry{Index: 5, Type: raft.EntryNoop}); r != (Result{Index: 5, Revision: 1}) {
		t.Fatalf("noop after gap: %+v", r)
	}
	for i, e := range []raft.Entry{
		normalEntry(6, 0, 0, nil),
		normalEntry(7, 0, 0, []byte{9, 9, 9}),
		normalEntry(8, 3, 1, put[:len(put)-1]),
		{Index: 9, Type: raft.EntryType(7), Data: put},
	} {
		r := s.Apply(e)
		if !errors.Is(r.Err, ErrInvalidCommand) || r.Index != e.Index || r.Status != StatusNone || r.Revision != 1 {
			t.Fatalf("bad entry %d: %+v", i, r)
		}
		if !strings.Contains(r.Err.Error(), fmt.Sprintf("apply entry %d", e.Index)) {
			t.Fatalf("error %q does not name the entry", r.Err)
		}
	}
	if s.AppliedIndex() != 9 || s.Revision() != 1 || s.Len() != 1 {
		t.Fatalf("applied %d revision %d len %d", s.AppliedIndex(), s.Revision(), s.Len())
	}
	// A bad entry from a session neither opens nor touches it.
	if s.SessionCount() != 0 {
		t.Fatalf("sessions = %d after a bad command", s.SessionCount())
	}
}

func TestApplyRejectsOldIndex(t *testing.T) {
	for _, idx := range []uint64{0, 3, 4} {
		t.Run(fmt.Sprint(idx), func(t *testing.T) {
			s := New(Config{})
			s.Apply(raft.Entry{Index: 4, Type: raft.EntryNoop})
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "at or below applied index 4") {
					t.Fatalf("recovered %q, want a panic about the applied index", msg)
				}
				if s.AppliedIndex() != 4 {
					t.Fatalf("applied index moved to %d", s.AppliedIndex())
				}
			}()
			s.Apply(raft.Entry{Index: idx, Type: raft.EntryNoop})
		})
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusNone: "None", StatusOK: "OK", StatusNotFound: "NotFound",
		StatusConflict: "Conflict", Status(42): "Status(42)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}
