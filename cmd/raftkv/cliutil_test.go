package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/client"
	"github.com/raftkv/raftkv/internal/httpapi/httpapitest"
)

// testCluster starts an in-memory three-node cluster behind real API
// handlers and returns it with the --endpoints value that reaches it.
func testCluster(t *testing.T) (*httpapitest.Cluster, string) {
	t.Helper()
	c, err := httpapitest.NewCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, strings.Join(c.URLs(), ",")
}

// deadEndpoint is an address nothing listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// mustJSON parses a command's -o json output.
func mustJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("-o json output is not JSON: %v\n%s", err, out)
	}
}

func TestClientCommandUsage(t *testing.T) {
	_, eps := testCluster(t)
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"put", "--help"}, exitOK, "Exit status"},
		{[]string{"get", "-h"}, exitOK, "--stale"},
		{[]string{"scan", "--help"}, exitOK, "--after"},
		{[]string{"cas", "--help"}, exitOK, "--version"},
		{[]string{"status", "--help"}, exitOK, "-endpoints URLs"},
		{[]string{"del", "--help"}, exitOK, "RAFTKV_ENDPOINTS"},
		{[]string{"put", "k"}, exitUsage, "Usage: raftkv put"},
		{[]string{"put", "k", "v", "extra"}, exitUsage, "Usage: raftkv put"},
		{[]string{"get"}, exitUsage, "Usage: raftkv get"},
		{[]string{"del", "a", "b"}, exitUsage, "Usage: raftkv del"},
		{[]string{"scan", "x"}, exitUsage, "Usage: raftkv scan"},
		{[]string{"status", "x"}, exitUsage, "Usage: raftkv status"},
		{[]string{"get", "-o", "xml", "k"}, exitUsage, "-o must be text or json"},
		{[]string{"get", "--timeout", "0s", "k"}, exitUsage, "--timeout must be positive"},
		{[]string{"get", "--timeout", "soon", "k"}, exitUsage, "flag -timeout"},
		{[]string{"get", "--endpoints", " , ", "k"}, exitUsage, "--endpoints is empty"},
		{[]string{"get", "--endpoints", "ftp://x", "k"}, exitUsage, "ftp://x"},
		{[]string{"get", "--bogus", "k"}, exitUsage, "bogus"},
		{[]string{"put", "--endpoints", eps, "", "v"}, exitUsage, "keys are 1 or more bytes"},
	} {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("raftkv %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errOut, tt.code, tt.err)
		}
	}
	code, out, _ := runCmd(t, "--help")
	for _, name := range []string{"put", "get", "del", "scan", "cas", "status"} {
		if code != exitOK || !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("raftkv --help does not list %s:\n%s", name, out)
		}
	}
}

// "--" ends the flags, so keys and values may begin with "-".
func TestDoubleDash(t *testing.T) {
	_, eps := testCluster(t)
	if code, out, errOut := runCmd(t, "put", "--endpoints", eps, "--", "-k", "-v"); code != exitOK {
		t.Fatalf("put -- -k -v: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, "get", "--endpoints", eps, "--", "-k"); code != exitOK || out != "-v\n" {
		t.Fatalf("get -- -k: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	x := fs.Bool("x", false, "")
	pos, _, ok := parseCLIArgs(fs, []string{"a", "-x", "--", "-x", "--", "b"})
	if !ok || !*x || !slices.Equal(pos, []string{"a", "-x", "--", "b"}) {
		t.Errorf("parseCLIArgs: %q, x=%v, ok=%v", pos, *x, ok)
	}
}

// The default endpoints come from RAFTKV_ENDPOINTS.
func TestEndpointsFromEnvironment(t *testing.T) {
	_, eps := testCluster(t)
	t.Setenv(envEndpoints, eps)
	if code, _, errOut := runCmd(t, "put", "k", "v"); code != exitOK {
		t.Fatalf("put with $%s: exit %d: %s", envEndpoints, code, errOut)
	}
}

func TestUnreachableAndIndefinite(t *testing.T) {
	t.Parallel()
	dead := deadEndpoint(t)
	code, _, errOut := runCmd(t, "put", "--endpoints", dead, "--timeout", "1s", "k", "v")
	if code != exitUnavailable || !strings.Contains(errOut, "connection refused") || !strings.Contains(errOut, "raftkv status") {
		t.Errorf("unreachable: exit %d, stderr %q; want %d with a hint", code, errOut, exitUnavailable)
	}
	if strings.Contains(errOut, "may have applied") {
		t.Errorf("a write that never reached a node is reported as maybe applied: %s", errOut)
	}

	c, eps := testCluster(t)
	for i := range 3 {
		c.SetIntercept(i, func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		})
	}
	code, out, errOut := runCmd(t, "put", "--endpoints", eps, "--timeout", "1s", "-o", "json", "k", "v")
	if code != exitIndefinite || !strings.Contains(errOut, "read the key back") {
		t.Errorf("lost answers: exit %d, stderr %q; want %d with advice", code, errOut, exitIndefinite)
	}
	var e errorJSON
	mustJSON(t, out, &e)
	if !e.Indefinite || e.Error == "" {
		t.Errorf("-o json error %+v", e)
	}
	// A read that loses its answers is unavailable, never indefinite.
	if code, _, _ := runCmd(t, "get", "--endpoints", eps, "--timeout", "1s", "k"); code != exitUnavailable {
		t.Errorf("read with lost answers: exit %d, want %d", code, exitUnavailable)
	}
}

func TestExitCodeFor(t *testing.T) {
	bg := context.Background()
	canceled, cancel := context.WithCancel(bg)
	cancel()
	for _, tt := range []struct {
		ctx  context.Context
		err  error
		code int
	}{
		{bg, nil, exitOK},
		{bg, &client.Error{Err: client.ErrNotFound}, exitFailed},
		{bg, &client.Error{Err: client.ErrConflict}, exitFailed},
		{bg, &client.Error{Err: client.ErrRejected}, exitUsage},
		{bg, &client.Error{Err: client.ErrUnavailable}, exitUnavailable},
		{bg, &client.Error{Err: client.ErrUnavailable, Indefinite: true}, exitIndefinite},
		{bg, &client.Error{Err: client.ErrSessionLost, Indefinite: true}, exitIndefinite},
		{bg, &client.Error{Cause: context.DeadlineExceeded}, exitUnavailable},
		{canceled, &client.Error{Cause: context.Canceled, Indefinite: true}, exitInterrupted},
		{bg, errors.New("other"), exitUnavailable},
	} {
		if got := exitCodeFor(tt.ctx, tt.err); got != tt.code {
			t.Errorf("exitCodeFor(%v) = %d, want %d", tt.err, got, tt.code)
		}
	}
}
