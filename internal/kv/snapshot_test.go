package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/raftkv/raftkv/internal/raft"
)

var snapCfg = Config{ResultsPerSession: 3, MaxSessions: 4, SessionTTL: 1000}

// populated returns a store with keys (including 0xff bytes, a deleted and a
// recreated key, an empty value, one value larger than the image buffer) and
// sessions with evicted, cached and out-of-order results.
func populated(t testing.TB) *driver {
	d := populatedSmall(t)
	d.do(mustPut(t, "big", strings.Repeat("x", imageChunk+10)))
	return d
}

// populatedSmall is populated without the large value, for tests that
// restore thousands of damaged copies.
func populatedSmall(t testing.TB) *driver {
	d := newDriver(t, snapCfg)
	d.do(mustPut(t, "b", "2"))
	d.do(mustPut(t, "\xff\xff", ""))
	d.do(mustPut(t, "a", "1"))
	d.do(mustPut(t, "a", "11"))
	d.do(mustDelete(t, "b"))
	d.do(mustPut(t, "b", "22"))
	for req := uint64(1); req <= 5; req++ {
		d.apply(mustPut(t, fmt.Sprintf("c%d", req), "v"), 100, 42, req)
	}
	d.apply(mustCASPut(t, "a", "no", 7), 110, 9, 1)
	d.apply(mustPut(t, "z", "1"), 120, 9, 3)
	d.apply(mustDelete(t, "missing"), 130, 3, 1)
	d.s.Apply(raft.Entry{Index: d.s.AppliedIndex() + 3, Type: raft.EntryNoop})
	return d
}

func restored(t testing.TB, image []byte, cfg Config) *Store {
	t.Helper()
	s := New(cfg)
	if err := s.Restore(bytes.NewReader(image)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	d := populated(t)
	image := snapshotBytes(t, d.s)
	if again := snapshotBytes(t, d.s); !bytes.Equal(image, again) {
		t.Fatal("two snapshots of one state differ")
	}
	// Reading in small pieces exercises the reader's refills.
	s := New(snapCfg)
	if err := s.Restore(iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(image)))); err != nil {
		t.Fatal(err)
	}
	if got := snapshotBytes(t, s); !bytes.Equal(got, image) {
		t.Fatal("restored store writes a different image")
	}
	if s.AppliedIndex() != d.s.AppliedIndex() || s.Revision() != d.s.Revision() ||
		s.SessionCount() != d.s.SessionCount() || s.Len() != d.s.Len() || s.now != d.s.now {
		t.Fatalf("restored applied=%d rev=%d sessions=%d len=%d now=%d; original %d %d %d %d %d",
			s.AppliedIndex(), s.Revision(), s.SessionCount(), s.Len(), s.now,
			d.s.AppliedIndex(), d.s.Revision(), d.s.SessionCount(), d.s.Len(), d.s.now)
	}
	want, got := d.s.Range(RangeRequest{}), s.Range(RangeRequest{})
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("restored range differs:\n got %v\nwant %v", got, want)
	}
}

// TestSnapshotRestoredStoreContinuesIdentically: a replica that restored
// from a snapshot must apply the rest of the log exactly like one that
// applied it all, sessions included.
func TestSnapshotRestoredStoreContinuesIdentically(t *testing.T) {
	d := populated(t)
	r := &driver{t: t, s: restored(t, snapshotBytes(t, d.s), snapCfg)}
	steps := []struct {
		c               Command
		ts              int64
		client, request uint64
	}{
		{mustPut(t, "c9", "v"), 140, 42, 4},  // duplicate
		{mustPut(t, "c9", "v"), 140, 42, 2},  // evicted
		{mustPut(t, "c6", "v"), 150, 42, 6},  // new
		{mustPut(t, "y", "v"), 150, 9, 2},    // out of order, applies
		{mustPut(t, "w", "v"), 160, 11, 1},   // fifth session evicts the LRU one
		{mustPut(t, "w", "v"), 160, 3, 2},    // client 3 was the LRU one
		{mustDelete(t, "a"), 1131, 0, 0},     // expires sessions last seen at 130
		{mustPut(t, "c7", "v"), 1131, 42, 7}, // expired
	}
	for i, st := range steps {
		a := d.apply(st.c, st.ts, st.client, st.request)
		b := r.apply(st.c, st.ts, st.client, st.request)
		if !sameOutcome(a, b) {
			t.Fatalf("step %d: original %+v, restored %+v", i, a, b)
		}
	}
	if !bytes.Equal(snapshotBytes(t, d.s), snapshotBytes(t, r.s)) {
		t.Fatal("stores diverged")
	}
}

func TestSnapshotEmptyStore(t *testing.T) {
	image := snapshotBytes(t, New(Config{}))
	if got := snapshotBytes(t, restored(t, image, Config{})); !bytes.Equal(got, image) {
		t.Fatal("empty store does not round-trip")
	}
}

func TestRestoreRejectsDamage(t *testing.T) {
	image := snapshotBytes(t, populatedSmall(t).s)
	// The target has state of its own, which a failed restore must keep.
	target := newDriver(t, snapCfg)
	target.do(mustPut(t, "keep", "me"))
	before := snapshotBytes(t, target.s)
	check := func(t *testing.T, what string, img []byte) {
		t.Helper()
		if err := target.s.Restore(bytes.NewReader(img)); err == nil {
			t.Fatalf("%s: restore succeeded", what)
		} else if !strings.HasPrefix(err.Error(), "restore kv snapshot: ") {
			t.Fatalf("%s: error %q lacks context", what, err)
		}
		if !bytes.Equal(snapshotBytes(t, target.s), before) {
			t.Fatalf("%s: failed restore changed the store", what)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(image); n++ {
			check(t, fmt.Sprintf("first %d bytes", n), image[:n])
		}
		big := snapshotBytes(t, populated(t).s)
		for _, n := range []int{imageChunk - 1, imageChunk, imageChunk + 1, len(big) - 5, len(big) - 1} {
			check(t, fmt.Sprintf("first %d bytes of the large image", n), big[:n])
		}
	})
	t.Run("trailing", func(t *testing.T) {
		check(t, "trailing byte", append(bytes.Clone(image), 0))
	})
	t.Run("bit flips", func(t *testing.T) {
		for i := 0; i < len(image); i++ {
			for bit := 0; bit < 8; bit++ {
				img := bytes.Clone(image)
				img[i] ^= 1 << bit
				check(t, fmt.Sprintf("byte %d bit %d", i, bit), img)
			}
		}
	})
}

func TestRestoreRefusesOtherConfig(t *testing.T) {
	image := snapshotBytes(t, populated(t).s)
	other := snapCfg
	other.SessionTTL++
	s := New(other)
	if err := s.Restore(bytes.NewReader(image)); !errors.Is(err, ErrConfigMismatch) {
		t.Fatalf("Restore = %v, want ErrConfigMismatch", err)
	}
}

func TestRestoreRefusesStaleImage(t *testing.T) {
	d := populated(t)
	image := snapshotBytes(t, d.s)
	// Restoring the same index again is fine (a retried install).
	if err := d.s.Restore(bytes.NewReader(image)); err != nil {
		t.Fatal(err)
	}
	d.s.Apply(raft.Entry{Index: d.s.AppliedIndex() + 1, Type: raft.EntryNoop})
	if err := d.s.Restore(bytes.NewReader(image)); !errors.Is(err, ErrStaleSnapshot) {
		t.Fatalf("Restore = %v, want ErrStaleSnapshot", err)
	}
}

// imageSpec is an image written field by field, to build well-checksummed
// images that break the store's invariants.
type imageSpec struct {
	applied, revision uint64
	now               int64
	keys              []item
	sessions          []*session
}

func (sp imageSpec) bytes() []byte {
	var buf bytes.Buffer
	iw := newImageWriter(&buf)
	iw.raw(snapshotMagic[:])
	iw.uvarint(sp.applied)
	iw.uvarint(sp.revision)
	iw.varint(sp.now)
	iw.uvarint(uint64(snapCfg.ResultsPerSession))
	iw.uvarint(uint64(snapCfg.MaxSessions))
	iw.varint(snapCfg.SessionTTL)
	iw.uvarint(uint64(len(sp.keys)))
	for _, it := range sp.keys {
		iw.str(it.key)
		iw.str(it.value)
		iw.uvarint(it.create)
		iw.uvarint(it.mod)
		iw.uvarint(it.version)
	}
	iw.uvarint(uint64(len(sp.sessions)))
	for _, ss := range sp.sessions {
		iw.uvarint(ss.clientID)
		iw.uvarint(ss.lastIndex)
		iw.varint(ss.lastSeen)
		iw.uvarint(ss.floor)
		iw.uvarint(uint64(len(ss.results)))
		for _, c := range ss.results {
			iw.uvarint(c.requestID)
			iw.uvarint(c.index)
			iw.raw([]byte{byte(c.status)})
			iw.uvarint(c.revision)
			iw.uvarint(c.version)
			iw.uvarint(c.create)
			iw.uvarint(c.mod)
		}
	}
	if err := iw.finish(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestRestoreChecksInvariants(t *testing.T) {
	key := func(k string, rev uint64) item { return item{key: k, value: "v", create: rev, mod: rev, version: 1} }
	res := func(req, index uint64) cachedResult {
		return cachedResult{requestID: req, index: index, status: StatusOK, revision: 1}
	}
	sess := func(id, last uint64, results ...cachedResult) *session {
		return &session{clientID: id, lastIndex: last, lastSeen: 5, results: results}
	}
	good := imageSpec{applied: 10, revision: 2, now: 5,
		keys:     []item{key("a", 1), key("b", 2)},
		sessions: []*session{sess(1, 3, res(1, 3)), sess(2, 4, res(1, 4))}}
	restored(t, good.bytes(), snapCfg) // the base case is valid

	tests := []struct {
		name   string
		break_ func(sp *imageSpec)
	}{
		{"revision above applied", func(sp *imageSpec) { sp.revision = 11 }},
		{"negative time", func(sp *imageSpec) { sp.now = -1 }},
		{"keys out of order", func(sp *imageSpec) { sp.keys[0], sp.keys[1] = sp.keys[1], sp.keys[0] }},
		{"duplicate key", func(sp *imageSpec) { sp.keys[1].key = "a" }},
		{"empty key", func(sp *imageSpec) { sp.keys[0].key = "" }},
		{"key too large", func(sp *imageSpec) { sp.keys[1].key = "b" + strings.Repeat("x", MaxKeySize) }},
		{"version 0", func(sp *imageSpec) { sp.keys[0].version = 0 }},
		{"create above mod", func(sp *imageSpec) { sp.keys[0].create = 2 }},
		{"mod above revision", func(sp *imageSpec) { sp.keys[1].mod = 3 }},
		{"too many sessions", func(sp *imageSpec) {
			sp.sessions = []*session{sess(1, 1), sess(2, 2), sess(3, 3), sess(4, 4), sess(5, 5)}
		}},
		{"sessions out of order", func(sp *imageSpec) { sp.sessions[0].clientID = 3 }},
		{"client id 0", func(sp *imageSpec) { sp.sessions[0].clientID = 0 }},
		{"last index above applied", func(sp *imageSpec) { sp.sessions[0].lastIndex = 11 }},
		{"last index shared", func(sp *imageSpec) { sp.sessions[1].lastIndex = 3 }},
		{"last seen in the future", func(sp *imageSpec) { sp.sessions[0].lastSeen = 6 }},
		{"too many results", func(sp *imageSpec) {
			sp.sessions[0].results = []cachedResult{res(1, 1), res(2, 2), res(3, 3), res(4, 4)}
		}},
		{"results out of order", func(sp *imageSpec) { sp.sessions[0].results = []cachedResult{res(2, 2), res(1, 3)} }},
		{"result at or below floor", func(sp *imageSpec) { sp.sessions[0].floor = 1 }},
		{"result status none", func(sp *imageSpec) { sp.sessions[0].results[0].status = StatusNone }},
		{"result status unknown", func(sp *imageSpec) { sp.sessions[0].results[0].status = statusEnd }},
		{"result index above applied", func(sp *imageSpec) { sp.sessions[0].results[0].index = 11 }},
		{"result revision above revision", func(sp *imageSpec) { sp.sessions[0].results[0].revision = 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := good
			sp.keys = append([]item(nil), good.keys...)
			sp.sessions = nil
			for _, ss := range good.sessions {
				c := *ss
				c.results = append([]cachedResult(nil), ss.results...)
				sp.sessions = append(sp.sessions, &c)
			}
			tt.break_(&sp)
			err := New(snapCfg).Restore(bytes.NewReader(sp.bytes()))
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("Restore = %v, want ErrCorruptSnapshot", err)
			}
			t.Log(err)
		})
	}
}

type failingWriter struct{ left int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errDiskFull
	}
	w.left -= len(p)
	return len(p), nil
}

func TestSnapshotIOErrors(t *testing.T) {
	d := populated(t)
	image := snapshotBytes(t, d.s)
	for _, n := range []int{0, 10, imageChunk + 5, len(image) - 2} {
		if err := d.s.WriteSnapshot(&failingWriter{left: n}); !errors.Is(err, errDiskFull) {
			t.Fatalf("write failing after %d bytes: %v", n, err)
		}
	}
	r := io.MultiReader(bytes.NewReader(image[:100]), iotest.ErrReader(errDiskFull))
	if err := New(snapCfg).Restore(r); !errors.Is(err, errDiskFull) {
		t.Fatalf("restore from a failing reader: %v", err)
	}
}

// TestCloneIsPointInTime: after Clone, neither side sees the other's
// changes, sessions included.
func TestCloneIsPointInTime(t *testing.T) {
	d := populated(t)
	image := snapshotBytes(t, d.s)
	clone := d.s.Clone()

	// Change the original every way there is: keys, session results, a new
	// session that evicts one, expiry.
	d.do(mustPut(t, "a", "changed"))
	d.do(mustDelete(t, "b"))
	d.apply(mustPut(t, "c6", "v"), 140, 42, 6)
	d.apply(mustPut(t, "n", "v"), 141, 77, 1)
	d.apply(mustPut(t, "n", "v"), 142, 78, 1)
	d.apply(mustPut(t, "n", "v"), 5000, 0, 0)
	if got := snapshotBytes(t, clone); !bytes.Equal(got, image) {
		t.Fatal("clone changed with the original")
	}
	afterOriginal := snapshotBytes(t, d.s)

	// And the other way round.
	cd := &driver{t: t, s: clone}
	cd.do(mustPut(t, "a", "clone"))
	cd.apply(mustPut(t, "c6", "v"), 140, 42, 6)
	if got := snapshotBytes(t, d.s); !bytes.Equal(got, afterOriginal) {
		t.Fatal("original changed with the clone")
	}
	// Cloning a clone, repeatedly, keeps the same guarantees.
	c2 := clone.Clone()
	cd.apply(mustPut(t, "c7", "v"), 150, 42, 7)
	if c2.AppliedIndex() == clone.AppliedIndex() {
		t.Fatal("second-generation clone followed its source")
	}
}

// TestCloneSnapshotWhileApplying is the intended use: the apply loop clones,
// another goroutine serializes the clone, applies go on. Run with -race.
func TestCloneSnapshotWhileApplying(t *testing.T) {
	d := populated(t)
	want := snapshotBytes(t, d.s)
	clone := d.s.Clone()
	var (
		wg  sync.WaitGroup
		got bytes.Buffer
		err error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err = clone.WriteSnapshot(&got)
	}()
	for i := 0; i < 2000; i++ {
		// New clients 100..102 push older sessions out of the table.
		d.apply(mustPut(t, fmt.Sprintf("k%d", i%300), "v"), int64(200+i), uint64(100+i%3), uint64(i/3+1))
	}
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("snapshot of the clone is not the state at Clone time")
	}
}
