package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Frame layout (see DESIGN.md, "Framing"):
//
//	offset 0, 8-byte aligned:  u32 LE body length | u32 LE CRC-32C
//	offset 8:                  body = type byte + payload
//	then zero padding to the next multiple of 8
//
// The header word is 8 bytes at an 8-aligned offset, so it lies inside one
// disk sector and is written atomically: a length is never half-written.
// An all-zero header word means "no frame here" (never-written or
// preallocated space). The CRC covers the body and is seeded with the
// segment's sequence number and the frame's own file offset, so a frame image
// found anywhere but where it was written (inside an entry's data, in another
// segment, after a misdirected write) does not check out.
const (
	frameAlign      = 8
	frameHeaderSize = 8
	// maxFrameBody bounds the body length a reader believes, so garbage
	// cannot make recovery allocate or checksum gigabytes.
	maxFrameBody = 1 << 30
)

// frameType is the first body byte.
type frameType byte

const (
	// frameSegmentHeader opens every segment (only at offset 0).
	frameSegmentHeader frameType = 1
	// frameBatch holds the records of one group commit (see record.go).
	frameBatch frameType = 2
)

// castagnoli is the CRC-32C table; read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func frameChecksum(seq uint64, off int64, body []byte) uint32 {
	var salt [16]byte
	binary.LittleEndian.PutUint64(salt[0:8], seq)
	binary.LittleEndian.PutUint64(salt[8:16], uint64(off))
	return crc32.Update(crc32.Update(0, castagnoli, salt[:]), castagnoli, body)
}

func alignUp(n int64) int64 { return (n + frameAlign - 1) &^ (frameAlign - 1) }

// beginFrame reserves a frame header and writes the type byte; the caller
// appends the payload and calls endFrame with the returned start.
func beginFrame(b []byte, t frameType) ([]byte, int) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, byte(t))
	return b, start
}

// endFrame pads the frame that begins at b[start] and fills in its header,
// for a frame that will sit at file offset off of segment seq.
func endFrame(b []byte, start int, seq uint64, off int64) []byte {
	body := b[start+frameHeaderSize:]
	n := len(body)
	if n > maxFrameBody {
		// Callers bound batch sizes well below this; reaching it is a bug.
		panic(fmt.Sprintf("wal: frame body of %d bytes exceeds %d", n, maxFrameBody))
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	binary.LittleEndian.PutUint32(b[start+4:], frameChecksum(seq, off, body))
	for pad := alignUp(int64(n)) - int64(n); pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// frameResult is what readFrame found at an offset.
type frameResult int

const (
	frameOK    frameResult = iota // a whole frame with a matching checksum
	frameEmpty                    // an all-zero header word: nothing written here
	frameBad                      // damaged: see the reason
)

// readFrame inspects data[off:] (off 8-aligned) for a frame of segment seq.
// On frameOK it returns the frame type, its payload (aliasing data) and the
// total frame size including padding. It never panics, whatever data holds.
func readFrame(data []byte, off int64, seq uint64) (res frameResult, t frameType, payload []byte, size int64, reason string) {
	left := int64(len(data)) - off
	if left < frameHeaderSize {
		if allZero(data[off:]) {
			return frameEmpty, 0, nil, 0, ""
		}
		return frameBad, 0, nil, 0, fmt.Sprintf("%d stray bytes too short for a frame header", left)
	}
	n := int64(binary.LittleEndian.Uint32(data[off:]))
	sum := binary.LittleEndian.Uint32(data[off+4:])
	if n == 0 {
		if sum == 0 {
			return frameEmpty, 0, nil, 0, ""
		}
		return frameBad, 0, nil, 0, "zero-length frame with a nonzero checksum"
	}
	if n > maxFrameBody {
		return frameBad, 0, nil, 0, fmt.Sprintf("frame length %d exceeds the %d limit", n, maxFrameBody)
	}
	size = frameHeaderSize + alignUp(n)
	if size > left {
		return frameBad, 0, nil, 0, fmt.Sprintf("frame of %d bytes runs past the end of the file (%d bytes left)", size, left)
	}
	body := data[off+frameHeaderSize : off+frameHeaderSize+n]
	if got := frameChecksum(seq, off, body); got != sum {
		return frameBad, 0, nil, 0, fmt.Sprintf("checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	if !allZero(data[off+frameHeaderSize+n : off+size]) {
		return frameBad, 0, nil, 0, "nonzero bytes in frame padding"
	}
	return frameOK, frameType(body[0]), body[1:], size, ""
}

// allZero reports whether b holds only zero bytes. bytes.Count of one byte
// is vectorised by the runtime: recovery checks up to a 64 MiB preallocated
// tail this way on every Open.
func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// findValidFrame returns the offset of the first checksummed batch frame at
// or after from (rounded up to the alignment), or -1. Recovery uses it to
// tell a torn tail (nothing valid follows the damage) from corruption in the
// middle of the log (something does). Candidates are filtered by their type
// bytes before any checksum is computed, so a garbage tail costs little.
func findValidFrame(data []byte, from int64, seq uint64) int64 {
	for p := alignUp(from); p+frameHeaderSize < int64(len(data)); p += frameAlign {
		if binary.LittleEndian.Uint64(data[p:]) == 0 {
			continue
		}
		if frameType(data[p+frameHeaderSize]) != frameBatch {
			continue
		}
		if res, _, _, _, _ := readFrame(data, p, seq); res == frameOK {
			return p
		}
	}
	return -1
}
