package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// castagnoli is CRC-32C, the checksum the WAL uses too; it has hardware
// support on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// imageChunk is how many bytes the image reader and writer buffer between
// calls to the underlying reader or writer.
const imageChunk = 64 << 10

// imageWriter encodes a snapshot image, checksumming everything it writes and
// remembering the first error so that callers check once, at finish.
type imageWriter struct {
	w   io.Writer
	crc hash.Hash32
	buf []byte
	err error
}

func newImageWriter(w io.Writer) *imageWriter {
	return &imageWriter{w: w, crc: crc32.New(castagnoli), buf: make([]byte, 0, imageChunk)}
}

func (iw *imageWriter) maybeFlush() {
	if len(iw.buf) >= imageChunk {
		iw.flush()
	}
}

func (iw *imageWriter) flush() {
	if iw.err == nil && len(iw.buf) > 0 {
		iw.crc.Write(iw.buf) // never fails
		_, iw.err = iw.w.Write(iw.buf)
	}
	iw.buf = iw.buf[:0]
}

func (iw *imageWriter) raw(b []byte) { iw.buf = append(iw.buf, b...); iw.maybeFlush() }
func (iw *imageWriter) uvarint(v uint64) {
	iw.buf = binary.AppendUvarint(iw.buf, v)
	iw.maybeFlush()
}
func (iw *imageWriter) varint(v int64) { iw.buf = binary.AppendVarint(iw.buf, v); iw.maybeFlush() }
func (iw *imageWriter) str(v string) {
	iw.buf = binary.AppendUvarint(iw.buf, uint64(len(v)))
	iw.buf = append(iw.buf, v...)
	iw.maybeFlush()
}

// finish flushes the body and appends the checksum, which covers the body
// only.
func (iw *imageWriter) finish() error {
	iw.flush()
	if iw.err != nil {
		return iw.err
	}
	_, err := iw.w.Write(binary.BigEndian.AppendUint32(nil, iw.crc.Sum32()))
	return err
}

// imageReader decodes a snapshot image from a stream through its own buffer,
// checksumming bytes as they are consumed, and remembers the first error.
// Lengths are checked against limits before anything is allocated.
type imageReader struct {
	r   io.Reader
	crc hash.Hash32
	// buf[pos:] is read but not yet consumed; buf[:pos] is consumed but not
	// yet added to crc.
	buf []byte
	pos int
	eof bool
	err error
}

func newImageReader(r io.Reader) *imageReader {
	return &imageReader{r: r, crc: crc32.New(castagnoli), buf: make([]byte, 0, imageChunk)}
}

func (ir *imageReader) fail(err error) {
	if ir.err == nil {
		ir.err = err
	}
}

// fill makes at least n unconsumed bytes available if the stream has them,
// and reports whether it did.
func (ir *imageReader) fill(n int) bool {
	if len(ir.buf)-ir.pos >= n {
		return true
	}
	ir.crc.Write(ir.buf[:ir.pos])
	rest := copy(ir.buf, ir.buf[ir.pos:])
	ir.buf, ir.pos = ir.buf[:rest], 0
	if cap(ir.buf) < n {
		ir.buf = append(make([]byte, 0, n), ir.buf...)
	}
	for len(ir.buf) < n && !ir.eof {
		m, err := ir.r.Read(ir.buf[len(ir.buf):cap(ir.buf)])
		ir.buf = ir.buf[:len(ir.buf)+m]
		if errors.Is(err, io.EOF) {
			ir.eof = true
		} else if err != nil {
			ir.fail(fmt.Errorf("read: %w", err))
			return false
		}
	}
	return len(ir.buf) >= n
}

func (ir *imageReader) truncated() {
	ir.fail(fmt.Errorf("%w: truncated", ErrCorruptSnapshot))
}

func (ir *imageReader) raw(b []byte) {
	if ir.err != nil {
		return
	}
	if !ir.fill(len(b)) {
		ir.truncated()
		return
	}
	ir.pos += copy(b, ir.buf[ir.pos:])
}

func (ir *imageReader) byte() byte {
	var b [1]byte
	ir.raw(b[:])
	return b[0]
}

func (ir *imageReader) uvarint() uint64 {
	if ir.err != nil {
		return 0
	}
	ir.fill(binary.MaxVarintLen64) // a short fill is fine: the varint may be shorter
	if ir.err != nil {
		return 0
	}
	v, n := binary.Uvarint(ir.buf[ir.pos:])
	switch {
	case n == 0:
		ir.truncated()
		return 0
	case n < 0:
		ir.fail(fmt.Errorf("%w: varint overflows 64 bits", ErrCorruptSnapshot))
		return 0
	case n != uvarintLen(v):
		// Accepting only minimal varints keeps one state, one image.
		ir.fail(fmt.Errorf("%w: varint is not minimal", ErrCorruptSnapshot))
		return 0
	}
	ir.pos += n
	return v
}

func (ir *imageReader) varint() int64 {
	u := ir.uvarint()
	return int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint writes
}

// str reads a length-prefixed string of at most limit bytes.
func (ir *imageReader) str(limit int) string {
	n := ir.uvarint()
	if ir.err != nil {
		return ""
	}
	if n > uint64(limit) {
		ir.fail(fmt.Errorf("%w: string of %d bytes, limit %d", ErrCorruptSnapshot, n, limit))
		return ""
	}
	if !ir.fill(int(n)) {
		ir.truncated()
		return ""
	}
	v := string(ir.buf[ir.pos : ir.pos+int(n)])
	ir.pos += int(n)
	return v
}

// finish checks the trailing checksum and that nothing follows it.
func (ir *imageReader) finish() error {
	if ir.err != nil {
		return ir.err
	}
	ir.crc.Write(ir.buf[:ir.pos])
	want := ir.crc.Sum32()
	ir.buf, ir.pos = ir.buf[ir.pos:], 0
	if !ir.fill(4) {
		if ir.err != nil {
			return ir.err
		}
		return fmt.Errorf("%w: truncated before checksum", ErrCorruptSnapshot)
	}
	got := binary.BigEndian.Uint32(ir.buf[:4])
	if got != want {
		return fmt.Errorf("%w: checksum %#08x, computed %#08x", ErrCorruptSnapshot, got, want)
	}
	if ir.fill(5) || ir.err != nil {
		if ir.err != nil {
			return ir.err
		}
		return fmt.Errorf("%w: data after checksum", ErrCorruptSnapshot)
	}
	return nil
}
