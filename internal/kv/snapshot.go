package kv

import (
	"errors"
	"fmt"
	"io"
)

// snapshotMagic opens every image; its last byte is the format version.
// Bump the version on any change to the layout below.
var snapshotMagic = [8]byte{'R', 'K', 'V', 'S', 'N', 'A', 'P', 1}

// Snapshot errors.
var (
	// ErrCorruptSnapshot: the image is not one WriteSnapshot wrote (bad
	// magic or version, bad checksum, truncated, or values that break the
	// store's invariants). The store is unchanged.
	ErrCorruptSnapshot = errors.New("kv: corrupt snapshot")
	// ErrConfigMismatch: the image was taken under a different Config.
	// Replicas with different session bounds could apply the same log
	// differently, so this is refused rather than papered over.
	ErrConfigMismatch = errors.New("kv: snapshot taken under a different session config")
	// ErrStaleSnapshot: the image is older than what the store has already
	// applied; restoring it would move the applied index backwards.
	ErrStaleSnapshot = errors.New("kv: snapshot older than the applied index")
)

// WriteSnapshot writes a deterministic image of the store to w: the same
// state always yields the same bytes. The layout, all integers varints
// unless noted, is:
//
//	magic      8 bytes  "RKVSNAP" then format version 1
//	applied, revision, now (signed)
//	config     ResultsPerSession, MaxSessions, SessionTTL (signed)
//	nKeys, then per key in ascending order:
//	           keyLen, key, valueLen, value, create, mod, version
//	nSessions, then per session by ascending client id:
//	           clientID, lastIndex, lastSeen (signed), floor, nResults,
//	           then per result by ascending request id:
//	           requestID, index, status (1 byte), revision, version, create, mod
//	checksum   4 bytes, big-endian CRC-32C of everything before it
//
// To write while applies continue, call it on a Clone from another goroutine.
func (s *Store) WriteSnapshot(w io.Writer) error {
	iw := newImageWriter(w)
	iw.raw(snapshotMagic[:])
	iw.uvarint(s.applied)
	iw.uvarint(s.revision)
	iw.varint(s.now)
	iw.uvarint(uint64(s.cfg.ResultsPerSession))
	iw.uvarint(uint64(s.cfg.MaxSessions))
	iw.varint(s.cfg.SessionTTL)

	iw.uvarint(uint64(s.data.Len()))
	s.data.Ascend(func(it item) bool {
		iw.str(it.key)
		iw.str(it.value)
		iw.uvarint(it.create)
		iw.uvarint(it.mod)
		iw.uvarint(it.version)
		return iw.err == nil
	})

	iw.uvarint(uint64(s.sessions.Len()))
	s.sessions.Ascend(func(ref sessionRef) bool {
		ss := ref.s
		iw.uvarint(ss.clientID)
		iw.uvarint(ss.lastIndex)
		iw.varint(ss.lastSeen)
		iw.uvarint(ss.floor)
		iw.uvarint(uint64(len(ss.results)))
		for i := range ss.results {
			c := &ss.results[i]
			iw.uvarint(c.requestID)
			iw.uvarint(c.index)
			iw.raw([]byte{byte(c.status)})
			iw.uvarint(c.revision)
			iw.uvarint(c.version)
			iw.uvarint(c.create)
			iw.uvarint(c.mod)
		}
		return iw.err == nil
	})
	if err := iw.finish(); err != nil {
		return fmt.Errorf("write kv snapshot at index %d: %w", s.applied, err)
	}
	return nil
}

// Restore replaces the store's whole state with the image read from r. It
// reads r to its end. On any error the store is left exactly as it was.
func (s *Store) Restore(r io.Reader) error {
	n, err := s.readImage(r)
	if err != nil {
		return fmt.Errorf("restore kv snapshot: %w", err)
	}
	*s = *n
	return nil
}

// readImage decodes and checks an image into a new Store.
func (s *Store) readImage(r io.Reader) (*Store, error) {
	ir := newImageReader(r)
	var magic [8]byte
	ir.raw(magic[:])
	if ir.err != nil {
		return nil, ir.err
	}
	if magic != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic or version %q", ErrCorruptSnapshot, magic[:])
	}
	n := New(s.cfg)
	n.applied = ir.uvarint()
	n.revision = ir.uvarint()
	n.now = ir.varint()
	cfg := Config{
		ResultsPerSession: int(min(ir.uvarint(), 1<<31)),
		MaxSessions:       int(min(ir.uvarint(), 1<<31)),
		SessionTTL:        ir.varint(),
	}
	if ir.err != nil {
		return nil, ir.err
	}
	if cfg != s.cfg {
		return nil, fmt.Errorf("%w: image has %+v, store has %+v", ErrConfigMismatch, cfg, s.cfg)
	}
	if n.applied < s.applied {
		return nil, fmt.Errorf("%w: image at index %d, store at %d", ErrStaleSnapshot, n.applied, s.applied)
	}
	if n.revision > n.applied || n.now < 0 {
		return nil, corrupt("header: revision %d, applied %d, time %d", n.revision, n.applied, n.now)
	}

	if err := readKeys(n, ir); err != nil {
		return nil, err
	}
	if err := readSessions(n, ir); err != nil {
		return nil, err
	}
	if err := ir.finish(); err != nil {
		return nil, err
	}
	return n, nil
}

func readKeys(n *Store, ir *imageReader) error {
	count := ir.uvarint()
	var prev string
	for i := uint64(0); i < count && ir.err == nil; i++ {
		it := item{key: ir.str(MaxKeySize), value: ir.str(MaxValueSize)}
		it.create, it.mod, it.version = ir.uvarint(), ir.uvarint(), ir.uvarint()
		if ir.err != nil {
			break
		}
		switch {
		case it.key == "":
			return corrupt("key %d is empty", i)
		case i > 0 && it.key <= prev:
			return corrupt("key %d %q not above %q", i, it.key, prev)
		case it.version == 0 || it.create == 0 || it.create > it.mod || it.mod > n.revision:
			return corrupt("key %q: version %d, create %d, mod %d, revision %d",
				it.key, it.version, it.create, it.mod, n.revision)
		}
		n.data.ReplaceOrInsert(it)
		prev = it.key
	}
	return ir.err
}

func readSessions(n *Store, ir *imageReader) error {
	count := ir.uvarint()
	if ir.err == nil && count > uint64(n.cfg.MaxSessions) {
		return corrupt("%d sessions, limit %d", count, n.cfg.MaxSessions)
	}
	var prevID uint64
	for i := uint64(0); i < count && ir.err == nil; i++ {
		ss := &session{owner: n.cow}
		ss.clientID, ss.lastIndex, ss.lastSeen, ss.floor = ir.uvarint(), ir.uvarint(), ir.varint(), ir.uvarint()
		nres := ir.uvarint()
		if ir.err != nil {
			break
		}
		switch {
		case ss.clientID <= prevID:
			return corrupt("session %d: client id %d not above %d", i, ss.clientID, prevID)
		case ss.lastIndex == 0 || ss.lastIndex > n.applied || ss.lastSeen > n.now:
			return corrupt("client %d: last seen at index %d time %d, store at %d time %d",
				ss.clientID, ss.lastIndex, ss.lastSeen, n.applied, n.now)
		case nres > uint64(n.cfg.ResultsPerSession):
			return corrupt("client %d: %d cached results, limit %d", ss.clientID, nres, n.cfg.ResultsPerSession)
		}
		prevReq := ss.floor
		for j := uint64(0); j < nres && ir.err == nil; j++ {
			c := cachedResult{requestID: ir.uvarint(), index: ir.uvarint(), status: Status(ir.byte())}
			c.revision, c.version, c.create, c.mod = ir.uvarint(), ir.uvarint(), ir.uvarint(), ir.uvarint()
			if ir.err != nil {
				break
			}
			switch {
			case c.requestID <= prevReq:
				return corrupt("client %d: request id %d not above %d", ss.clientID, c.requestID, prevReq)
			case c.status == StatusNone || c.status >= statusEnd:
				return corrupt("client %d request %d: status %d", ss.clientID, c.requestID, c.status)
			case c.index == 0 || c.index > n.applied || c.revision > n.revision:
				return corrupt("client %d request %d: index %d revision %d", ss.clientID, c.requestID, c.index, c.revision)
			}
			ss.results = append(ss.results, c)
			prevReq = c.requestID
		}
		if _, dup := n.lru.ReplaceOrInsert(lruKey{lastIndex: ss.lastIndex, clientID: ss.clientID}); dup {
			return corrupt("client %d: last index %d shared with another session", ss.clientID, ss.lastIndex)
		}
		n.sessions.ReplaceOrInsert(sessionRef{clientID: ss.clientID, s: ss})
		prevID = ss.clientID
	}
	return ir.err
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}
