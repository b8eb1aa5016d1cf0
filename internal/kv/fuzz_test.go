package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzDecodeCommand checks that the decoder never panics, that everything it
// rejects is an ErrInvalidCommand, and that everything it accepts is a valid
// command whose encoding is exactly the input (one command, one encoding).
//
//	go test -run='^$' -fuzz=FuzzDecodeCommand -fuzztime=30s ./internal/kv/
func FuzzDecodeCommand(f *testing.F) {
	seeds := []Command{
		{Op: OpPut, Key: "a", Value: "1", Timestamp: 1_750_000_000_000_000_000},
		{Op: OpPut, Key: "\xff\xff", Value: "", Conditional: true},
		{Op: OpPut, Key: "k", Value: "v", Conditional: true, IfVersion: 1 << 40},
		{Op: OpDelete, Key: "key/with/slashes", Timestamp: -5},
		{Op: OpDelete, Key: "k", Conditional: true, IfVersion: 3},
	}
	for i := range seeds {
		f.Add(AppendCommand(nil, &seeds[i]))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0})
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := DecodeCommand(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("error %v does not wrap ErrInvalidCommand", err)
			}
			if c != (Command{}) {
				t.Fatalf("rejected input returned a command: %+v", c)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted %+v, which does not validate: %v", c, err)
		}
		out := AppendCommand(nil, &c)
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip changed bytes:\n in % x\nout % x", in, out)
		}
		if CommandSize(&c) != len(in) {
			t.Fatalf("CommandSize = %d, input has %d bytes", CommandSize(&c), len(in))
		}
		// Applying an accepted command must not panic either.
		s := New(Config{})
		s.Apply(normalEntry(1, 0, 0, in))
	})
}

// FuzzRestore checks that Restore never panics on a damaged image, leaves
// the store untouched when it fails, and that every image it accepts is
// written back byte for byte (one state, one image). The fuzzer supplies the
// image body and the test appends its correct checksum, so that mutations
// reach the parser instead of all stopping at the checksum.
//
//	go test -run='^$' -fuzz=FuzzRestore -fuzztime=30s ./internal/kv/
func FuzzRestore(f *testing.F) {
	body := func(image []byte) []byte { return image[:len(image)-4] }
	f.Add(body(snapshotBytes(f, New(snapCfg))))
	d := newDriver(f, snapCfg)
	d.do(mustPut(f, "a", "1"))
	d.apply(mustPut(f, "b", "2"), 10, 4, 1)
	d.apply(mustCASPut(f, "b", "3", 9), 11, 4, 2)
	d.apply(mustDelete(f, "c"), 12, 5, 1)
	f.Add(body(snapshotBytes(f, d.s)))
	f.Fuzz(func(t *testing.T, b []byte) {
		image := binary.BigEndian.AppendUint32(bytes.Clone(b), crc32.Checksum(b, castagnoli))
		s := New(snapCfg)
		empty := snapshotBytes(t, s)
		if err := s.Restore(bytes.NewReader(image)); err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) && !errors.Is(err, ErrConfigMismatch) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if !bytes.Equal(snapshotBytes(t, s), empty) {
				t.Fatalf("failed restore (%v) changed the store", err)
			}
			return
		}
		if out := snapshotBytes(t, s); !bytes.Equal(out, image) {
			t.Fatalf("accepted image is written back differently:\n in % x\nout % x", image, out)
		}
	})
}
