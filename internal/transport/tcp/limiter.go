package tcp

import (
	"sync/atomic"
	"time"
)

// limiter lets one log line through per interval and counts the others, so
// a peer that is down or a queue that stays full costs one line per
// interval rather than one per message, and that line says how many it
// stands for. Safe for concurrent use; the zero value lets the first through.
type limiter struct {
	next       atomic.Int64 // unix nanoseconds before which lines are suppressed
	suppressed atomic.Uint64
}

// allow reports whether a line may be logged now and, if so, how many were
// suppressed since the last one.
func (l *limiter) allow(every time.Duration) (ok bool, suppressed uint64) {
	now := time.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(every)) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
