package wal

import (
	"fmt"
	"strconv"
	"strings"
)

// Segment files are named <seq>-<firstIndex>.wal in 16 hex digits each, like
// etcd's $seq-$index.wal: sorting names sorts by sequence number, and the
// name says which index the segment starts at (its header's lastIndex+1)
// without opening it.
const (
	segmentExt = ".wal"
	tmpExt     = ".tmp"
	lockName   = "LOCK"
	snapDir    = "snap"
)

// segmentInfo is what the writer remembers about each live segment.
type segmentInfo struct {
	name string
	seq  uint64
	// lastIndex is the header's lastIndex: every entry written before this
	// segment started has an index <= lastIndex. Compaction may delete every
	// segment before this one once a snapshot covers lastIndex.
	lastIndex uint64
}

func segmentName(seq, firstIndex uint64) string {
	return fmt.Sprintf("%016x-%016x%s", seq, firstIndex, segmentExt)
}

// parseSegmentName returns the sequence number and first index a segment
// file name claims, and whether name is a segment name at all.
func parseSegmentName(name string) (seq, firstIndex uint64, ok bool) {
	base, found := strings.CutSuffix(name, segmentExt)
	if !found || len(base) != 33 || base[16] != '-' {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(base[:16], 16, 64)
	firstIndex, err2 := strconv.ParseUint(base[17:], 16, 64)
	return seq, firstIndex, err1 == nil && err2 == nil
}
