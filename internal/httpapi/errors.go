package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/raftkv/raftkv/internal/kv"
)

// Error codes: the "code" field of every error body. They are part of the
// public API (clients branch on them, not on the message), so they never
// change meaning; docs/api.md lists them with their status codes.
const (
	CodeEmptyKey         = "empty_key"          // 400: the key is empty
	CodeInvalidJSON      = "invalid_json"       // 400: a JSON body does not parse
	CodeInvalidHeader    = "invalid_header"     // 400: a header is malformed
	CodeInvalidQuery     = "invalid_query"      // 400: a query parameter is malformed
	CodeInvalidCommand   = "invalid_command"    // 400: the state machine rejected the command
	CodeKeyTooLarge      = "key_too_large"      // 413: the key exceeds the limit
	CodeValueTooLarge    = "value_too_large"    // 413: the body or value exceeds the limit
	CodeNotFound         = "not_found"          // 404: the key does not exist
	CodeNoSuchEndpoint   = "no_such_endpoint"   // 404: no API at this path
	CodeMethodNotAllowed = "method_not_allowed" // 405: wrong method for the path
	CodeConflict         = "conflict"           // 409: compare-and-swap version mismatch
	CodeSessionExpired   = "session_expired"    // 410: client session unknown (indefinite)
	CodeSessionEvicted   = "session_evicted"    // 410: request id too old for the session (indefinite)
	CodeNotLeader        = "not_leader"         // 503: this node is not the leader (definite)
	CodeUnavailable      = "unavailable"        // 503: no leader known (definite)
	CodeStopped          = "stopped"            // 503: node shutting down (definite)
	CodeIndeterminate    = "indeterminate"      // 503: the write may have applied (indefinite)
	CodeTimeout          = "timeout"            // 504: deadline passed (indefinite for writes)
	CodeCanceled         = "canceled"           // 499: the client went away (indefinite for writes)
	CodeForwardFailed    = "forward_failed"     // 502: the leader could not be reached (indefinite for writes)
	CodeInternal         = "internal"           // 500: unexpected error (indefinite for writes)
)

// statusClientClosed is the (nginx) status recorded when the client hung up
// before the answer; nobody reads it but the metrics and logs.
const statusClientClosed = 499

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// Indefinite is true when the request was a write that may have
	// applied (or may still); false means it did not and never will.
	Indefinite bool `json:"indefinite"`
	// CurrentVersion is the key's version when a compare-and-swap failed
	// (0: the key does not exist).
	CurrentVersion *uint64 `json:"current_version,omitempty"`
	// Revision is the store revision the answer reflects, when known.
	Revision uint64 `json:"revision,omitempty"`
	// LeaderURL is the leader's client URL when the answer knows it, so a
	// client can go there directly.
	LeaderURL string `json:"leader_url,omitempty"`
}

// apiError is an HTTP error answer: a status, a body and whether to ask the
// client to retry later.
type apiError struct {
	status     int
	body       errorBody
	retryAfter bool
}

func newError(status int, code, msg string) *apiError {
	return &apiError{status: status, body: errorBody{Error: msg, Code: code}}
}

// storeError maps an error from Store.Propose or Store.Read to an answer.
// write says whether the request could change state: only writes are ever
// indefinite. Indefinite causes are tested first, so a Store that wraps
// ErrIndeterminate around ErrStopped is reported as indefinite.
func storeError(err error, write bool) *apiError {
	var e *apiError
	switch {
	case errors.Is(err, ErrIndeterminate):
		e = newError(http.StatusServiceUnavailable, CodeIndeterminate, err.Error())
		e.body.Indefinite, e.retryAfter = write, true
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		e = newError(http.StatusGatewayTimeout, CodeTimeout, err.Error())
		e.body.Indefinite = write
	case errors.Is(err, context.Canceled):
		e = newError(statusClientClosed, CodeCanceled, err.Error())
		e.body.Indefinite = write
	case errors.Is(err, ErrNotLeader):
		e = newError(http.StatusServiceUnavailable, CodeNotLeader, err.Error())
		e.retryAfter = true
	case errors.Is(err, ErrUnavailable):
		e = newError(http.StatusServiceUnavailable, CodeUnavailable, err.Error())
		e.retryAfter = true
	case errors.Is(err, ErrStopped):
		e = newError(http.StatusServiceUnavailable, CodeStopped, err.Error())
		e.retryAfter = true
	default:
		// An error the Store did not classify: assume the worst.
		e = newError(http.StatusInternalServerError, CodeInternal, err.Error())
		e.body.Indefinite = write
	}
	return e
}

// resultError maps a kv.Result whose Err is set (the state machine did not
// apply the command) to an answer. Session errors are indefinite: the state
// machine no longer knows whether the request applied. Everything else is
// definite, as kv.Result documents.
func resultError(res kv.Result) *apiError {
	var e *apiError
	switch err := res.Err; {
	case errors.Is(err, kv.ErrSessionExpired):
		e = newError(http.StatusGone, CodeSessionExpired, err.Error())
		e.body.Indefinite = true
	case errors.Is(err, kv.ErrSessionEvicted):
		e = newError(http.StatusGone, CodeSessionEvicted, err.Error())
		e.body.Indefinite = true
	case errors.Is(err, kv.ErrBadRequestID):
		e = newError(http.StatusBadRequest, CodeInvalidHeader, err.Error())
	case errors.Is(err, kv.ErrKeyTooLarge):
		e = newError(http.StatusRequestEntityTooLarge, CodeKeyTooLarge, err.Error())
	case errors.Is(err, kv.ErrValueTooLarge):
		e = newError(http.StatusRequestEntityTooLarge, CodeValueTooLarge, err.Error())
	case errors.Is(err, kv.ErrInvalidCommand):
		e = newError(http.StatusBadRequest, CodeInvalidCommand, err.Error())
	default:
		e = newError(http.StatusInternalServerError, CodeInternal, err.Error())
	}
	e.body.Revision = res.Revision
	return e
}
