// Package httpapi is raftkv's HTTP/JSON client API: single-key reads and
// writes, ranges, compare-and-swap, status, health and metrics. The full
// reference, with every status code and examples, is docs/api.md; this
// comment says how the package is built.
//
// # Over an interface it declares
//
// The handler talks to the node only through Store, declared here with the
// sentinel errors a Store returns. The package imports internal/kv for the
// command, result and read types, and nothing of the node, the Raft core or
// the wiring; cmd/ adapts internal/node to Store. Tests use a fake Store.
//
// # Definite and indefinite errors
//
// Every failed request is answered with a JSON body
// {"error": "...", "code": "...", "indefinite": bool}. indefinite is true
// only for writes that may have applied (or may still): the Store said so
// (ErrIndeterminate, ErrTimeout, an unclassified error), the state machine
// forgot the client's session, or a forwarded write lost its connection to
// the leader after it was sent. Everything else is definite: the write did
// not and never will apply. Clients retry indefinite writes with the same
// Raftkv-Client-Id and Raftkv-Request-Id, and the state machine applies
// each request at most once.
//
// # Validation first
//
// Everything about a request (key, value, sizes, headers, query, JSON) is
// checked before the Store is called, so bad input is answered 400 or 413
// and changes nothing. Bodies are read through http.MaxBytesReader.
//
// # Followers forward
//
// A request that needs the leader (a write, or a linearizable read the
// Store cannot serve locally) and reaches a follower is forwarded to the
// leader's client URL with httputil.ReverseProxy, once: the forwarded
// request carries Raftkv-Forwarded-By, and a node that is not the leader
// answers such a request 503 "not_leader" instead of forwarding it again,
// so a stale leader hint can never make a loop. Stale reads are always
// served locally. The answer carries Raftkv-Leader so a client can go to
// the leader directly next time.
//
// # No global state
//
// A Handler owns its metrics registry (never the Prometheus default one),
// its forwarding transport and its logger, so any number can run in one
// process.
package httpapi
