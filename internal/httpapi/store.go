package httpapi

import (
	"context"
	"errors"

	"github.com/raftkv/raftkv/internal/kv"
)

// Store is everything the HTTP API needs from a raftkv node. The package
// declares it, rather than importing the node, so that the API can be tested
// against a fake and the node never learns about HTTP. The wiring in cmd/
// implements it on top of internal/node.
//
// Every method must be safe for concurrent use: the HTTP server calls them
// from one goroutine per request.
type Store interface {
	// Propose replicates cmd and waits until it is applied on this node,
	// then returns the state machine's kv.Result (whose Status may be
	// StatusConflict or StatusNotFound, and whose Err may be set: those are
	// answers, not failures of Propose). cmd has been validated and carries
	// no Timestamp: the Store stamps the leader's clock before proposing.
	//
	// clientID and requestID identify the request for exactly-once
	// application (see internal/kv's package doc); both are zero when the
	// client asked for no deduplication.
	//
	// Errors must wrap one of this package's sentinels so the handler can
	// tell the client what happened:
	//   - ErrNotLeader: this node is not the leader and did not propose the
	//     command (definite). The handler forwards the request.
	//   - ErrUnavailable: no leader is known, or the node cannot accept
	//     proposals now (definite).
	//   - ErrStopped: the node is shutting down and the command was not
	//     proposed (definite).
	//   - ErrIndeterminate: the command was proposed but its outcome is
	//     unknown, e.g. leadership was lost or the node stopped while it
	//     waited (indefinite: it may still apply).
	//   - ErrTimeout, or ctx's own error: ctx ended while waiting
	//     (indefinite).
	// A definite error must be returned only when the command did not and
	// never will apply; when in doubt, wrap ErrIndeterminate.
	Propose(ctx context.Context, cmd kv.Command, clientID, requestID uint64) (kv.Result, error)

	// Read calls fn with the local state machine once reading it is
	// linearizable (after a ReadIndex round, thesis §6.4, and once the
	// applied index has reached the read index), or at once if stale is
	// true. fn runs while the Store holds the state machine, so it must be
	// quick, must not block and must not retain s or call back into the
	// Store. Read returns fn's effect only through variables fn captured.
	//
	// Errors wrap ErrNotLeader (this node cannot serve linearizable reads;
	// never returned when stale is true), ErrUnavailable, ErrStopped or
	// ErrTimeout. A read changes nothing, so every read error is definite.
	Read(ctx context.Context, stale bool, fn func(s *kv.Store)) error

	// Status reports the node's Raft state for GET /v1/status and metrics.
	Status() Status

	// Leader returns the current leader's ID and the base URL of its client
	// API (such as "http://127.0.0.1:2379"), or ok false if no leader is
	// known. It is called on every request a follower forwards, so it must
	// be cheap (no round trip through the Raft loop).
	Leader() (id uint64, clientURL string, ok bool)
}

// Status is a node's state as GET /v1/status reports it. The wiring fills
// it from raft.Status; the JSON field names are part of the public API.
type Status struct {
	// ID is this node's ID.
	ID uint64 `json:"id"`
	// Role is "follower", "candidate", "pre-candidate" or "leader".
	Role string `json:"role"`
	// Term is the node's current term.
	Term uint64 `json:"term"`
	// Leader is the leader's ID as this node knows it, 0 if unknown.
	Leader uint64 `json:"leader"`
	// CommitIndex is the highest log index known to be committed.
	CommitIndex uint64 `json:"commit_index"`
	// AppliedIndex is the highest log index applied to the state machine.
	AppliedIndex uint64 `json:"applied_index"`
	// LastIndex is the index of the last entry in this node's log.
	LastIndex uint64 `json:"last_index"`
	// SnapshotIndex is the index covered by the latest snapshot.
	SnapshotIndex uint64 `json:"snapshot_index"`
	// Peers is the leader's view of each follower's replication progress,
	// sorted by ID; empty unless this node is the leader.
	Peers []PeerStatus `json:"peers"`
}

// PeerStatus is the leader's view of one follower, for operators watching
// replication catch up.
type PeerStatus struct {
	// ID is the follower's node ID.
	ID uint64 `json:"id"`
	// Match is the highest index known to be replicated on the follower.
	Match uint64 `json:"match"`
	// Next is the index of the next entry the leader will send it.
	Next uint64 `json:"next"`
	// State is the replication state: "probe", "replicate" or "snapshot".
	State string `json:"state"`
	// RecentActive reports whether the follower was heard from within the
	// last election timeout.
	RecentActive bool `json:"recent_active"`
	// Inflight counts append messages sent but not yet acknowledged.
	Inflight int `json:"inflight"`
}

// Errors a Store returns (wrapped with context) so the handler can map them
// to HTTP answers. Definite errors mean the request did not and will never
// take effect; indefinite ones mean it may have, or may still. The mapping
// to status codes is in errorFor and docs/api.md.
var (
	// ErrNotLeader (definite): this node is not the leader. The handler
	// forwards the request to the leader, or answers 503 "not_leader" if
	// the request was already forwarded once or no leader URL is known.
	ErrNotLeader = errors.New("httpapi: not the leader")
	// ErrUnavailable (definite): no leader is known or the cluster cannot
	// serve the request now; answered 503 "unavailable" with Retry-After.
	ErrUnavailable = errors.New("httpapi: no leader available")
	// ErrStopped (definite): the node is shutting down and did not take the
	// request; answered 503 "stopped".
	ErrStopped = errors.New("httpapi: node stopped")
	// ErrIndeterminate (indefinite): the write was proposed but its fate is
	// unknown (leadership lost, node stopped while waiting); answered 503
	// "indeterminate" with "indefinite": true. A retry with the same request
	// id is safe.
	ErrIndeterminate = errors.New("httpapi: outcome unknown (the write may have applied)")
	// ErrTimeout (indefinite for writes): the request's deadline passed
	// while the Store waited; answered 504 "timeout".
	ErrTimeout = errors.New("httpapi: timed out")
)
