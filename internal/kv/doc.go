// Package kv is raftkv's replicated state machine: an ordered key-value map
// with per-key versions, a global revision, compare-and-swap, exactly-once
// client sessions and deterministic snapshots.
//
// # Determinism
//
// Every replica feeds the same committed entries, in log order, to Apply, and
// must end in the same state with the same results. So the package reads no
// clock, starts no goroutine, takes no lock, touches no file or socket, draws
// no random number and lets no map iteration order reach its state or output.
// Its notion of time is the largest Command.Timestamp applied so far, stamped
// by the leader that proposed the command (never decreasing, even if a new
// leader's clock is behind). Its only non-standard import,
// github.com/google/btree, is a pure in-memory data structure; DESIGN.md says
// why it is worth the exception.
//
// # Applying
//
// Apply takes one raft.Entry:
//
//   - raft.EntryNoop entries advance the applied index and nothing else.
//   - raft.EntryNormal entries carry a Command encoded by EncodeCommand in
//     Data. One that fails to decode is answered with an error wrapping
//     ErrInvalidCommand and changes nothing but the applied index: all
//     replicas see the same bytes, so all reject them alike.
//   - Indexes must strictly increase; an index at or below AppliedIndex
//     panics, since applying an entry twice is a bug that diverges replicas.
//
// Outcomes a client must hear about but that are not failures of the state
// machine, a compare-and-swap whose version does not match (StatusConflict,
// with the key's current version) and a delete of a missing key
// (StatusNotFound), are Result statuses, not errors.
//
// # Data model
//
// Keys are non-empty byte strings of at most MaxKeySize bytes, kept in byte
// order; values are at most MaxValueSize bytes. Both are Go strings, so that
// they are immutable and can be shared by clones and handed to readers without
// copies. Like etcd, the store keeps a global Revision that each successful
// mutation increments by one, and per key a Version (number of Puts since the
// key was created, 1 on creation), a CreateRevision and a ModRevision. A
// Delete ends the key's life: a later Put creates it afresh at Version 1.
//
// # Exactly-once sessions
//
// Following Ongaro's thesis §6.3, entry.ClientID names a client session and
// entry.RequestID numbers the client's requests, starting at 1. The protocol
// a client follows:
//
//   - Pick a fresh, random, nonzero client id; send request 1 and wait for its
//     answer before sending others. Request 1 opens the session.
//   - Number later requests 2, 3, ... Up to Config.ResultsPerSession may be
//     in flight at once; retry any of them with the same id as often as
//     needed, and the state machine applies each at most once, answering
//     retries with the original Result (Duplicate set).
//   - ErrSessionEvicted (the request is older than the results the session
//     still caches) and ErrSessionExpired (the session was dropped after
//     Config.SessionTTL of silence or to respect Config.MaxSessions) are
//     indefinite: the request may have applied, and will not apply under
//     this id again. After ErrSessionExpired, start over with a new client
//     id.
//
// ClientID 0 opts out: the command applies every time it is committed.
// Session expiry is driven by command timestamps only, so every replica drops
// the same sessions at the same log index.
//
// # Reads
//
// Get and Range read the local state. They are linearizable only if the
// caller first confirms leadership (ReadIndex, thesis §6.4) and waits until
// AppliedIndex reaches the read index; the package does not do that itself.
//
// # Snapshots
//
// WriteSnapshot writes a deterministic, checksummed image (keys in order,
// sessions by client id) and Restore replaces the whole state with one,
// leaving the store untouched if the image is bad. Clone is O(1) and yields
// an independent point-in-time copy, so the apply loop can hand a clone to
// another goroutine to serialize while it keeps applying.
//
// A Store is owned by one goroutine; it is not safe for concurrent use.
package kv
