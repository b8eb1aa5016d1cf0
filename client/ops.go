package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// KeyValue is one key as reads return it.
type KeyValue struct {
	Key   string
	Value string
	// Version counts the writes since the key was created (1 on create);
	// compare-and-swap conditions on it.
	Version uint64
	// CreateRevision is the store revision of the write that created the
	// key; ModRevision that of its latest write.
	CreateRevision uint64
	ModRevision    uint64
}

// GetResult is the answer to Get.
type GetResult struct {
	KeyValue
	// Revision is the store revision the read observed.
	Revision uint64
}

// WriteResult is the answer to a successful write.
type WriteResult struct {
	Key string
	// Version, CreateRevision and ModRevision describe the key after the
	// write (all zero after a delete).
	Version        uint64
	CreateRevision uint64
	ModRevision    uint64
	// Revision is the store revision after the write.
	Revision uint64
	// Index is the Raft log index of the entry that applied the write.
	Index uint64
	// Duplicate reports that an earlier attempt of this call had already
	// applied the write; this is that attempt's answer.
	Duplicate bool
}

// RangeRequest selects keys in byte order: those starting with Prefix, or
// those in [Start, End) ("" meaning unbounded). Give Prefix or Start/End,
// not both; neither selects every key.
type RangeRequest struct {
	Prefix     string
	Start, End string
	// Limit caps the keys returned; 0 means the server's maximum (10,000 by
	// default). RangeResult.More reports keys beyond it.
	Limit int
}

// RangeResult is the answer to Range.
type RangeResult struct {
	KVs []KeyValue
	// More reports that the range holds more keys; continue with Start set
	// to NextStart().
	More     bool
	Revision uint64
}

// NextStart is the Start of the request that continues a range after r's
// last key (its End stays the same; for a prefix, PrefixEnd(prefix)).
func (r RangeResult) NextStart() string {
	if len(r.KVs) == 0 {
		return ""
	}
	return r.KVs[len(r.KVs)-1].Key + "\x00"
}

// PrefixEnd returns the End that, with Start, selects the keys that begin
// with prefix: the smallest string greater than all of them, or "" (no
// bound) if prefix is empty or all 0xff bytes. Use it to page through a
// prefix: RangeRequest{Start: res.NextStart(), End: PrefixEnd(prefix)}.
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

// Status is a node's view of the cluster, from GET /v1/status; the fields
// are those of the JSON answer, documented in docs/api.md. Leader is 0 and
// LeaderURL empty when the node knows no leader; Peers is empty except on
// the leader.
type Status struct {
	ID            uint64       `json:"id"`
	Role          string       `json:"role"`
	Term          uint64       `json:"term"`
	Leader        uint64       `json:"leader"`
	LeaderURL     string       `json:"leader_url"`
	CommitIndex   uint64       `json:"commit_index"`
	AppliedIndex  uint64       `json:"applied_index"`
	LastIndex     uint64       `json:"last_index"`
	SnapshotIndex uint64       `json:"snapshot_index"`
	Peers         []PeerStatus `json:"peers"`
}

// PeerStatus is the leader's view of one follower's replication: Match is
// the highest index known replicated there, Next the next index to send,
// State "probe", "replicate" or "snapshot".
type PeerStatus struct {
	ID           uint64 `json:"id"`
	Match        uint64 `json:"match"`
	Next         uint64 `json:"next"`
	State        string `json:"state"`
	RecentActive bool   `json:"recent_active"`
	Inflight     int    `json:"inflight"`
}

// ReadOption modifies a read.
type ReadOption func(*readOptions)

type readOptions struct{ stale bool }

// Stale makes a read serve the local state of whichever node answers,
// without confirming leadership: faster, available without a leader, but
// possibly behind the latest writes. Reads are linearizable without it.
func Stale() ReadOption { return func(o *readOptions) { o.stale = true } }

// Wire forms of the answers; keys and values travel in base64 so that any
// bytes round-trip.
type kvWire struct {
	Key            string `json:"key"`
	Value          string `json:"value"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
}

type getWire struct {
	kvWire
	Revision uint64 `json:"revision"`
}

type writeWire struct {
	Key            string `json:"key"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
	Revision       uint64 `json:"revision"`
	Index          uint64 `json:"index"`
	Duplicate      bool   `json:"duplicate"`
}

type rangeWire struct {
	KVs      []kvWire `json:"kvs"`
	More     bool     `json:"more"`
	Revision uint64   `json:"revision"`
}

func (w kvWire) decode() (KeyValue, error) {
	k, err := base64.StdEncoding.DecodeString(w.Key)
	if err != nil {
		return KeyValue{}, fmt.Errorf("malformed key in answer: %w", err)
	}
	v, err := base64.StdEncoding.DecodeString(w.Value)
	if err != nil {
		return KeyValue{}, fmt.Errorf("malformed value in answer: %w", err)
	}
	return KeyValue{Key: string(k), Value: string(v), Version: w.Version, CreateRevision: w.CreateRevision, ModRevision: w.ModRevision}, nil
}

// base64Query asks the server for base64 keys and values.
func base64Query() url.Values { return url.Values{"encoding": {"base64"}} }

func keyPath(key string) string { return "/v1/kv/" + url.PathEscape(key) }

// checkKey rejects the empty key locally: it is never valid.
func checkKey(op, key string) error {
	if key == "" {
		return &Error{Op: op, Code: "empty_key", Message: "keys are 1 or more bytes", Err: ErrRejected}
	}
	return nil
}

// Put sets key to value, creating the key if needed.
func (c *Client) Put(ctx context.Context, key, value string) (WriteResult, error) {
	return c.write(ctx, "put", http.MethodPut, key, value, nil)
}

// CompareAndSwap sets key to value only if the key's current version is
// version; version 0 means "only if the key does not exist" (create). On a
// mismatch it returns an error matching ErrConflict, whose CurrentVersion
// (see ConflictVersion) is the key's version.
func (c *Client) CompareAndSwap(ctx context.Context, key, value string, version uint64) (WriteResult, error) {
	return c.write(ctx, "compare-and-swap", http.MethodPut, key, value, &version)
}

// Delete removes key. Deleting a missing key fails with ErrNotFound.
func (c *Client) Delete(ctx context.Context, key string) (WriteResult, error) {
	return c.write(ctx, "delete", http.MethodDelete, key, "", nil)
}

// CompareAndDelete removes key only if its current version is version,
// failing with ErrConflict otherwise.
func (c *Client) CompareAndDelete(ctx context.Context, key string, version uint64) (WriteResult, error) {
	return c.write(ctx, "compare-and-delete", http.MethodDelete, key, "", &version)
}

func (c *Client) write(ctx context.Context, op, method, key, value string, ifVersion *uint64) (WriteResult, error) {
	if err := checkKey(op, key); err != nil {
		return WriteResult{}, err
	}
	req := &request{op: op, key: key, method: method, path: keyPath(key), query: base64Query(), ifVersion: ifVersion, write: true}
	if method == http.MethodPut {
		req.body = []byte(value)
	}
	var w writeWire
	if err := c.call(ctx, req, &w); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{Key: key, Version: w.Version, CreateRevision: w.CreateRevision, ModRevision: w.ModRevision,
		Revision: w.Revision, Index: w.Index, Duplicate: w.Duplicate}, nil
}

// Get reads key; a missing key fails with ErrNotFound. Linearizable
// unless Stale is given.
func (c *Client) Get(ctx context.Context, key string, opts ...ReadOption) (GetResult, error) {
	if err := checkKey("get", key); err != nil {
		return GetResult{}, err
	}
	q := readQuery(opts)
	var g getWire
	if err := c.call(ctx, &request{op: "get", key: key, method: http.MethodGet, path: keyPath(key), query: q}, &g); err != nil {
		return GetResult{}, err
	}
	kv, err := g.decode()
	if err != nil {
		return GetResult{}, &Error{Op: "get", Key: key, Message: err.Error(), Cause: err}
	}
	return GetResult{KeyValue: kv, Revision: g.Revision}, nil
}

// Range reads the keys r selects, in byte order. Linearizable unless Stale
// is given.
func (c *Client) Range(ctx context.Context, r RangeRequest, opts ...ReadOption) (RangeResult, error) {
	q := readQuery(opts)
	switch {
	case r.Prefix != "" && (r.Start != "" || r.End != ""):
		return RangeResult{}, &Error{Op: "range", Message: "give Prefix or Start/End, not both", Err: ErrRejected}
	case r.Limit < 0:
		return RangeResult{}, &Error{Op: "range", Message: "negative Limit", Err: ErrRejected}
	case r.Prefix != "":
		q.Set("prefix", r.Prefix)
	default:
		if r.Start != "" {
			q.Set("start", r.Start)
		}
		if r.End != "" {
			q.Set("end", r.End)
		}
	}
	if r.Limit > 0 {
		q.Set("limit", strconv.Itoa(r.Limit))
	}
	var w rangeWire
	if err := c.call(ctx, &request{op: "range", method: http.MethodGet, path: "/v1/kv", query: q}, &w); err != nil {
		return RangeResult{}, err
	}
	res := RangeResult{KVs: make([]KeyValue, 0, len(w.KVs)), More: w.More, Revision: w.Revision}
	for _, kw := range w.KVs {
		kv, err := kw.decode()
		if err != nil {
			return RangeResult{}, &Error{Op: "range", Message: err.Error(), Cause: err}
		}
		res.KVs = append(res.KVs, kv)
	}
	return res, nil
}

func readQuery(opts []ReadOption) url.Values {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	q := base64Query()
	if o.stale {
		q.Set("stale", "true")
	}
	return q
}

// Status asks one node for its status. endpoint is a URL or host:port; ""
// asks the configured endpoints in turn, the preferred first, and returns
// the first answer. A status that names the leader teaches the client
// where to send requests.
func (c *Client) Status(ctx context.Context, endpoint string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	targets := c.Endpoints()
	if endpoint != "" {
		u, err := normalize(endpoint)
		if err != nil {
			return Status{}, &Error{Op: "status", Message: err.Error(), Err: ErrRejected}
		}
		targets = []string{u}
	}
	req := &request{op: "status", method: http.MethodGet, path: "/v1/status"}
	var last *Error
	for i, ep := range targets {
		res := c.attempt(ctx, ep, req, nil, 0)
		if res.ok {
			var st Status
			if err := json.Unmarshal(res.body, &st); err != nil {
				return Status{}, &Error{Op: "status", Endpoint: ep, Attempts: i + 1, StatusCode: res.status,
					Message: fmt.Sprintf("malformed status: %v", err), Cause: err}
			}
			c.prefer(st.LeaderURL)
			return st, nil
		}
		last = res.final
		if last == nil {
			last = &Error{StatusCode: res.status, Code: res.code, Message: res.message, Cause: res.cause, Err: ErrUnavailable}
		}
		last.Op, last.Endpoint, last.Attempts = "status", ep, i+1
		if ctx.Err() != nil {
			last.Err, last.Cause = nil, ctx.Err()
			break
		}
	}
	if last == nil {
		return Status{}, &Error{Op: "status", Err: ErrUnavailable, Message: "no endpoints"}
	}
	return Status{}, last
}
