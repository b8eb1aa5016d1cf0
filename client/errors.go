package client

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, for errors.Is. Every error a Client method returns is an
// *Error wrapping one of these (or the underlying transport or context
// error), so callers branch on what happened, not on message text.
var (
	// ErrNotFound: the key does not exist (Get, Delete, CompareAndDelete).
	// Definite.
	ErrNotFound = errors.New("key not found")
	// ErrConflict: a compare-and-swap's expected version did not match;
	// Error.CurrentVersion holds the key's version (0: absent). Definite:
	// nothing changed.
	ErrConflict = errors.New("version conflict")
	// ErrUnavailable: no endpoint could serve the request within the
	// retries and deadline (no leader, nodes down or unreachable). For a
	// write, check IsIndefinite: an earlier attempt may have applied.
	ErrUnavailable = errors.New("cluster unavailable")
	// ErrRejected: the server refused the request as malformed or too
	// large (HTTP 400, 405, 413). Definite; retrying will not help.
	ErrRejected = errors.New("request rejected")
	// ErrSessionLost: the server no longer remembers this client's
	// requests (its session expired or the request fell out of the
	// session's result cache), so whether the write applied is unknown.
	// Always indefinite. The client starts a new session by itself.
	ErrSessionLost = errors.New("client session lost")
)

// Error describes a failed request. Indefinite is the field to read before
// retrying a write by other means: false means the write did not and will
// never apply; true means it may have applied, or may still.
type Error struct {
	// Op is the operation that failed: "put", "get", "delete",
	// "compare-and-swap", "compare-and-delete", "range" or "status".
	Op string
	// Key is the key the request was about, if any.
	Key string
	// Endpoint is the last endpoint tried.
	Endpoint string
	// Attempts counts the HTTP attempts made (retries reuse the request id).
	Attempts int
	// StatusCode is the last HTTP status received, 0 if none was.
	StatusCode int
	// Code is the server's error code ("not_leader", "conflict", ...; see
	// docs/api.md), empty if the server gave none.
	Code string
	// Message is the server's message or the transport error's text.
	Message string
	// Indefinite reports that the request was a write that may have been
	// applied. Reads are never indefinite.
	Indefinite bool
	// CurrentVersion is the key's version when Err is ErrConflict.
	CurrentVersion uint64
	// Err is the sentinel that classifies the failure (ErrNotFound, ...),
	// nil when Cause alone says it (a context error).
	Err error
	// Cause is the last underlying error (transport, context), if any.
	Cause error
}

// Error reads as `raftkv compare-and-swap "k": version conflict: key "k" is
// at version 3, not 1 (http://127.0.0.1:2379, 1 attempt)`, ending with
// "(the write may have applied)" when indefinite.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("raftkv " + e.Op)
	if e.Key != "" {
		fmt.Fprintf(&b, " %q", e.Key)
	}
	b.WriteString(": ")
	switch {
	case e.Err != nil:
		b.WriteString(e.Err.Error())
		if e.Message != "" && e.Err != ErrNotFound { // "not found" says it all
			b.WriteString(": " + e.Message)
		}
	case e.Cause != nil:
		b.WriteString(e.Cause.Error())
		if e.Message != "" {
			b.WriteString("; last failure: " + e.Message)
		}
	default:
		b.WriteString(e.Message)
	}
	if e.Endpoint != "" {
		fmt.Fprintf(&b, " (%s, %d attempt%s)", e.Endpoint, e.Attempts, plural(e.Attempts))
	}
	if e.Indefinite {
		b.WriteString(" (the write may have applied)")
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the cause to errors.Is and
// errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// IsIndefinite reports whether err says a write may have applied: the
// caller must not assume it failed (read the key back, or retry the same
// operation idempotently, e.g. a compare-and-swap).
func IsIndefinite(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Indefinite
}

// ConflictVersion returns the key's current version from a compare-and-
// swap conflict, and whether err is one.
func ConflictVersion(err error) (uint64, bool) {
	var e *Error
	if errors.As(err, &e) && errors.Is(e.Err, ErrConflict) {
		return e.CurrentVersion, true
	}
	return 0, false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
