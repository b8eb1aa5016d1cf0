package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/raftkv/raftkv/internal/kv"
)

// keyValueJSON is one key as reads return it.
type keyValueJSON struct {
	Key            string `json:"key"`
	Value          string `json:"value"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
}

func toJSON(kvp kv.KeyValue, enc encoding) keyValueJSON {
	return keyValueJSON{Key: enc.encode(kvp.Key), Value: enc.encode(kvp.Value), Version: kvp.Version,
		CreateRevision: kvp.CreateRevision, ModRevision: kvp.ModRevision}
}

// getJSON answers GET /v1/kv/{key}.
type getJSON struct {
	keyValueJSON
	// Revision is the store revision the read observed.
	Revision uint64 `json:"revision"`
}

// rangeJSON answers GET /v1/kv.
type rangeJSON struct {
	KVs []keyValueJSON `json:"kvs"`
	// More reports that keys beyond the answer exist; continue with
	// start set to the last key plus a zero byte.
	More     bool   `json:"more"`
	Revision uint64 `json:"revision"`
}

// writeJSON answers a successful PUT or DELETE. It does not echo the
// value, which the client has and which may be a megabyte.
type writeJSON struct {
	Key            string `json:"key"`
	Version        uint64 `json:"version"`
	CreateRevision uint64 `json:"create_revision"`
	ModRevision    uint64 `json:"mod_revision"`
	Revision       uint64 `json:"revision"`
	// Index is the log index of the entry that applied the write.
	Index uint64 `json:"index"`
	// Duplicate reports a retry of a write already applied: this is the
	// original answer and the retry changed nothing.
	Duplicate bool `json:"duplicate"`
}

// serveGet answers GET /v1/kv/{key}[?stale=true][&encoding=base64].
func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request) {
	q, e := parseQuery(r, "stale", "encoding")
	if e != nil {
		writeError(w, e)
		return
	}
	stale, e := q.stale()
	if e != nil {
		writeError(w, e)
		return
	}
	enc, e := q.encoding()
	if e != nil {
		writeError(w, e)
		return
	}
	key, e := h.keyFromPath(r)
	if e != nil {
		writeError(w, e)
		return
	}
	h.get(w, r, key, stale, enc)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, key string, stale bool, enc encoding) {
	ctx, cancel := h.withTimeout(r)
	defer cancel()
	var (
		kvp   kv.KeyValue
		found bool
		rev   uint64
	)
	err := h.store.Read(ctx, stale, func(s *kv.Store) {
		kvp, found = s.Get(key)
		rev = s.Revision()
	})
	if err != nil {
		h.failOrForward(w, r.WithContext(ctx), err, false, nil)
		return
	}
	if !found {
		e := newError(http.StatusNotFound, CodeNotFound, fmt.Sprintf("key %q not found", key))
		e.body.Revision = rev
		writeError(w, e)
		return
	}
	writeOK(w, getJSON{keyValueJSON: toJSON(kvp, enc), Revision: rev})
}

// serveRange answers GET /v1/kv?prefix=p or ?start=a&end=b, with optional
// limit, stale and encoding.
func (h *Handler) serveRange(w http.ResponseWriter, r *http.Request) {
	q, e := parseQuery(r, "prefix", "start", "end", "limit", "stale", "encoding")
	if e != nil {
		writeError(w, e)
		return
	}
	req, e := h.rangeRequest(q)
	if e != nil {
		writeError(w, e)
		return
	}
	stale, e := q.stale()
	if e != nil {
		writeError(w, e)
		return
	}
	enc, e := q.encoding()
	if e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := h.withTimeout(r)
	defer cancel()
	var res kv.RangeResult
	err := h.store.Read(ctx, stale, func(s *kv.Store) { res = s.Range(req) })
	if err != nil {
		h.failOrForward(w, r.WithContext(ctx), err, false, nil)
		return
	}
	out := rangeJSON{KVs: make([]keyValueJSON, 0, len(res.KVs)), More: res.More, Revision: res.Revision}
	size := 0
	for i, kvp := range res.KVs {
		size += len(kvp.Key) + len(kvp.Value)
		if i > 0 && size > h.cfg.MaxRangeBytes {
			out.More = true
			break
		}
		out.KVs = append(out.KVs, toJSON(kvp, enc))
	}
	writeOK(w, out)
}

// rangeRequest builds the range from the query: a prefix, or start and
// end (each optional, "" meaning unbounded), and a limit clamped to
// MaxRangeLimit (0 or absent: MaxRangeLimit).
func (h *Handler) rangeRequest(q query) (kv.RangeRequest, *apiError) {
	var req kv.RangeRequest
	switch {
	case q.has("prefix") && (q.has("start") || q.has("end")):
		return req, newError(http.StatusBadRequest, CodeInvalidQuery, "give either prefix or start/end, not both")
	case q.has("prefix"):
		req = kv.PrefixRange(q.get("prefix"), 0)
	default:
		req = kv.RangeRequest{Start: q.get("start"), End: q.get("end")}
	}
	for _, name := range []string{"prefix", "start", "end"} {
		if k := q.get(name); len(k) > h.cfg.MaxKeySize {
			return req, newError(http.StatusRequestEntityTooLarge, CodeKeyTooLarge,
				fmt.Sprintf("%s is %d bytes, limit %d", name, len(k), h.cfg.MaxKeySize))
		}
	}
	req.Limit = h.cfg.MaxRangeLimit
	if q.has("limit") {
		n, err := strconv.Atoi(q.get("limit"))
		if err != nil || n < 0 {
			return req, newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("limit=%q: want a non-negative integer", q.get("limit")))
		}
		if n > 0 && n < req.Limit {
			req.Limit = n
		}
	}
	return req, nil
}

// servePut answers PUT /v1/kv/{key}: the value is the raw body, or
// {"value": "..."} with Content-Type application/json.
func (h *Handler) servePut(w http.ResponseWriter, r *http.Request) {
	h.serveWrite(w, r, kv.OpPut)
}

// serveDelete answers DELETE /v1/kv/{key}.
func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request) {
	h.serveWrite(w, r, kv.OpDelete)
}

// serveWrite validates everything before proposing: a bad request never
// reaches the Store, so it changes nothing.
func (h *Handler) serveWrite(w http.ResponseWriter, r *http.Request, op kv.Op) {
	cmd, raw, enc, e := h.parseWrite(w, r, op)
	if e != nil {
		writeError(w, e)
		return
	}
	clientID, requestID, e := requestIDs(r)
	if e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := h.withTimeout(r)
	defer cancel()
	res, err := h.store.Propose(ctx, cmd, clientID, requestID)
	if err != nil {
		h.failOrForward(w, r.WithContext(ctx), err, true, raw)
		return
	}
	if res.Duplicate {
		w.Header().Set(HeaderDuplicate, "true")
	}
	if res.Err != nil {
		writeError(w, resultError(res))
		return
	}
	switch res.Status {
	case kv.StatusOK:
		writeOK(w, writeJSON{Key: enc.encode(cmd.Key), Version: res.Version, CreateRevision: res.CreateRevision,
			ModRevision: res.ModRevision, Revision: res.Revision, Index: res.Index, Duplicate: res.Duplicate})
	case kv.StatusNotFound:
		e := newError(http.StatusNotFound, CodeNotFound, fmt.Sprintf("key %q not found", cmd.Key))
		e.body.Revision = res.Revision
		writeError(w, e)
	case kv.StatusConflict:
		v := res.Version
		e := newError(http.StatusConflict, CodeConflict,
			fmt.Sprintf("key %q is at version %d, not %d", cmd.Key, res.Version, cmd.IfVersion))
		e.body.CurrentVersion, e.body.Revision = &v, res.Revision
		writeError(w, e)
	default:
		// A result with neither a status nor an error is a Store bug; the
		// command may well have applied.
		h.log.Error("store returned a result without status", "command", cmd.String(), "status", res.Status)
		e := newError(http.StatusInternalServerError, CodeInternal, fmt.Sprintf("store returned status %v", res.Status))
		e.body.Indefinite = true
		writeError(w, e)
	}
}

// parseWrite builds the command of a PUT or DELETE from the request.
func (h *Handler) parseWrite(w http.ResponseWriter, r *http.Request, op kv.Op) (kv.Command, []byte, encoding, *apiError) {
	q, e := parseQuery(r, "encoding")
	if e != nil {
		return kv.Command{}, nil, encText, e
	}
	enc, e := q.encoding()
	if e != nil {
		return kv.Command{}, nil, enc, e
	}
	key, e := h.keyFromPath(r)
	if e != nil {
		return kv.Command{}, nil, enc, e
	}
	version, conditional, e := ifVersion(r)
	if e != nil {
		return kv.Command{}, nil, enc, e
	}
	var value string
	var raw []byte
	if op == kv.OpPut {
		if value, raw, e = h.readValue(w, r, enc); e != nil {
			return kv.Command{}, nil, enc, e
		}
	}
	cmd := kv.Command{Op: op, Key: key, Value: value, Conditional: conditional, IfVersion: version}
	if err := cmd.Validate(); err != nil {
		// Unreachable while the checks above are at least as strict as
		// the state machine's; kept so a future gap is a 400, not a panic.
		return kv.Command{}, nil, enc, resultError(kv.Result{Err: err})
	}
	return cmd, raw, enc, nil
}

// failOrForward answers a Store error: a request this node cannot serve
// because it is not the leader goes to the leader, once; anything else
// becomes an error answer.
func (h *Handler) failOrForward(w http.ResponseWriter, r *http.Request, err error, write bool, body []byte) {
	if !errors.Is(err, ErrNotLeader) {
		writeError(w, storeError(err, write))
		return
	}
	_, leaderURL, ok := h.store.Leader()
	if !ok || leaderURL == "" {
		e := newError(http.StatusServiceUnavailable, CodeUnavailable, "no leader is known (an election may be under way); retry shortly")
		e.retryAfter = true
		writeError(w, e)
		return
	}
	if r.Header.Get(HeaderForwarded) != "" {
		// Forwarded to us, yet we are not the leader: leadership moved.
		// Do not forward again; the client retries.
		e := storeError(err, write)
		e.body.LeaderURL = leaderURL
		writeError(w, e)
		return
	}
	h.forward(w, r, leaderURL, body, write)
}

// writeOK writes a 200 JSON answer.
func writeOK(w http.ResponseWriter, v any) {
	writeJSONBody(w, http.StatusOK, v)
}

// writeError writes an error answer, with Retry-After when the condition
// is expected to pass (an election).
func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter {
		w.Header().Set("Retry-After", "1")
	}
	writeJSONBody(w, e.status, e.body)
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our answer types always marshal; a failure is a bug.
		panic(fmt.Sprintf("httpapi: marshal %T: %v", v, err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
