package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestConstructorsValidate(t *testing.T) {
	big := strings.Repeat("k", MaxKeySize+1)
	huge := strings.Repeat("v", MaxValueSize+1)
	tests := []struct {
		name string
		make func() (Command, error)
		want error
	}{
		{"put", func() (Command, error) { return NewPut("a", "1") }, nil},
		{"put empty value", func() (Command, error) { return NewPut("a", "") }, nil},
		{"put max sizes", func() (Command, error) {
			return NewPut(strings.Repeat("k", MaxKeySize), strings.Repeat("v", MaxValueSize))
		}, nil},
		{"put empty key", func() (Command, error) { return NewPut("", "1") }, ErrEmptyKey},
		{"put key too large", func() (Command, error) { return NewPut(big, "1") }, ErrKeyTooLarge},
		{"put value too large", func() (Command, error) { return NewPut("a", huge) }, ErrValueTooLarge},
		{"delete", func() (Command, error) { return NewDelete("a") }, nil},
		{"delete empty key", func() (Command, error) { return NewDelete("") }, ErrEmptyKey},
		{"delete key too large", func() (Command, error) { return NewDelete(big) }, ErrKeyTooLarge},
		{"cas put create-only", func() (Command, error) { return NewCASPut("a", "1", 0) }, nil},
		{"cas put", func() (Command, error) { return NewCASPut("a", "1", 7) }, nil},
		{"cas put empty key", func() (Command, error) { return NewCASPut("", "1", 1) }, ErrEmptyKey},
		{"cas delete", func() (Command, error) { return NewCASDelete("a", 3) }, nil},
		{"cas delete empty key", func() (Command, error) { return NewCASDelete("", 3) }, ErrEmptyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.make()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("err %v does not wrap ErrInvalidCommand", err)
			}
			if err == nil {
				if _, err := EncodeCommand(c); err != nil {
					t.Fatalf("valid command does not encode: %v", err)
				}
			}
		})
	}
}

func TestValidateRejectsNonCanonicalCommands(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		want error
	}{
		{"zero op", Command{Key: "a"}, ErrUnknownOp},
		{"op out of range", Command{Op: opEnd, Key: "a"}, ErrUnknownOp},
		{"if-version without conditional", Command{Op: OpPut, Key: "a", IfVersion: 2}, ErrMalformed},
		{"delete with value", Command{Op: OpDelete, Key: "a", Value: "x"}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.Validate(); !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
			if _, err := EncodeCommand(tt.c); !errors.Is(err, tt.want) {
				t.Fatalf("EncodeCommand = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCommandEncodingGolden pins the version-1 layout byte for byte: a
// change here is a protocol change and needs a new CommandVersion.
func TestCommandEncodingGolden(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		want []byte
	}{
		{"put", Command{Op: OpPut, Key: "ab", Value: "xyz", Timestamp: 0x0102030405060708},
			[]byte{1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 2, 'a', 'b', 3, 'x', 'y', 'z'}},
		{"delete", Command{Op: OpDelete, Key: "k", Timestamp: -1},
			[]byte{1, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 'k'}},
		{"cas put", Command{Op: OpPut, Key: "k", Value: "", Conditional: true, IfVersion: 300},
			[]byte{1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0xac, 0x02, 0}},
		{"cas delete version 0", Command{Op: OpDelete, Key: "k", Conditional: true},
			[]byte{1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'k', 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeCommand(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encoding\n got % x\nwant % x", got, tt.want)
			}
			if n := CommandSize(&tt.c); n != len(got) {
				t.Fatalf("CommandSize = %d, encoding has %d bytes", n, len(got))
			}
			back, err := DecodeCommand(got)
			if err != nil {
				t.Fatal(err)
			}
			if back != tt.c {
				t.Fatalf("round trip: got %+v, want %+v", back, tt.c)
			}
		})
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	hdr := func(op, flags byte) []byte { return []byte{1, op, flags, 0, 0, 0, 0, 0, 0, 0, 9} }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"empty", []byte{}, ErrTruncated},
		{"version 0", []byte{0, 1, 0}, ErrUnknownVersion},
		{"version 2", cat([]byte{2}, hdr(1, 0)[1:], uv(1), []byte("a"), uv(0)), ErrUnknownVersion},
		{"short header", []byte{1, 1, 0, 0, 0}, ErrTruncated},
		{"op 0", cat(hdr(0, 0), uv(1), []byte("a")), ErrUnknownOp},
		{"op 3", cat(hdr(3, 0), uv(1), []byte("a")), ErrUnknownOp},
		{"unknown flag", cat(hdr(2, 2), uv(1), []byte("a")), ErrMalformed},
		{"no key length", hdr(1, 0), ErrTruncated},
		{"empty key", cat(hdr(2, 0), uv(0)), ErrEmptyKey},
		{"key length past end", cat(hdr(2, 0), uv(5), []byte("abc")), ErrTruncated},
		{"key too large", cat(hdr(2, 0), uv(MaxKeySize+1)), ErrKeyTooLarge},
		{"huge key length", cat(hdr(2, 0), uv(1<<63)), ErrKeyTooLarge},
		{"varint overflow", cat(hdr(2, 0), bytes.Repeat([]byte{0xff}, 10), []byte{1}), ErrMalformed},
		{"non-minimal varint", cat(hdr(2, 0), []byte{0x81, 0x00}, []byte("a")), ErrMalformed},
		{"conditional without version", cat(hdr(2, 1), uv(1), []byte("a")), ErrTruncated},
		{"put without value", cat(hdr(1, 0), uv(1), []byte("a")), ErrTruncated},
		{"value past end", cat(hdr(1, 0), uv(1), []byte("a"), uv(4), []byte("xy")), ErrTruncated},
		{"value too large", cat(hdr(1, 0), uv(1), []byte("a"), uv(MaxValueSize+1)), ErrValueTooLarge},
		{"delete with trailing value", cat(hdr(2, 0), uv(1), []byte("a"), uv(1), []byte("x")), ErrMalformed},
		{"trailing byte", cat(hdr(1, 0), uv(1), []byte("a"), uv(0), []byte{0}), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeCommand(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeCommand(% x) = %+v, %v; want %v", tt.in, c, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("error %v does not wrap ErrInvalidCommand", err)
			}
			if !strings.HasPrefix(err.Error(), "decode command: ") {
				t.Fatalf("error %q lacks context", err)
			}
		})
	}
}

func TestDecodeCommandCopiesInput(t *testing.T) {
	c, _ := NewPut("key", "value")
	b, _ := EncodeCommand(c)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if got.Key != "key" || got.Value != "value" {
		t.Fatalf("decoded command changed with its input buffer: %+v", got)
	}
}

func TestCommandString(t *testing.T) {
	c, _ := NewCASPut("k", "abc", 4)
	c.Timestamp = 12
	if got, want := c.String(), `Put "k" (3 bytes) if version=4 @12`; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if got, want := Op(9).String(), "Op(9)"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}
