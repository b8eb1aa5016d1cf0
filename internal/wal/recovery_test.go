package wal

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// logFixture is a WAL written batch by batch, remembering where each batch
// frame starts and the state after each batch.
type logFixture struct {
	dir     string
	opts    Options
	offsets []int64  // offsets[i] = start of batch i's frame in its segment
	ends    []int64  // end of batch i's frame
	segs    []string // segment file of batch i
	states  []*State // states[i] = state after batches 0..i-1
}

func buildFixture(t *testing.T, segSize int64, batches int) *logFixture {
	t.Helper()
	f := &logFixture{dir: t.TempDir(), opts: Options{SegmentSize: segSize}}
	w, _ := mustOpen(t, f.dir, f.opts)
	st := &State{}
	idx := uint64(1)
	for b := range batches {
		ents := mkEnts(idx, idx+2, 1)
		ents[1].Data = []byte(strings.Repeat("v", 40+b))
		idx += 3
		hs := raft.HardState{Term: 1, Vote: 1, Commit: idx - 4}
		cp := *st
		f.states = append(f.states, &cp)
		if err := w.Save(hs, ents); err != nil {
			t.Fatal(err)
		}
		// The frame lands at the tail offset before the save, unless the
		// save rotated; recompute from the tail after it.
		f.segs = append(f.segs, filepath.Join(f.dir, w.segments[len(w.segments)-1].name))
		f.ends = append(f.ends, w.tailOff)
		st = &State{HardState: hs, Entries: append(append([]raft.Entry(nil), st.Entries...), ents...)}
	}
	f.states = append(f.states, st)
	mustClose(t, w)
	// Each frame ends where the next begins, or the segment's header ends.
	for b := range batches {
		if b > 0 && f.segs[b] == f.segs[b-1] {
			f.offsets = append(f.offsets, f.ends[b-1])
		} else {
			f.offsets = append(f.offsets, headerEnd(t, f.segs[b]))
		}
	}
	return f
}

func headerEnd(t *testing.T, path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seq, _, _ := parseSegmentName(filepath.Base(path))
	res, _, _, size, reason := readFrame(data, 0, seq)
	if res != frameOK {
		t.Fatalf("%s: header: %s", path, reason)
	}
	return size
}

func expectCorruption(t *testing.T, err error, file string, off int64, what string) {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: err = %v, want a *CorruptionError", what, err)
	}
	if ce.File != file || ce.Offset != off {
		t.Fatalf("%s: corruption reported at %s:%d, want %s:%d (%v)", what, ce.File, ce.Offset, file, off, err)
	}
}

// TestTornTailEveryOffset cuts the last frame at every byte offset, three
// ways (file truncated, rest zeroed as in a preallocated file, rest
// garbage), and checks recovery keeps exactly the earlier batches, logs the
// truncation and accepts new writes.
func TestTornTailEveryOffset(t *testing.T) {
	f := buildFixture(t, 64<<10, 4)
	last := len(f.offsets) - 1
	seg, start, end := f.segs[last], f.offsets[last], f.ends[last]
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	want := f.states[last]
	bodyEnd := start + frameHeaderSize + int64(binary.LittleEndian.Uint32(orig[start:]))
	rng := rand.New(rand.NewPCG(1, 2))
	for cut := start; cut < end; cut++ {
		for _, mode := range []string{"truncate", "zero", "garbage"} {
			data := append([]byte(nil), orig...)
			switch mode {
			case "truncate":
				data = data[:cut]
			case "zero":
				clear(data[cut:end])
			case "garbage":
				for i := cut; i < end; i++ {
					data[i] = byte(rng.Uint32())
				}
			}
			if err := os.WriteFile(seg, data, 0o640); err != nil {
				t.Fatal(err)
			}
			want, clean := want, cut == start && mode != "garbage"
			if mode == "zero" && cut >= bodyEnd {
				// Only padding was lost, and padding is zero: the frame
				// is whole.
				want, clean = f.states[last+1], true
			}
			var logs logBuf
			opts := f.opts
			opts.Logger = testLogger(&logs)
			w, st, err := Open(f.dir, opts)
			if err != nil {
				t.Fatalf("cut at %d (%s): %v", cut, mode, err)
			}
			if !equalState(st, want) {
				t.Fatalf("cut at %d (%s): got %s, want %s", cut, mode, describe(st), describe(want))
			}
			if logged := strings.Contains(logs.String(), "torn tail"); logged == clean {
				t.Fatalf("cut at %d (%s): torn-tail log = %v, logs: %s", cut, mode, logged, logs.String())
			}
			// The repaired log takes new writes and keeps them.
			next := mkEnts(uint64(len(want.Entries))+1, uint64(len(want.Entries))+1, 2)
			if err := w.Save(raft.HardState{Term: 2, Commit: want.HardState.Commit}, next); err != nil {
				t.Fatalf("cut at %d (%s): save after repair: %v", cut, mode, err)
			}
			mustClose(t, w)
			if st := reopen(t, f.dir, f.opts); len(st.Entries) != len(want.Entries)+1 {
				t.Fatalf("cut at %d (%s): after repair and save: %s", cut, mode, describe(st))
			}
		}
	}
}

// TestFlipInEarlierFrameIsCorruption flips every byte of a frame that has
// a valid frame after it, in turn: each must stop recovery with an error
// naming the file and the frame's offset.
func TestFlipInEarlierFrameIsCorruption(t *testing.T) {
	f := buildFixture(t, 64<<10, 4)
	seg, start, end := f.segs[1], f.offsets[1], f.ends[1]
	if f.segs[3] != seg {
		t.Fatal("fixture spans segments")
	}
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for i := start; i < end; i++ {
		data := append([]byte(nil), orig...)
		data[i] ^= 0x5a
		if err := os.WriteFile(seg, data, 0o640); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(f.dir, f.opts)
		expectCorruption(t, err, seg, start, "flip at "+itoa(i))
	}
	// The segment header too.
	for _, i := range []int64{0, 3, 4, 9, 20} {
		data := append([]byte(nil), orig...)
		data[i] ^= 0x01
		if err := os.WriteFile(seg, data, 0o640); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(f.dir, f.opts)
		expectCorruption(t, err, seg, 0, "header flip at "+itoa(i))
	}
	// A flip in the very last frame cannot be told from a torn write: the
	// frame is dropped (and logged), as for any torn tail.
	data := append([]byte(nil), orig...)
	data[f.offsets[3]+12] ^= 0x01
	if err := os.WriteFile(seg, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if st := reopen(t, f.dir, f.opts); !equalState(st, f.states[3]) {
		t.Fatalf("flip in last frame: got %s", describe(st))
	}
}

func TestZeroedHoleBeforeValidFrameIsCorruption(t *testing.T) {
	f := buildFixture(t, 64<<10, 4)
	seg := f.segs[1]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[f.offsets[1]:f.ends[1]])
	if err := os.WriteFile(seg, data, 0o640); err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(f.dir, f.opts)
	expectCorruption(t, err, seg, f.offsets[1], "zeroed frame")
}

func TestCorruptionInNonLastSegment(t *testing.T) {
	for _, mode := range []string{"flip last frame", "truncate last frame", "zero last frame"} {
		f := buildFixture(t, 512, 12)
		first := f.segs[0]
		k := 0 // last batch in the first segment
		for k+1 < len(f.segs) && f.segs[k+1] == first {
			k++
		}
		if f.segs[len(f.segs)-1] == first {
			t.Fatal("fixture did not rotate")
		}
		data, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		switch mode {
		case "flip last frame":
			data[f.ends[k]-9] ^= 0x10
		case "truncate last frame":
			data = data[:f.ends[k]-5]
		case "zero last frame":
			clear(data[f.offsets[k]:f.ends[k]])
		}
		if err := os.WriteFile(first, data, 0o640); err != nil {
			t.Fatal(err)
		}
		_, _, err = Open(f.dir, f.opts)
		expectCorruption(t, err, first, f.offsets[k], mode)
		if !strings.Contains(err.Error(), "not the last") && !strings.Contains(err.Error(), "missing here") {
			t.Fatalf("%s: error does not say why: %v", mode, err)
		}
	}
}

// TestImpossibleRecordIsCorruption writes, with a valid checksum, records
// the writer would have refused; recovery must refuse them even at the tail.
func TestImpossibleRecordIsCorruption(t *testing.T) {
	cases := map[string][]byte{
		"gap":          appendEntriesRecord(nil, mkEnts(9, 9, 1)),
		"double vote":  appendHardStateRecord(nil, raft.HardState{Term: 1, Vote: 2}),
		"commit back":  appendHardStateRecord(appendHardStateRecord(nil, raft.HardState{Term: 1, Vote: 1, Commit: 2}), raft.HardState{Term: 1, Vote: 1, Commit: 1}),
		"unknown kind": {42, 1, 2, 3},
		"trailing":     append(appendHardStateRecord(nil, raft.HardState{Term: 1, Vote: 1}), byte(recEntries)),
	}
	for name, body := range cases {
		dir := t.TempDir()
		w, _ := mustOpen(t, dir, Options{})
		if err := w.Save(raft.HardState{Term: 1, Vote: 1}, mkEnts(1, 3, 1)); err != nil {
			t.Fatal(err)
		}
		off := w.tailOff
		seg := filepath.Join(dir, w.segments[0].name)
		if err := w.submit(func(*logState) ([]byte, error) { return body, nil }); err != nil {
			t.Fatal(err)
		}
		mustClose(t, w)
		_, _, err := Open(dir, Options{})
		expectCorruption(t, err, seg, off, name)
	}
}

func TestSegmentSequenceChecks(t *testing.T) {
	t.Run("missing middle segment", func(t *testing.T) {
		f := buildFixture(t, 512, 12)
		segs := segmentFiles(t, f.dir)
		if err := os.Remove(segs[1]); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(f.dir, f.opts)
		expectCorruption(t, err, segs[2], 0, "missing middle")
	})
	t.Run("missing first segment still needed", func(t *testing.T) {
		f := buildFixture(t, 512, 12)
		segs := segmentFiles(t, f.dir)
		if err := os.Remove(segs[0]); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(f.dir, f.opts)
		expectCorruption(t, err, segs[1], 0, "missing first")
		if !strings.Contains(err.Error(), "missing") {
			t.Fatalf("error does not say entries are missing: %v", err)
		}
	})
	t.Run("renamed segment", func(t *testing.T) {
		f := buildFixture(t, 512, 12)
		segs := segmentFiles(t, f.dir)
		seq, first, _ := parseSegmentName(filepath.Base(segs[1]))
		wrong := filepath.Join(f.dir, segmentName(seq, first+1))
		if err := os.Rename(segs[1], wrong); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(f.dir, f.opts)
		expectCorruption(t, err, wrong, 0, "renamed")
	})
	t.Run("segment from another log", func(t *testing.T) {
		a := buildFixture(t, 512, 12)
		// Same shape, different hard state: headers check out on their
		// own but do not continue each other.
		other := t.TempDir()
		w, _ := mustOpen(t, other, a.opts)
		idx := uint64(1)
		for b := range 12 {
			ents := mkEnts(idx, idx+2, 1)
			ents[1].Data = []byte(strings.Repeat("v", 40+b))
			idx += 3
			if err := w.Save(raft.HardState{Term: 1, Vote: 2, Commit: idx - 4}, ents); err != nil {
				t.Fatal(err)
			}
		}
		mustClose(t, w)
		as, os2 := segmentFiles(t, a.dir), segmentFiles(t, other)
		b, err := os.ReadFile(os2[2])
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(as[2]) != filepath.Base(os2[2]) {
			t.Fatalf("fixtures differ in shape: %s vs %s", as[2], os2[2])
		}
		if err := os.WriteFile(as[2], b, 0o640); err != nil {
			t.Fatal(err)
		}
		_, _, err = Open(a.dir, a.opts)
		k := 0 // last batch of segment 1
		for i, s := range a.segs {
			if s == as[1] {
				k = i
			}
		}
		expectCorruption(t, err, as[1], a.ends[k], "foreign segment")
	})
}

func itoa(v int64) string {
	if v < 0 {
		return "-" + raftItoa(uint64(-v))
	}
	return raftItoa(uint64(v))
}

func raftItoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
