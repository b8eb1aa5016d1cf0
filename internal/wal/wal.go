package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/raftkv/raftkv/internal/raft"
)

// DefaultSegmentSize is the size segments are preallocated to and rotated
// at: large enough that rotation (three fsyncs) is rare, small enough that
// compaction frees space in useful steps.
const DefaultSegmentSize = 64 << 20

// Options configures a WAL. The zero value is usable.
type Options struct {
	// SegmentSize is the size at which the writer starts a new segment
	// (default DefaultSegmentSize). A batch is never split, so a segment
	// may exceed it by up to one batch.
	SegmentSize int64
	// Logger receives recovery reports (a truncated torn tail, removed
	// leftovers) and fatal errors. Default: discard.
	Logger *slog.Logger
	// FS is the file system (default OSFS). Tests inject failures here.
	FS FS
}

// State is what Open recovers: everything the Raft core needs to restart.
type State struct {
	// HardState is the last persisted term, vote and commit index. Commit
	// is at least Snapshot.Index, since a snapshot covers only committed
	// entries.
	HardState raft.HardState
	// Snapshot describes the newest snapshot recorded in the log (zero
	// Index if none); LoadSnapshot returns its data.
	Snapshot raft.SnapshotMeta
	// Entries are the log entries after Snapshot.Index, consecutive.
	Entries []raft.Entry
}

// WAL is one node's durable storage: segmented log files plus snapshot files
// in snap/. It is safe for concurrent use; see Save for the durability
// contract and group commit.
type WAL struct {
	dir     string
	snapDir string
	fs      FS
	log     *slog.Logger
	segSize int64
	lock    io.Closer

	// snapMu serialises SaveSnapshot and the snapshot-file part of Compact.
	snapMu sync.Mutex
	// compactMu serialises Compact.
	compactMu sync.Mutex

	mu sync.Mutex
	// idle is signalled (under mu) when writing becomes false.
	idle *sync.Cond
	// err is the sticky fatal error; once set it never changes.
	err    error
	closed bool
	// accepted is the log including requests queued but not yet written;
	// requests are validated against it in the order they are queued.
	accepted logState
	// durable is the log as of the last synced frame.
	durable summary
	// segments lists live segments by ascending seq; the last is the tail.
	segments []segmentInfo
	// queue holds requests waiting for the next group commit.
	queue []*pending
	// writing is true while some caller is the group-commit leader.
	writing bool

	// Owned by the current group-commit leader (writing == true), or by
	// Open/Close when no leader can exist.
	tail     File
	tailPath string
	tailSeq  uint64
	tailOff  int64
	buf      []byte
}

// pending is one request in the group-commit queue.
type pending struct {
	body  []byte  // records to write; may be empty
	after summary // accepted state right after this request
	done  chan result
}

// result answers a queued request: either its outcome, or "you are the
// leader now, write the queue".
type result struct {
	err  error
	lead bool
}

// Open opens the WAL in dir, creating it if needed, and recovers its state.
// A torn last write is truncated and logged; anything else wrong on disk
// returns a *CorruptionError naming the file and offset, and the node must
// not start. Leftovers of interrupted operations (temporary files, a
// snapshot file whose log record never became durable) are removed.
func Open(dir string, opts Options) (*WAL, *State, error) {
	w := &WAL{
		dir:     dir,
		snapDir: join(dir, snapDir),
		fs:      opts.FS,
		log:     opts.Logger,
		segSize: opts.SegmentSize,
	}
	if w.fs == nil {
		w.fs = OSFS{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.segSize <= 0 {
		w.segSize = DefaultSegmentSize
	}
	w.idle = sync.NewCond(&w.mu)

	if err := w.mkdirDurable(w.snapDir); err != nil {
		return nil, nil, fmt.Errorf("wal: create %s: %w", w.snapDir, err)
	}
	lock, err := w.fs.Lock(join(dir, lockName))
	if err != nil {
		return nil, nil, fmt.Errorf("wal: %w", err)
	}
	w.lock = lock
	st, err := w.recover()
	if err != nil {
		_ = lock.Close()
		return nil, nil, err
	}
	return w, st, nil
}

// mkdirDurable creates dir and any missing parents, then syncs the parent
// of each directory it created: otherwise a crash could forget a new data
// directory together with the acknowledged writes inside it.
func (w *WAL) mkdirDurable(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := w.fs.ReadDir(d)
		if err == nil {
			break
		}
		if !isNotExist(err) {
			return err
		}
		created = append(created, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := w.fs.MkdirAll(dir); err != nil {
		return err
	}
	for _, d := range created {
		if err := w.fs.SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("fsync directory %s: %w", filepath.Dir(d), err)
		}
	}
	return nil
}

func (w *WAL) recover() (*State, error) {
	names, err := w.fs.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", w.dir, err)
	}
	var segs []string
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, segmentExt+tmpExt):
			// A segment that was being created: never renamed, never used.
			if err := w.fs.Remove(join(w.dir, n)); err != nil {
				return nil, fmt.Errorf("wal: remove leftover %s: %w", n, err)
			}
			w.log.Info("wal: removed unfinished segment", "file", join(w.dir, n))
		case strings.HasSuffix(n, segmentExt):
			if _, _, ok := parseSegmentName(n); !ok {
				return nil, fmt.Errorf("wal: %s: unexpected segment file name", join(w.dir, n))
			}
			segs = append(segs, n)
		}
	}
	if len(segs) == 0 {
		return w.create()
	}
	r := &replayer{log: w.log, state: logState{keepEntries: true}}
	var prev uint64
	for i, n := range segs {
		seq, _, _ := parseSegmentName(n)
		if i > 0 && seq != prev+1 {
			return nil, corruptf(join(w.dir, n), 0, "segment sequence jumps from %d to %d: a segment is missing", prev, seq)
		}
		prev = seq
		path := join(w.dir, n)
		data, err := w.fs.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("wal: read %s: %w", path, err)
		}
		if err := r.segment(path, n, data, i == 0, i == len(segs)-1); err != nil {
			return nil, err
		}
	}
	w.accepted = r.state
	w.accepted.ents, w.accepted.keepEntries = nil, false
	st, err := r.finish(join(w.dir, segs[0]))
	if err != nil {
		return nil, err
	}
	w.durable = w.accepted.summary()
	w.segments = r.segs
	if err := w.cleanSnapshots(); err != nil {
		return nil, err
	}
	tail := r.segs[len(r.segs)-1]
	tailPath := join(w.dir, tail.name)
	f, err := w.fs.OpenFile(tailPath)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", tailPath, err)
	}
	if r.truncated {
		err = f.Truncate(r.tailEnd)
	}
	if err == nil {
		err = f.Allocate(max(w.segSize, r.tailEnd))
	}
	if err == nil && r.truncated {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("wal: prepare %s for appending: %w", tailPath, err)
	}
	w.tail, w.tailPath, w.tailSeq, w.tailOff = f, tailPath, tail.seq, r.tailEnd
	return st, nil
}

// create starts a new, empty log.
func (w *WAL) create() (*State, error) {
	snaps, err := w.listSnapshots()
	if err != nil {
		return nil, err
	}
	if len(snaps) > 0 {
		return nil, fmt.Errorf("wal: %s has snapshot files but no log segments; refusing to start from a partial data directory", w.dir)
	}
	w.accepted = logState{known: 1}
	w.durable = w.accepted.summary()
	f, info, off, err := w.newSegment(0, w.durable)
	if err != nil {
		return nil, err
	}
	w.segments = []segmentInfo{info}
	w.tail, w.tailPath, w.tailSeq, w.tailOff = f, join(w.dir, info.name), 0, off
	return &State{}, nil
}

// newSegment creates segment seq describing the durable state s: written
// under a temporary name, preallocated, synced, renamed into place, and the
// directory synced, so a segment name on disk always has a whole header.
func (w *WAL) newSegment(seq uint64, s summary) (File, segmentInfo, int64, error) {
	info := segmentInfo{name: segmentName(seq, s.last+1), seq: seq, lastIndex: s.last}
	path := join(w.dir, info.name)
	tmp := path + tmpExt
	h := segHeader{seq: seq, lastIndex: s.last, lastTerm: s.lastTerm, hs: s.hs, snap: s.snap}
	b, start := beginFrame(nil, frameSegmentHeader)
	b = endFrame(appendSegHeader(b, &h), start, seq, 0)

	f, err := w.fs.Create(tmp)
	if err != nil {
		return nil, info, 0, fmt.Errorf("wal: create %s: %w", tmp, err)
	}
	fail := func(op string, err error) (File, segmentInfo, int64, error) {
		_ = f.Close()
		return nil, info, 0, fmt.Errorf("wal: %s %s: %w", op, tmp, err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fail("write header of", err)
	}
	if err := f.Allocate(w.segSize); err != nil {
		return fail("preallocate", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := w.fs.Rename(tmp, path); err != nil {
		return fail("rename", err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		_ = f.Close()
		return nil, info, 0, fmt.Errorf("wal: fsync directory %s: %w", w.dir, err)
	}
	return f, info, int64(len(b)), nil
}

// Save appends ents and hs to the log and returns once they are durable.
//
// Contract: the caller must not send any message that depends on hs or ents
// (a vote, an append response, an append to followers counted toward
// commit) before Save returns nil. An error wrapping ErrFatal means the
// disk failed and the process must stop; an error wrapping ErrInvalid
// means the request broke a Raft invariant and nothing was written.
//
// Replay semantics: ents[0].Index replaces every logged entry with an index
// >= ents[0].Index (Raft's log truncation on conflict). ents must be
// consecutive, must not start past lastIndex+1 nor at or below the commit
// index or the snapshot index, and hs must not move the term, the vote or
// the commit index backwards (commit may not pass the last index). When a
// Ready carries both a snapshot and entries, call SaveSnapshot first.
//
// Group commit: everything appended while an fsync is running is written as
// one frame and covered by the next single fsync. The node calls Save once
// per Ready with the whole batch, which batches naturally; concurrent
// callers are also safe and share fsyncs. An empty hard state, or one equal
// to the last saved, is not written again; a call with nothing new still
// waits until earlier calls are durable.
func (w *WAL) Save(hs raft.HardState, ents []raft.Entry) error {
	var body []byte
	if len(ents) > 0 {
		body = appendEntriesRecord(make([]byte, 0, entriesSize(ents)+32), ents)
		if len(body) > maxRequestBytes {
			return invalidf("save entries %d..%d: %d bytes encoded, more than the %d a frame holds",
				ents[0].Index, ents[len(ents)-1].Index, len(body), maxRequestBytes)
		}
	}
	return w.submit(func(s *logState) ([]byte, error) {
		if len(ents) > 0 {
			if err := s.checkEntries(ents); err != nil {
				return nil, invalidf("save entries %d..%d: %v", ents[0].Index, ents[len(ents)-1].Index, err)
			}
		}
		writeHS := !hs.IsEmpty() && hs != s.hs
		if writeHS {
			// Check hs against the log as it will be after ents.
			next := *s
			if len(ents) > 0 {
				next.last = ents[len(ents)-1].Index
			}
			if err := next.checkHardState(hs); err != nil {
				return nil, invalidf("save hard state %+v: %v", hs, err)
			}
		}
		if len(ents) > 0 {
			s.applyEntries(ents)
		}
		if writeHS {
			body = appendHardStateRecord(body, hs)
			s.hs = hs
		}
		return body, nil
	})
}

// maxRequestBytes bounds one request's records so that any single request
// fits in a frame with room for a hard state record.
const maxRequestBytes = maxFrameBody - 64

func entriesSize(ents []raft.Entry) int {
	n := 0
	for i := range ents {
		n += len(ents[i].Data) + 48
	}
	return n
}

// usable reports why the WAL cannot take requests. Called with mu held.
func (w *WAL) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// submit validates a request against the accepted log and queues it for
// group commit. build runs under mu: it checks the request, updates the log
// model on success and returns the records to write. The first caller to
// find no leader becomes the leader: it writes and syncs everything queued
// as one frame, answers the others, and hands leadership to the next queued
// request, if any, so no caller writes on behalf of others forever.
func (w *WAL) submit(build func(*logState) ([]byte, error)) error {
	w.mu.Lock()
	if err := w.usable(); err != nil {
		w.mu.Unlock()
		return err
	}
	body, err := build(&w.accepted)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	p := &pending{body: body, after: w.accepted.summary(), done: make(chan result, 1)}
	w.queue = append(w.queue, p)
	if w.writing {
		w.mu.Unlock()
		r := <-p.done
		if !r.lead {
			return r.err
		}
		w.mu.Lock()
	} else {
		w.writing = true
	}
	return w.lead(p)
}

// lead writes the queued group. Called with mu held and writing true;
// returns with mu released.
func (w *WAL) lead(self *pending) error {
	// Take the longest prefix of the queue that fits in one frame (at
	// least one request: each fits on its own); the rest waits for the
	// next leader.
	k, n := 0, 0
	for k < len(w.queue) && (k == 0 || n+len(w.queue[k].body) <= maxFrameBody-1) {
		n += len(w.queue[k].body)
		k++
	}
	group := w.queue[:k:k]
	w.queue = append([]*pending(nil), w.queue[k:]...)
	w.mu.Unlock()
	err := w.writeGroup(group)
	w.mu.Lock()
	if err != nil {
		err = w.fail(err)
	} else {
		w.durable = group[len(group)-1].after
	}
	for _, q := range group {
		if q != self {
			q.done <- result{err: err}
		}
	}
	switch {
	case len(w.queue) > 0 && w.err != nil:
		for _, q := range w.queue {
			q.done <- result{err: w.err}
		}
		w.queue = nil
		w.writing = false
		w.idle.Broadcast()
	case len(w.queue) > 0:
		w.queue[0].done <- result{lead: true} // writing stays true
	default:
		w.writing = false
		w.idle.Broadcast()
	}
	w.mu.Unlock()
	return err
}

// fail makes the WAL permanently failed. Called with mu held.
func (w *WAL) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrFatal, err)
		w.log.Error("wal: fatal I/O error; the process must stop", "dir", w.dir, "err", err)
	}
	return w.err
}

// writeGroup writes one group as a single frame and syncs it. Only the
// leader calls it.
func (w *WAL) writeGroup(group []*pending) error {
	n := 0
	for _, q := range group {
		n += len(q.body)
	}
	if n == 0 {
		return nil // nothing new; earlier groups are already durable
	}
	if w.tailOff >= w.segSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	b, start := beginFrame(w.buf[:0], frameBatch)
	for _, q := range group {
		b = append(b, q.body...)
	}
	b = endFrame(b, start, w.tailSeq, w.tailOff)
	if cap(b) <= 4<<20 {
		w.buf = b // keep a modest buffer for the next group
	}
	if _, err := w.tail.WriteAt(b, w.tailOff); err != nil {
		return fmt.Errorf("write %s at offset %d: %w", w.tailPath, w.tailOff, err)
	}
	if err := w.tail.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", w.tailPath, err)
	}
	w.tailOff += int64(len(b))
	return nil
}

// rotate starts the next segment. The current tail is already synced: every
// group is synced before the next one is written. Only the leader calls it.
func (w *WAL) rotate() error {
	w.mu.Lock()
	d := w.durable
	w.mu.Unlock()
	f, info, off, err := w.newSegment(w.tailSeq+1, d)
	if err != nil {
		return err
	}
	old := w.tail
	w.tail, w.tailPath, w.tailSeq, w.tailOff = f, join(w.dir, info.name), info.seq, off
	w.mu.Lock()
	w.segments = append(w.segments, info)
	w.mu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("close finished segment: %w", err)
	}
	return nil
}

// Close waits for writes in progress, then releases the files and the
// directory lock. Later calls return ErrClosed. If the WAL had failed,
// Close returns that fatal error.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	for w.writing {
		w.idle.Wait()
	}
	fatal := w.err
	w.mu.Unlock()
	err := errors.Join(w.tail.Close(), w.lock.Close())
	if fatal != nil {
		return fatal
	}
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
