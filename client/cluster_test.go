package client

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/httpapi/httpapitest"
)

// newCluster starts an in-memory cluster of n real API handlers.
func newCluster(t *testing.T, n int) *httpapitest.Cluster {
	t.Helper()
	c, err := httpapitest.NewCluster(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newClient returns a client for c with fast backoff.
func newClient(t *testing.T, c *httpapitest.Cluster, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoints: c.URLs(), MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// hangUp is an intercept that reads the request and closes the connection
// without an answer: to the client, a lost answer.
func hangUp(w http.ResponseWriter, r *http.Request) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
	return true
}

// answer returns an intercept that answers with a fixed status and body.
func answer(status int, body string) httpapitest.Intercept {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintln(w, body)
		return true
	}
}

// ids returns the exactly-once ids of a request.
func ids(r *http.Request) (uint64, uint64) {
	c, _ := strconv.ParseUint(r.Header.Get(headerClientID), 10, 64)
	q, _ := strconv.ParseUint(r.Header.Get(headerRequestID), 10, 64)
	return c, q
}
