package wal

import (
	"path/filepath"
	"testing"

	"github.com/raftkv/raftkv/internal/raft"
)

// seedFrames returns a few well-formed frames for the fuzzers' corpora.
func seedFrames() [][]byte {
	var out [][]byte
	b, start := beginFrame(nil, frameBatch)
	b = appendEntriesRecord(b, mkEnts(1, 3, 1))
	b = appendHardStateRecord(b, raft.HardState{Term: 1, Vote: 2, Commit: 3})
	out = append(out, endFrame(b, start, 0, 0))
	b, start = beginFrame(nil, frameBatch)
	b = appendSnapshotRecord(b, &raft.SnapshotMeta{Index: 5, Term: 2, Members: []uint64{1, 2, 3}}, true)
	out = append(out, endFrame(b, start, 0, 0))
	b, start = beginFrame(nil, frameSegmentHeader)
	b = appendSegHeader(b, &segHeader{lastIndex: 7, lastTerm: 2, hs: raft.HardState{Term: 2}, snap: raft.SnapshotMeta{Index: 3, Term: 1}})
	out = append(out, endFrame(b, start, 0, 0))
	return out
}

// FuzzDecodeRecord feeds arbitrary bytes to the frame reader, the batch and
// header decoders and the damage scanner: none may panic, and whatever
// decodes must re-encode to a frame that decodes the same way.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = findValidFrame(data, 0, 0)
		_, _ = decodeBatch(data)
		_, _ = decodeSegHeader(data)
		for off := int64(0); off < int64(len(data)); off += frameAlign {
			res, typ, payload, size, _ := readFrame(data, off, 0)
			if res != frameOK {
				continue
			}
			if size <= 0 || off+size > int64(len(data)) || size%frameAlign != 0 {
				t.Fatalf("frame at %d has size %d in %d bytes", off, size, len(data))
			}
			if typ == frameBatch {
				if ops, err := decodeBatch(payload); err == nil && len(ops) == 0 {
					t.Fatal("batch decoded to no records without error")
				}
			}
			// Re-framing the payload at another offset gives the same bytes back.
			b, start := beginFrame(nil, typ)
			b = endFrame(append(b, payload...), start, 3, 64)
			res2, typ2, payload2, _, reason := readFrame(append(make([]byte, 64), b...), 64, 3)
			if res2 != frameOK || typ2 != typ || string(payload2) != string(payload) {
				t.Fatalf("re-framed payload does not read back: %v %s", res2, reason)
			}
		}
	})
}

// FuzzOpenSegment writes a valid segment header followed by arbitrary bytes
// as the only segment and opens it: Open may refuse, but must not panic,
// and what it recovers must be a well-formed log.
func FuzzOpenSegment(f *testing.F) {
	for _, s := range seedFrames()[:2] {
		f.Add(s)
	}
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, tail []byte) {
		const dir = "/fuzz"
		b, start := beginFrame(nil, frameSegmentHeader)
		b = endFrame(appendSegHeader(b, &segHeader{}), start, 0, 0)
		// Re-seal frames found in the input at their new offsets, so the
		// fuzzer reaches record validation, not only checksum failures.
		data := append(b, tail...)
		for off := int64(len(b)); off+frameHeaderSize < int64(len(data)); {
			n := int64(uint32(data[off]) | uint32(data[off+1])<<8 | uint32(data[off+2])<<16 | uint32(data[off+3])<<24)
			size := frameHeaderSize + alignUp(n)
			if n == 0 || off+size > int64(len(data)) {
				break
			}
			body := data[off+frameHeaderSize : off+frameHeaderSize+n]
			sum := frameChecksum(0, off, body)
			data[off+4], data[off+5], data[off+6], data[off+7] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
			off += size
		}
		fsys := newCrashFS()
		if err := fsys.MkdirAll(dir); err != nil {
			t.Fatal(err)
		}
		file, err := fsys.Create(filepath.Join(dir, segmentName(0, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		w, st, err := Open(dir, Options{SegmentSize: 4096, FS: fsys})
		if err != nil {
			return
		}
		defer func() { _ = w.Close() }()
		for i, e := range st.Entries {
			if e.Index != st.Snapshot.Index+1+uint64(i) {
				t.Fatalf("recovered entry %d has index %d after snapshot %d", i, e.Index, st.Snapshot.Index)
			}
		}
		if st.HardState.Commit > st.Snapshot.Index+uint64(len(st.Entries)) {
			t.Fatalf("commit %d past the log", st.HardState.Commit)
		}
	})
}

// FuzzDecodeSnapshotFile: arbitrary snapshot file contents never panic.
func FuzzDecodeSnapshotFile(f *testing.F) {
	f.Add([]byte(snapMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodeSnapshotFile("fuzz", b)
	})
}
