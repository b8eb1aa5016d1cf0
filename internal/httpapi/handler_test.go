package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/kv"
)

// newTestHandler returns a handler over a fresh fake store.
func newTestHandler(t *testing.T, mod func(*Config)) (*Handler, *fakeStore) {
	t.Helper()
	f := newFakeStore()
	cfg := Config{Store: f, NodeID: 1}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(h.Close)
	return h, f
}

// do runs one request through h. hdr alternates header names and values.
func do(t *testing.T, h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode parses a JSON answer into v, failing the test if it is not JSON.
func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, w.Body)
	}
}

// wantStatus checks the status code and, for errors, the code in the body.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, code string) errorBody {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	var e errorBody
	if code != "" {
		decode(t, w, &e)
		if e.Code != code || e.Error == "" {
			t.Fatalf("error body %+v, want code %q and a message", e, code)
		}
	}
	return e
}

func TestPutGetDelete(t *testing.T) {
	h, f := newTestHandler(t, nil)

	w := do(t, h, "PUT", "/v1/kv/greeting", "hello")
	wantStatus(t, w, 200, "")
	var wr writeJSON
	decode(t, w, &wr)
	if wr != (writeJSON{Key: "greeting", Version: 1, CreateRevision: 1, ModRevision: 1, Revision: 1, Index: 1}) {
		t.Errorf("first put: %+v", wr)
	}

	w = do(t, h, "PUT", "/v1/kv/greeting", `{"value": "hi \u00e9"}`, "Content-Type", "application/json; charset=utf-8")
	wantStatus(t, w, 200, "")
	decode(t, w, &wr)
	if wr.Version != 2 || wr.CreateRevision != 1 || wr.ModRevision != 2 || wr.Revision != 2 {
		t.Errorf("second put: %+v", wr)
	}

	w = do(t, h, "GET", "/v1/kv/greeting", "")
	wantStatus(t, w, 200, "")
	var g getJSON
	decode(t, w, &g)
	if g.Key != "greeting" || g.Value != "hi é" || g.Version != 2 || g.CreateRevision != 1 || g.ModRevision != 2 || g.Revision != 2 {
		t.Errorf("get: %+v", g)
	}

	w = do(t, h, "DELETE", "/v1/kv/greeting", "")
	wantStatus(t, w, 200, "")
	decode(t, w, &wr)
	if wr.Key != "greeting" || wr.Revision != 3 || wr.Version != 0 {
		t.Errorf("delete: %+v", wr)
	}
	e := wantStatus(t, do(t, h, "GET", "/v1/kv/greeting", ""), 404, CodeNotFound)
	if e.Indefinite || e.Revision != 3 {
		t.Errorf("get after delete: %+v", e)
	}
	e = wantStatus(t, do(t, h, "DELETE", "/v1/kv/greeting", ""), 404, CodeNotFound)
	if e.Indefinite {
		t.Errorf("delete of a missing key is definite: %+v", e)
	}
	if got := f.proposalCount(); got != 4 {
		t.Errorf("%d proposals, want 4", got)
	}
	if w := do(t, h, "HEAD", "/v1/kv/missing", ""); w.Code != 404 {
		t.Errorf("HEAD of a missing key: %d", w.Code)
	}
}

// Keys are the unescaped rest of the path: slashes, "..", "//", spaces
// and arbitrary bytes all survive, and the path is never cleaned.
func TestKeysInPath(t *testing.T) {
	h, f := newTestHandler(t, nil)
	for _, tt := range []struct{ path, key string }{
		{"/v1/kv/a/b/c", "a/b/c"},
		{"/v1/kv/a//b", "a//b"},
		{"/v1/kv/a/../b", "a/../b"},
		{"/v1/kv/..", ".."},
		{"/v1/kv/a%2Fb", "a/b"},
		{"/v1/kv/" + url.PathEscape("sp ace?#%&=\x00\xff"), "sp ace?#%&=\x00\xff"},
		{"/v1/kv/%E2%98%83", "☃"},
	} {
		w := do(t, h, "PUT", tt.path, "v")
		if w.Code != 200 {
			t.Errorf("PUT %s: %d %s", tt.path, w.Code, w.Body)
			continue
		}
		if got := f.lastProposal().cmd.Key; got != tt.key {
			t.Errorf("PUT %s proposed key %q, want %q", tt.path, got, tt.key)
		}
		if w := do(t, h, "GET", tt.path, ""); w.Code != 200 {
			t.Errorf("GET %s: %d %s", tt.path, w.Code, w.Body)
		}
	}
}

func TestCompareAndSwap(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	// Create-only: version 0 means "must not exist".
	wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "one", HeaderIfVersion, "0"), 200, "")
	e := wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "two", HeaderIfVersion, "0"), 409, CodeConflict)
	if e.CurrentVersion == nil || *e.CurrentVersion != 1 || e.Indefinite {
		t.Errorf("conflict body %+v, want current_version 1, definite", e)
	}
	wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "two", HeaderIfVersion, "1"), 200, "")
	e = wantStatus(t, do(t, h, "DELETE", "/v1/kv/k", "", HeaderIfVersion, "1"), 409, CodeConflict)
	if *e.CurrentVersion != 2 {
		t.Errorf("delete conflict body %+v", e)
	}
	wantStatus(t, do(t, h, "DELETE", "/v1/kv/k", "", HeaderIfVersion, "2"), 200, "")
	// A conflict on a missing key reports version 0, and the JSON carries
	// it (0 is meaningful, so it is not omitted).
	w := do(t, h, "PUT", "/v1/kv/k", "x", HeaderIfVersion, "5")
	if w.Code != 409 || !strings.Contains(w.Body.String(), `"current_version":0`) {
		t.Errorf("conflict on a missing key: %d %s", w.Code, w.Body)
	}
}

func TestExactlyOnceHeaders(t *testing.T) {
	h, f := newTestHandler(t, nil)
	ids := []string{HeaderClientID, "77", HeaderRequestID, "1"}
	w1 := do(t, h, "PUT", "/v1/kv/k", "v", ids...)
	wantStatus(t, w1, 200, "")
	if p := f.lastProposal(); p.clientID != 77 || p.requestID != 1 {
		t.Errorf("proposal ids %d/%d, want 77/1", p.clientID, p.requestID)
	}
	w2 := do(t, h, "PUT", "/v1/kv/k", "v", ids...)
	var a, b writeJSON
	decode(t, w1, &a)
	decode(t, w2, &b)
	if !b.Duplicate || w2.Header().Get(HeaderDuplicate) != "true" || b.Version != 1 || a.Duplicate {
		t.Errorf("retry: first %+v, retry %+v (header %q)", a, b, w2.Header().Get(HeaderDuplicate))
	}
	if f.revision() != 1 {
		t.Errorf("revision %d after a write and its retry, want 1", f.revision())
	}
	// A request id past 1 from a client the state machine does not know:
	// its session expired, and whether the request applied is unknown.
	e := wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "v", HeaderClientID, "78", HeaderRequestID, "5"), 410, CodeSessionExpired)
	if !e.Indefinite {
		t.Errorf("session expiry must be indefinite: %+v", e)
	}
	// Without the headers, no deduplication.
	wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "v"), 200, "")
	if p := f.lastProposal(); p.clientID != 0 || p.requestID != 0 {
		t.Errorf("proposal ids %d/%d, want 0/0", p.clientID, p.requestID)
	}
}

// Every malformed request is answered 400 or 413 and never reaches the
// store.
func TestBadInputChangesNothing(t *testing.T) {
	h, f := newTestHandler(t, func(c *Config) { c.MaxKeySize, c.MaxValueSize = 8, 16 })
	jsonCT := []string{"Content-Type", "application/json"}
	for _, tt := range []struct {
		name, method, target, body string
		hdr                        []string
		status                     int
		code                       string
	}{
		{"empty key", "PUT", "/v1/kv/", "v", nil, 400, CodeEmptyKey},
		{"empty key delete", "DELETE", "/v1/kv/", "", nil, 400, CodeEmptyKey},
		{"empty key get", "GET", "/v1/kv/", "", nil, 400, CodeEmptyKey},
		{"key too large", "PUT", "/v1/kv/123456789", "v", nil, 413, CodeKeyTooLarge},
		{"key too large get", "GET", "/v1/kv/123456789", "", nil, 413, CodeKeyTooLarge},
		{"value too large", "PUT", "/v1/kv/k", "12345678901234567", nil, 413, CodeValueTooLarge},
		{"json value too large", "PUT", "/v1/kv/k", `{"value":"12345678901234567"}`, jsonCT, 413, CodeValueTooLarge},
		{"json body too large", "PUT", "/v1/kv/k", `{"value":"` + strings.Repeat("a", 200) + `"}`, jsonCT, 413, CodeValueTooLarge},
		{"malformed json", "PUT", "/v1/kv/k", `{"value":`, jsonCT, 400, CodeInvalidJSON},
		{"json not an object", "PUT", "/v1/kv/k", `"v"`, jsonCT, 400, CodeInvalidJSON},
		{"json wrong type", "PUT", "/v1/kv/k", `{"value": 5}`, jsonCT, 400, CodeInvalidJSON},
		{"json unknown field", "PUT", "/v1/kv/k", `{"value":"v","ttl":3}`, jsonCT, 400, CodeInvalidJSON},
		{"json missing value", "PUT", "/v1/kv/k", `{}`, jsonCT, 400, CodeInvalidJSON},
		{"json trailing data", "PUT", "/v1/kv/k", `{"value":"v"} {}`, jsonCT, 400, CodeInvalidJSON},
		{"json bad base64", "PUT", "/v1/kv/k?encoding=base64", `{"value":"!!"}`, jsonCT, 400, CodeInvalidJSON},
		{"bad content type", "PUT", "/v1/kv/k", "v", []string{"Content-Type", "a/b; ="}, 400, CodeInvalidHeader},
		{"bad if-version", "PUT", "/v1/kv/k", "v", []string{HeaderIfVersion, "one"}, 400, CodeInvalidHeader},
		{"negative if-version", "DELETE", "/v1/kv/k", "", []string{HeaderIfVersion, "-1"}, 400, CodeInvalidHeader},
		{"two if-versions", "PUT", "/v1/kv/k", "v", []string{HeaderIfVersion, "1", HeaderIfVersion, "2"}, 400, CodeInvalidHeader},
		{"client id alone", "PUT", "/v1/kv/k", "v", []string{HeaderClientID, "1"}, 400, CodeInvalidHeader},
		{"request id alone", "DELETE", "/v1/kv/k", "", []string{HeaderRequestID, "1"}, 400, CodeInvalidHeader},
		{"zero request id", "PUT", "/v1/kv/k", "v", []string{HeaderClientID, "1", HeaderRequestID, "0"}, 400, CodeInvalidHeader},
		{"zero client id", "PUT", "/v1/kv/k", "v", []string{HeaderClientID, "0", HeaderRequestID, "1"}, 400, CodeInvalidHeader},
		{"id overflow", "PUT", "/v1/kv/k", "v", []string{HeaderClientID, "18446744073709551616", HeaderRequestID, "1"}, 400, CodeInvalidHeader},
		{"unknown query", "PUT", "/v1/kv/k?ttl=5", "v", nil, 400, CodeInvalidQuery},
		{"bad encoding", "PUT", "/v1/kv/k?encoding=hex", "v", nil, 400, CodeInvalidQuery},
		{"bad stale", "GET", "/v1/kv/k?stale=maybe", "", nil, 400, CodeInvalidQuery},
		{"stale twice", "GET", "/v1/kv/k?stale=true&stale=false", "", nil, 400, CodeInvalidQuery},
		{"range prefix and start", "GET", "/v1/kv?prefix=a&start=b", "", nil, 400, CodeInvalidQuery},
		{"range bad limit", "GET", "/v1/kv?limit=ten", "", nil, 400, CodeInvalidQuery},
		{"range negative limit", "GET", "/v1/kv?limit=-1", "", nil, 400, CodeInvalidQuery},
		{"range typo", "GET", "/v1/kv?perfix=a", "", nil, 400, CodeInvalidQuery},
		{"range start too large", "GET", "/v1/kv?start=123456789", "", nil, 413, CodeKeyTooLarge},
		{"bad query escape", "GET", "/v1/kv?prefix=%zz", "", nil, 400, CodeInvalidQuery},
		{"range method", "PUT", "/v1/kv", "v", nil, 405, CodeMethodNotAllowed},
		{"key method", "POST", "/v1/kv/k", "v", nil, 405, CodeMethodNotAllowed},
		{"status method", "POST", "/v1/status", "", nil, 405, CodeMethodNotAllowed},
		{"no such endpoint", "PUT", "/v2/kv/k", "v", nil, 404, CodeNoSuchEndpoint},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, tt.method, tt.target, tt.body, tt.hdr...)
			e := wantStatus(t, w, tt.status, tt.code)
			if e.Indefinite {
				t.Errorf("bad input must be definite: %+v", e)
			}
			if tt.status == 405 && w.Header().Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
		})
	}
	if n := f.proposalCount(); n != 0 {
		t.Errorf("bad input reached the store: %d proposals %+v", n, f.proposals)
	}
	if len(f.reads) != 0 {
		t.Errorf("bad input reached the store: reads %v", f.reads)
	}
}

// Within the limits, the largest key and value are accepted.
func TestLimitsInclusive(t *testing.T) {
	h, _ := newTestHandler(t, func(c *Config) { c.MaxKeySize, c.MaxValueSize = 8, 16 })
	wantStatus(t, do(t, h, "PUT", "/v1/kv/12345678", "1234567890123456"), 200, "")
	wantStatus(t, do(t, h, "PUT", "/v1/kv/12345678", `{"value":"\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001"}`,
		"Content-Type", "application/json"), 200, "")
	// The default limits are the state machine's.
	h, _ = newTestHandler(t, nil)
	wantStatus(t, do(t, h, "PUT", "/v1/kv/"+strings.Repeat("k", kv.MaxKeySize), strings.Repeat("v", kv.MaxValueSize)), 200, "")
	wantStatus(t, do(t, h, "PUT", "/v1/kv/k", strings.Repeat("v", kv.MaxValueSize+1)), 413, CodeValueTooLarge)
	wantStatus(t, do(t, h, "PUT", "/v1/kv/"+strings.Repeat("k", kv.MaxKeySize+1), "v"), 413, CodeKeyTooLarge)
}

func TestConfigValidation(t *testing.T) {
	f := newFakeStore()
	for _, cfg := range []Config{
		{},
		{Store: f, MaxKeySize: kv.MaxKeySize + 1},
		{Store: f, MaxValueSize: kv.MaxValueSize + 1},
		{Store: f, MaxRangeLimit: -1},
		{Store: f, RequestTimeout: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestBase64Encoding(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	key, value := "bin\xff\x00key", "\xfe\xff value"
	b64 := base64.StdEncoding.EncodeToString
	path := "/v1/kv/" + url.PathEscape(key) + "?encoding=base64"
	w := do(t, h, "PUT", path, fmt.Sprintf(`{"value":%q}`, b64([]byte(value))), "Content-Type", "application/json")
	var wr writeJSON
	decode(t, w, &wr)
	if wr.Key != b64([]byte(key)) {
		t.Errorf("put answer key %q", wr.Key)
	}
	var g getJSON
	decode(t, do(t, h, "GET", path, ""), &g)
	if g.Key != b64([]byte(key)) || g.Value != b64([]byte(value)) {
		t.Errorf("get: %+v", g)
	}
	var rg rangeJSON
	decode(t, do(t, h, "GET", "/v1/kv?encoding=base64&prefix="+url.QueryEscape("bin\xff"), ""), &rg)
	if len(rg.KVs) != 1 || rg.KVs[0].Value != b64([]byte(value)) {
		t.Errorf("range: %+v", rg)
	}
}

func TestRange(t *testing.T) {
	h, f := newTestHandler(t, func(c *Config) { c.MaxRangeLimit = 4 })
	for _, k := range []string{"a", "b/1", "b/2", "b/3", "c", "d", "e", "f"} {
		wantStatus(t, do(t, h, "PUT", "/v1/kv/"+k, "v-"+k), 200, "")
	}
	keys := func(target string) (string, bool) {
		t.Helper()
		w := do(t, h, "GET", target, "")
		wantStatus(t, w, 200, "")
		var rg rangeJSON
		decode(t, w, &rg)
		var ks []string
		for _, kv := range rg.KVs {
			if kv.Value != "v-"+kv.Key || kv.Version != 1 {
				t.Errorf("%s: entry %+v", target, kv)
			}
			ks = append(ks, kv.Key)
		}
		if rg.Revision != 8 {
			t.Errorf("%s: revision %d", target, rg.Revision)
		}
		return strings.Join(ks, ","), rg.More
	}
	for _, tt := range []struct {
		target string
		keys   string
		more   bool
	}{
		{"/v1/kv?prefix=b/", "b/1,b/2,b/3", false},
		{"/v1/kv?prefix=b/&limit=2", "b/1,b/2", true},
		{"/v1/kv?start=b/2&end=d", "b/2,b/3,c", false},
		{"/v1/kv?start=c", "c,d,e,f", false},
		{"/v1/kv?end=b", "a", false},
		{"/v1/kv", "a,b/1,b/2,b/3", true},                    // clamped to MaxRangeLimit
		{"/v1/kv?limit=100", "a,b/1,b/2,b/3", true},          // clamped
		{"/v1/kv?limit=0&start=d", "d,e,f", false},           // 0: the maximum
		{"/v1/kv?prefix=zzz", "", false},                     // empty list, not null
		{"/v1/kv?start=d&end=c", "", false},                  // empty range
		{"/v1/kv?prefix=&limit=1", "a", true},                // empty prefix: everything
		{"/v1/kv?start=b/3%00&stale=true", "c,d,e,f", false}, // paging on
	} {
		ks, more := keys(tt.target)
		if ks != tt.keys || more != tt.more {
			t.Errorf("%s: keys %q more %v, want %q more %v", tt.target, ks, more, tt.keys, tt.more)
		}
	}
	if w := do(t, h, "GET", "/v1/kv?prefix=zzz", ""); !strings.Contains(w.Body.String(), `"kvs":[]`) {
		t.Errorf("empty range is not an empty list: %s", w.Body)
	}
	stale := 0
	for _, s := range f.reads {
		if s {
			stale++
		}
	}
	if stale != 1 {
		t.Errorf("%d stale reads, want 1 (for ?stale=true)", stale)
	}
}

func TestRangeByteBudget(t *testing.T) {
	h, _ := newTestHandler(t, func(c *Config) { c.MaxRangeBytes = 10 })
	for _, k := range []string{"a", "b", "c"} {
		wantStatus(t, do(t, h, "PUT", "/v1/kv/"+k, "12345678"), 200, "") // 9 bytes each
	}
	var rg rangeJSON
	decode(t, do(t, h, "GET", "/v1/kv", ""), &rg)
	if len(rg.KVs) != 1 || !rg.More {
		t.Errorf("byte budget 10: %d keys, more %v; want 1, true", len(rg.KVs), rg.More)
	}
	// One key larger than the budget is still returned, so paging always
	// makes progress.
	h, _ = newTestHandler(t, func(c *Config) { c.MaxRangeBytes = 2 })
	wantStatus(t, do(t, h, "PUT", "/v1/kv/a", "12345678"), 200, "")
	decode(t, do(t, h, "GET", "/v1/kv", ""), &rg)
	if len(rg.KVs) != 1 || rg.More {
		t.Errorf("oversized single key: %d keys, more %v", len(rg.KVs), rg.More)
	}
}

func TestStaleRead(t *testing.T) {
	h, f := newTestHandler(t, nil)
	wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "v"), 200, "")
	f.set(func(f *fakeStore) { f.readErr = ErrUnavailable })
	wantStatus(t, do(t, h, "GET", "/v1/kv/k", ""), 503, CodeUnavailable)
	for _, q := range []string{"?stale=true", "?stale", "?stale=1"} {
		wantStatus(t, do(t, h, "GET", "/v1/kv/k"+q, ""), 200, "")
	}
	if got := fmt.Sprint(f.reads); got != "[false true true true]" {
		t.Errorf("stale flags %s", got)
	}
}

// Each Store error maps to its status, code, definiteness and Retry-After.
func TestStoreErrorMapping(t *testing.T) {
	for _, tt := range []struct {
		err        error
		status     int
		code       string
		writeIndef bool
		retryAfter bool
	}{
		{ErrUnavailable, 503, CodeUnavailable, false, true},
		{ErrStopped, 503, CodeStopped, false, true},
		{ErrIndeterminate, 503, CodeIndeterminate, true, true},
		{fmt.Errorf("stopping: %w: %w", ErrIndeterminate, ErrStopped), 503, CodeIndeterminate, true, true},
		{ErrTimeout, 504, CodeTimeout, true, false},
		{errors.New("disk on fire"), 500, CodeInternal, true, false},
	} {
		t.Run(tt.code, func(t *testing.T) {
			h, f := newTestHandler(t, nil)
			f.set(func(f *fakeStore) { f.proposeErr, f.readErr = tt.err, tt.err })
			for _, req := range []struct {
				method string
				write  bool
			}{{"PUT", true}, {"DELETE", true}, {"GET", false}} {
				w := do(t, h, req.method, "/v1/kv/k", "v")
				e := wantStatus(t, w, tt.status, tt.code)
				if want := tt.writeIndef && req.write; e.Indefinite != want {
					t.Errorf("%s: indefinite %v, want %v", req.method, e.Indefinite, want)
				}
				if got := w.Header().Get("Retry-After") != ""; got != tt.retryAfter {
					t.Errorf("%s: Retry-After present %v, want %v", req.method, got, tt.retryAfter)
				}
			}
			w := do(t, h, "GET", "/v1/kv?prefix=a", "")
			if e := wantStatus(t, w, tt.status, tt.code); e.Indefinite {
				t.Errorf("range read: indefinite")
			}
		})
	}
	// A write that applied but whose answer was lost is indefinite.
	h, f := newTestHandler(t, nil)
	f.set(func(f *fakeStore) { f.applyErr = ErrIndeterminate })
	if e := wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "v"), 503, CodeIndeterminate); !e.Indefinite {
		t.Errorf("lost answer is not indefinite")
	}
}

// The request context bounds the wait: a store that never answers yields
// 504, indefinite for writes and definite for reads, within the timeout.
func TestRequestTimeout(t *testing.T) {
	h, f := newTestHandler(t, func(c *Config) { c.RequestTimeout = 20 * time.Millisecond })
	f.set(func(f *fakeStore) { f.wait = true })
	if e := wantStatus(t, do(t, h, "PUT", "/v1/kv/k", "v"), 504, CodeTimeout); !e.Indefinite {
		t.Errorf("timed-out write must be indefinite")
	}
	if e := wantStatus(t, do(t, h, "GET", "/v1/kv/k", ""), 504, CodeTimeout); e.Indefinite {
		t.Errorf("timed-out read must be definite")
	}
}

func TestStatusHealthReady(t *testing.T) {
	h, f := newTestHandler(t, nil)
	f.set(func(f *fakeStore) {
		f.status = Status{ID: 2, Role: "leader", Term: 7, Leader: 2, CommitIndex: 40, AppliedIndex: 39, LastIndex: 41,
			Peers: []PeerStatus{{ID: 1, Match: 40, Next: 42, State: "replicate", RecentActive: true, Inflight: 1}}}
		f.leaderID, f.leaderURL, f.hasLeader = 2, "http://127.0.0.1:2380", true
	})
	w := do(t, h, "GET", "/v1/status", "")
	wantStatus(t, w, 200, "")
	var st statusJSON
	decode(t, w, &st)
	if st.ID != 2 || st.Role != "leader" || st.Term != 7 || st.CommitIndex != 40 || st.AppliedIndex != 39 ||
		st.LeaderURL != "http://127.0.0.1:2380" || len(st.Peers) != 1 || st.Peers[0].Match != 40 || st.Peers[0].State != "replicate" {
		t.Errorf("status %+v", st)
	}
	for _, field := range []string{`"commit_index":40`, `"applied_index":39`, `"recent_active":true`, `"leader_url"`} {
		if !strings.Contains(w.Body.String(), field) {
			t.Errorf("status JSON lacks %s: %s", field, w.Body)
		}
	}
	wantStatus(t, do(t, h, "GET", "/healthz", ""), 200, "")
	wantStatus(t, do(t, h, "GET", "/readyz", ""), 200, "")

	f.set(func(f *fakeStore) { f.hasLeader = false; f.status = Status{ID: 2, Role: "candidate"} })
	wantStatus(t, do(t, h, "GET", "/healthz", ""), 200, "")
	w = do(t, h, "GET", "/readyz", "")
	wantStatus(t, w, 503, CodeUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Errorf("/readyz 503 without Retry-After")
	}
	w = do(t, h, "GET", "/v1/status", "")
	if !strings.Contains(w.Body.String(), `"peers":[]`) || strings.Contains(w.Body.String(), "leader_url") {
		t.Errorf("follower status: %s", w.Body)
	}
	wantStatus(t, do(t, h, "GET", "/v1/status?verbose=1", ""), 400, CodeInvalidQuery)
}
