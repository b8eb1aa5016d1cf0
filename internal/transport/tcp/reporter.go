package tcp

import (
	"context"
	"sync"
	"sync/atomic"
)

// maxPendingReports bounds the reports waiting for the callbacks; beyond it
// they are dropped (and counted): the callbacks are advice to the Raft core,
// which also finds out through its own timeouts.
const maxPendingReports = 4096

// report is one pending callback.
type report struct {
	id          uint64
	unreachable bool // else a snapshot status
	ok          bool
}

// reporter calls OnUnreachable and OnSnapshotStatus from one goroutine of
// its own, so that neither Send (the Raft loop) nor a writer ever calls back
// into the Raft core: a callback that took the core's lock or wrote to its
// channel could otherwise deadlock with the Send that triggered it.
// Unreachable reports for one peer are coalesced while pending.
type reporter struct {
	onUnreachable func(id uint64)
	onSnapshot    func(id uint64, ok bool)
	wake          chan struct{}
	dropped       atomic.Uint64

	mu      sync.Mutex
	closed  bool
	events  []report
	pending map[uint64]bool // ids with an unreachable report in events
}

func newReporter(onUnreachable func(uint64), onSnapshot func(uint64, bool)) *reporter {
	return &reporter{
		onUnreachable: onUnreachable,
		onSnapshot:    onSnapshot,
		wake:          make(chan struct{}, 1),
		pending:       make(map[uint64]bool),
	}
}

// unreachable queues an OnUnreachable(id) call.
func (r *reporter) unreachable(id uint64) {
	if r.onUnreachable != nil {
		r.push(report{id: id, unreachable: true})
	}
}

// snapshot queues an OnSnapshotStatus(id, ok) call.
func (r *reporter) snapshot(id uint64, ok bool) {
	if r.onSnapshot != nil {
		r.push(report{id: id, ok: ok})
	}
}

func (r *reporter) push(e report) {
	r.mu.Lock()
	switch {
	case r.closed, e.unreachable && r.pending[e.id]:
		r.mu.Unlock()
		return
	case len(r.events) >= maxPendingReports:
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	if e.unreachable {
		r.pending[e.id] = true
	}
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers reports until ctx is done; reports pending then are dropped.
func (r *reporter) run(ctx context.Context, done func()) {
	defer done()
	var batch []report
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.closed, r.events = true, nil
			r.mu.Unlock()
			return
		case <-r.wake:
		}
		r.mu.Lock()
		batch, r.events = r.events, batch[:0]
		clear(r.pending)
		r.mu.Unlock()
		for _, e := range batch {
			if ctx.Err() != nil {
				break
			}
			if e.unreachable {
				r.onUnreachable(e.id)
			} else {
				r.onSnapshot(e.id, e.ok)
			}
		}
		clear(batch)
	}
}
