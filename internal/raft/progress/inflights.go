package progress

// Inflights bounds how many MsgApp a leader has outstanding to one follower,
// so optimistic pipelining (thesis §10.2.2) cannot flood a slow peer. Each
// slot remembers the last index an in-flight message carried.
type Inflights struct {
	start  int
	count  int
	buffer []uint64 // ring; len is the capacity
}

// NewInflights returns an empty window of the given capacity (at least 1).
func NewInflights(size int) *Inflights {
	if size < 1 {
		size = 1
	}
	return &Inflights{buffer: make([]uint64, size)}
}

// Add records a message whose last entry is index. Indexes must be added in
// increasing order; Add panics when the window is full (callers check Full).
func (in *Inflights) Add(index uint64) {
	if in.Full() {
		panic("progress: Add on a full inflight window")
	}
	in.buffer[(in.start+in.count)%len(in.buffer)] = index
	in.count++
}

// FreeLE frees every slot whose index is <= to: those messages are acknowledged.
func (in *Inflights) FreeLE(to uint64) {
	for in.count > 0 && in.buffer[in.start] <= to {
		in.start = (in.start + 1) % len(in.buffer)
		in.count--
	}
	if in.count == 0 {
		in.start = 0
	}
}

// FreeFirst frees the oldest slot, letting one more message out when the
// window is full but the follower is evidently alive.
func (in *Inflights) FreeFirst() {
	if in.count > 0 {
		in.FreeLE(in.buffer[in.start])
	}
}

// Full reports whether no more messages may be sent.
func (in *Inflights) Full() bool { return in.count == len(in.buffer) }

// Count returns the number of messages in flight.
func (in *Inflights) Count() int { return in.count }

// Reset forgets every in-flight message.
func (in *Inflights) Reset() { in.start, in.count = 0, 0 }
