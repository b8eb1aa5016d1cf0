package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzWrite throws arbitrary keys, bodies, headers and queries at PUT and
// DELETE: the handler must never panic, must answer JSON with a known
// status, and must reach the store only with a valid command.
func FuzzWrite(f *testing.F) {
	f.Add(true, "k", "v", "", "", "", "", "")
	f.Add(true, "a/b", `{"value":"x"}`, "application/json", "0", "1", "1", "encoding=base64")
	f.Add(false, "k", "", "", "3", "", "", "")
	f.Add(true, "", `{"value":`, "application/json; charset=utf-8", "x", "0", "", "stale=1")
	f.Fuzz(func(t *testing.T, put bool, key, body, contentType, ifVersion, clientID, requestID, rawQuery string) {
		h, fs := newTestHandler(t, func(c *Config) { c.MaxKeySize, c.MaxValueSize = 64, 256 })
		method := http.MethodDelete
		if put {
			method = http.MethodPut
		}
		r := httptest.NewRequest(method, "/v1/kv/", strings.NewReader(body))
		r.URL.Path = "/v1/kv/" + key
		r.URL.RawPath = ""
		r.URL.RawQuery = rawQuery
		for name, v := range map[string]string{"Content-Type": contentType, HeaderIfVersion: ifVersion,
			HeaderClientID: clientID, HeaderRequestID: requestID} {
			if v != "" {
				r.Header.Set(name, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 404, 409, 410, 413:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("answer is not JSON: %q", w.Header().Get("Content-Type"))
		}
		if w.Code == 400 || w.Code == 413 {
			if n := fs.proposalCount(); n != 0 {
				t.Fatalf("rejected request (%d %s) reached the store", w.Code, w.Body)
			}
			return
		}
		p := fs.lastProposal()
		if err := p.cmd.Validate(); err != nil {
			t.Fatalf("invalid command proposed: %v", err)
		}
		if want, _ := url.PathUnescape(url.PathEscape(key)); p.cmd.Key != want {
			t.Fatalf("proposed key %q, want %q", p.cmd.Key, want)
		}
	})
}
