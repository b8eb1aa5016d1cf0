package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Request headers of the API. Header names are case-insensitive on the
// wire; these are the canonical forms.
const (
	// HeaderClientID and HeaderRequestID (decimal uint64s, both nonzero,
	// both or neither) identify a write for exactly-once application: a
	// retry with the same pair is applied at most once and answered with
	// the original result.
	HeaderClientID  = "Raftkv-Client-Id"
	HeaderRequestID = "Raftkv-Request-Id"
	// HeaderIfVersion (decimal uint64) makes a PUT or DELETE a
	// compare-and-swap: it applies only if the key's current version is
	// the one given, 0 meaning "the key must not exist".
	HeaderIfVersion = "If-Version"
	// HeaderForwarded marks a request that a follower forwarded to the
	// leader (its value is the follower's ID). A request carrying it is
	// never forwarded again, so a stale leader hint cannot make a loop.
	HeaderForwarded = "Raftkv-Forwarded-By"
	// HeaderLeader on a forwarded answer carries the leader's client URL,
	// so that the client can talk to the leader directly next time.
	HeaderLeader = "Raftkv-Leader"
	// HeaderDuplicate is "true" on the answer to a retried write that had
	// already been applied: the answer is the original one.
	HeaderDuplicate = "Raftkv-Duplicate"
)

// encoding says how keys and values appear in JSON bodies.
type encoding bool

const (
	encText   encoding = false // JSON strings as they are (must be UTF-8 to round-trip)
	encBase64 encoding = true  // standard base64, for binary keys and values
)

func (e encoding) encode(s string) string {
	if e == encBase64 {
		return base64.StdEncoding.EncodeToString([]byte(s))
	}
	return s
}

// query is a request's parsed query string, checked against the
// parameters its route knows so that a typo ("perfix") is an error rather
// than a silently ignored option.
type query struct {
	values url.Values
}

func parseQuery(r *http.Request, allowed ...string) (query, *apiError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("malformed query string: %v", err))
	}
	// Sorted, so that which of several bad parameters is reported does
	// not depend on map order.
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		if !slices.Contains(allowed, name) {
			return query{}, newError(http.StatusBadRequest, CodeInvalidQuery,
				fmt.Sprintf("unknown query parameter %q; this endpoint takes %s", name, strings.Join(allowed, ", ")))
		}
		if len(vs) > 1 {
			return query{}, newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("query parameter %q given %d times", name, len(vs)))
		}
	}
	return query{values: values}, nil
}

func (q query) has(name string) bool   { return q.values.Has(name) }
func (q query) get(name string) string { return q.values.Get(name) }

// stale parses ?stale=true|false (absent: false, a linearizable read).
func (q query) stale() (bool, *apiError) {
	if !q.has("stale") {
		return false, nil
	}
	v := q.get("stale")
	if v == "" {
		return true, nil // "?stale" alone reads naturally as "yes"
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("stale=%q: want true or false", v))
	}
	return b, nil
}

// encoding parses ?encoding=text|base64 (absent: text).
func (q query) encoding() (encoding, *apiError) {
	switch v := q.get("encoding"); v {
	case "", "text":
		return encText, nil
	case "base64":
		return encBase64, nil
	default:
		return encText, newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("encoding=%q: want text or base64", v))
	}
}

// keyFromPath extracts and unescapes the key of a single-key request,
// checking it is non-empty and within the limit.
func (h *Handler) keyFromPath(r *http.Request) (string, *apiError) {
	escaped := strings.TrimPrefix(r.URL.EscapedPath(), keyPrefix)
	key, err := url.PathUnescape(escaped)
	if err != nil {
		return "", newError(http.StatusBadRequest, CodeInvalidQuery, fmt.Sprintf("malformed key escape in path: %v", err))
	}
	return key, h.checkKey(key, "key")
}

// checkKey applies the key rules to key (what names it in messages).
func (h *Handler) checkKey(key, what string) *apiError {
	if key == "" {
		return newError(http.StatusBadRequest, CodeEmptyKey, what+" is empty: keys are 1 or more bytes")
	}
	if len(key) > h.cfg.MaxKeySize {
		return newError(http.StatusRequestEntityTooLarge, CodeKeyTooLarge,
			fmt.Sprintf("%s is %d bytes, limit %d", what, len(key), h.cfg.MaxKeySize))
	}
	return nil
}

// uintHeader parses a decimal uint64 header; ok is false if it is absent.
func uintHeader(r *http.Request, name string) (v uint64, ok bool, e *apiError) {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return 0, false, nil
	}
	if len(vs) > 1 {
		return 0, false, newError(http.StatusBadRequest, CodeInvalidHeader, fmt.Sprintf("header %s given %d times", name, len(vs)))
	}
	v, err := strconv.ParseUint(strings.TrimSpace(vs[0]), 10, 64)
	if err != nil {
		return 0, false, newError(http.StatusBadRequest, CodeInvalidHeader, fmt.Sprintf("header %s: %q is not a decimal uint64", name, vs[0]))
	}
	return v, true, nil
}

// requestIDs parses the exactly-once headers: both or neither, both
// nonzero. Zeros mean "no deduplication".
func requestIDs(r *http.Request) (clientID, requestID uint64, e *apiError) {
	clientID, hasClient, e := uintHeader(r, HeaderClientID)
	if e != nil {
		return 0, 0, e
	}
	requestID, hasRequest, e := uintHeader(r, HeaderRequestID)
	if e != nil {
		return 0, 0, e
	}
	if hasClient != hasRequest {
		return 0, 0, newError(http.StatusBadRequest, CodeInvalidHeader,
			fmt.Sprintf("%s and %s must be given together", HeaderClientID, HeaderRequestID))
	}
	if hasClient && (clientID == 0 || requestID == 0) {
		return 0, 0, newError(http.StatusBadRequest, CodeInvalidHeader,
			fmt.Sprintf("%s and %s must be nonzero (request ids start at 1)", HeaderClientID, HeaderRequestID))
	}
	return clientID, requestID, nil
}

// ifVersion parses the compare-and-swap precondition.
func ifVersion(r *http.Request) (version uint64, conditional bool, e *apiError) {
	return uintHeader(r, HeaderIfVersion)
}

// putBody is the JSON form of a PUT body.
type putBody struct {
	Value *string `json:"value"`
}

// jsonExpansion is how many times larger than MaxValueSize a JSON body may
// be (plus a little for the braces):
// escaping can take up to six bytes per byte of value ("\u0000").
const jsonExpansion = 6

// readValue reads the value of a PUT: the raw body, or with Content-Type
// application/json a {"value": "..."} object. It returns the value and the
// raw body (kept for forwarding).
func (h *Handler) readValue(w http.ResponseWriter, r *http.Request, enc encoding) (value string, raw []byte, e *apiError) {
	isJSON := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return "", nil, newError(http.StatusBadRequest, CodeInvalidHeader, fmt.Sprintf("Content-Type %q: %v", ct, err))
		}
		isJSON = mt == "application/json"
	}
	limit := int64(h.cfg.MaxValueSize)
	if isJSON {
		limit = limit*jsonExpansion + 4096
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", nil, newError(http.StatusRequestEntityTooLarge, CodeValueTooLarge,
				fmt.Sprintf("request body exceeds %d bytes (value limit %d)", limit, h.cfg.MaxValueSize))
		}
		return "", nil, newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("reading the request body: %v", err))
	}
	value = string(raw)
	if isJSON {
		if value, e = decodePutBody(raw, enc); e != nil {
			return "", nil, e
		}
	}
	if len(value) > h.cfg.MaxValueSize {
		return "", nil, newError(http.StatusRequestEntityTooLarge, CodeValueTooLarge,
			fmt.Sprintf("value is %d bytes, limit %d", len(value), h.cfg.MaxValueSize))
	}
	return value, raw, nil
}

// decodePutBody parses exactly one {"value": "..."} object.
func decodePutBody(raw []byte, enc encoding) (string, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body putBody
	if err := dec.Decode(&body); err != nil {
		return "", newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf(`body is not a JSON object {"value": "..."}: %v`, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", newError(http.StatusBadRequest, CodeInvalidJSON, "body has data after the JSON object")
	}
	if body.Value == nil {
		return "", newError(http.StatusBadRequest, CodeInvalidJSON, `JSON body lacks "value"`)
	}
	if enc == encBase64 {
		b, err := base64.StdEncoding.DecodeString(*body.Value)
		if err != nil {
			return "", newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("value is not standard base64: %v", err))
		}
		return string(b), nil
	}
	return *body.Value, nil
}
