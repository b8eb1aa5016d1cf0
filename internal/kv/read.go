package kv

// KeyValue is one key's record as reads return it.
type KeyValue struct {
	Key   string
	Value string
	// CreateRevision is the store revision of the Put that created the key;
	// it resets when the key is deleted and created again.
	CreateRevision uint64
	// ModRevision is the store revision of the key's latest Put.
	ModRevision uint64
	// Version counts the Puts since the key was created: 1 on creation.
	// Compare-and-swap commands condition on it.
	Version uint64
}

func (it *item) keyValue() KeyValue {
	return KeyValue{Key: it.key, Value: it.value, CreateRevision: it.create, ModRevision: it.mod, Version: it.version}
}

// Get returns key's record from the local state. It is a local read: the
// caller makes it linearizable by waiting, after a ReadIndex round, until
// AppliedIndex reaches the read index.
func (s *Store) Get(key string) (KeyValue, bool) {
	it, ok := s.data.Get(item{key: key})
	if !ok {
		return KeyValue{}, false
	}
	return it.keyValue(), true
}

// RangeRequest selects the keys k with Start <= k < End, in byte order.
//
// The empty string is never a key (NewPut rejects it), which frees it to
// mean "unbounded": Start "" begins at the first key, End "" runs to the
// last. Use PrefixRange to select the keys that share a prefix.
type RangeRequest struct {
	Start string
	End   string
	// Limit caps how many keys are returned; 0 or less means no cap.
	Limit int
}

// PrefixRange returns the request for every key that begins with prefix
// (every key if prefix is empty).
func PrefixRange(prefix string, limit int) RangeRequest {
	return RangeRequest{Start: prefix, End: PrefixEnd(prefix), Limit: limit}
}

// PrefixEnd returns the smallest string greater than every string that
// begins with prefix, or "" (unbounded) if there is none: trailing 0xff
// bytes cannot be incremented, so they are dropped and the byte before them
// is incremented; a prefix of only 0xff bytes has no upper bound.
func PrefixEnd(prefix string) string {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := []byte(prefix[:i+1])
			end[i]++
			return string(end)
		}
	}
	return ""
}

// RangeResult is the answer to a RangeRequest.
type RangeResult struct {
	// KVs are the selected keys in ascending byte order.
	KVs []KeyValue
	// More reports that the range holds keys beyond the Limit; continue
	// with Start set to the last returned key plus "\x00".
	More bool
	// Revision is the store revision the result reflects.
	Revision uint64
}

// Range returns the keys that req selects, in order, as a local read (see
// Get for linearizability).
func (s *Store) Range(req RangeRequest) RangeResult {
	res := RangeResult{Revision: s.revision}
	if req.End != "" && req.End <= req.Start {
		return res
	}
	if req.Limit > 0 {
		res.KVs = make([]KeyValue, 0, min(req.Limit, 128))
	}
	visit := func(it item) bool {
		if req.Limit > 0 && len(res.KVs) == req.Limit {
			res.More = true
			return false
		}
		res.KVs = append(res.KVs, it.keyValue())
		return true
	}
	if req.End == "" {
		s.data.AscendGreaterOrEqual(item{key: req.Start}, visit)
	} else {
		s.data.AscendRange(item{key: req.Start}, item{key: req.End}, visit)
	}
	return res
}
