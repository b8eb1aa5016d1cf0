package kv

import (
	"errors"
	"fmt"
)

// Status is the outcome of a command that the state machine applied. It is
// not an error: a failed compare-and-swap or a delete of a missing key is an
// ordinary answer that the client must hear about, identical on every
// replica, and cached for retries like any other answer.
type Status uint8

const (
	// StatusNone is the status of a result that carries no command outcome:
	// a no-op entry, or a result whose Err is set.
	StatusNone Status = iota
	// StatusOK: the command took effect and the revision advanced.
	StatusOK
	// StatusNotFound: a Delete found no key; nothing changed.
	StatusNotFound
	// StatusConflict: a compare-and-swap's IfVersion did not match the
	// key's current version; nothing changed. The result carries the key's
	// current Version (0 if absent) so the client can re-read or retry (the
	// HTTP layer answers 409 Conflict).
	StatusConflict
	statusEnd // sentinel for validation; keep last
)

// String names the status for traces and error messages.
func (s Status) String() string {
	switch s {
	case StatusNone:
		return "None"
	case StatusOK:
		return "OK"
	case StatusNotFound:
		return "NotFound"
	case StatusConflict:
		return "Conflict"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Result is what applying one log entry produced. Every replica computes the
// same Result for the same entry, so whichever replica answers the client
// gives the same answer.
type Result struct {
	// Index is the log index of the entry that produced this result. For a
	// Duplicate it is the index of the original, not of the retry.
	Index uint64
	// Status is the command's outcome; StatusNone when Err is set or the
	// entry carried no command.
	Status Status
	// Revision is the store revision after the command: the new revision if
	// the command changed the store, the unchanged one otherwise.
	Revision uint64
	// Version, CreateRevision and ModRevision describe the key as the
	// command left it: after a Put the new metadata, after a Delete or
	// NotFound zeros, after a Conflict the key's current (unchanged) state.
	Version        uint64
	CreateRevision uint64
	ModRevision    uint64
	// Duplicate reports that the request had already been applied: this is
	// the cached result of the original, and the retry changed nothing.
	Duplicate bool
	// Err is set when the entry's command was not applied. See the Err*
	// variables for which errors are definite and which indefinite.
	Err error
}

// Session errors. Both are indefinite from the client's point of view: the
// state machine no longer remembers whether the request was applied, so the
// client must treat the request's effect as unknown (it may have applied, and
// it will never apply again under this request id).
var (
	// ErrSessionEvicted: the request id is at or below the oldest result the
	// session has already dropped from its bounded cache
	// (Config.ResultsPerSession). It was either applied long ago or belongs
	// to a client that ran far ahead of its oldest outstanding request.
	ErrSessionEvicted = errors.New("kv: request older than the session's result cache (may have applied)")
	// ErrSessionExpired: the client's session is not known. Sessions start
	// with request id 1; a higher request id from an unknown client means
	// its session expired (Config.SessionTTL) or was evicted to respect
	// Config.MaxSessions, and with it the memory of which requests applied.
	// The client must start a new session under a new client id.
	ErrSessionExpired = errors.New("kv: client session expired or unknown (may have applied); start a new session")
	// ErrBadRequestID: a client id came with request id 0. Request ids
	// start at 1 so that 0 can never collide with a real request. Definite.
	ErrBadRequestID = errors.New("kv: request id 0 with a nonzero client id")
)
