package sim

import (
	"container/heap"
	"fmt"
	"time"
)

// Time is virtual time in nanoseconds since the start of a run.
type Time int64

func (t Time) String() string { return fmt.Sprintf("%.6fs", time.Duration(t).Seconds()) }

// event is something scheduled to happen at a virtual time. Events at the
// same time run in the order they were scheduled (seq), so a run is a pure
// function of its seed.
type event struct {
	at  Time
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// scheduler is the virtual clock and its queue of events.
type scheduler struct {
	now  Time
	seq  uint64
	q    eventQueue
	runs uint64 // events executed, for reports
}

func (s *scheduler) at(t Time, fn func()) {
	if t < s.now {
		t = s.now
	}
	s.seq++
	heap.Push(&s.q, &event{at: t, seq: s.seq, fn: fn})
}

func (s *scheduler) after(d Time, fn func()) { s.at(s.now+d, fn) }

// step runs the next event; it reports false when none is left or the next
// one lies beyond limit.
func (s *scheduler) step(limit Time) bool {
	if len(s.q) == 0 || s.q[0].at > limit {
		return false
	}
	e := heap.Pop(&s.q).(*event)
	s.now = e.at
	s.runs++
	e.fn()
	return true
}
