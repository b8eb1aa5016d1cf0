package main

import (
	"strings"
	"testing"
)

func TestCAS(t *testing.T) {
	_, eps := testCluster(t)
	run := func(args ...string) (int, string, string) {
		return runCmd(t, append([]string{"cas", "--endpoints", eps}, args...)...)
	}
	if code, out, errOut := run("--version", "0", "lock", "me"); code != exitOK || out != "OK (version 1, revision 1)\n" {
		t.Fatalf("create-only cas: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut := run("--version", "0", "lock", "you")
	if code != exitFailed || !strings.Contains(errOut, "version conflict") || !strings.Contains(errOut, "at version 1") {
		t.Errorf("cas conflict: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := run("-o", "json", "--version", "5", "lock", "you")
	var e errorJSON
	mustJSON(t, out, &e)
	if code != exitFailed || e.Code != "conflict" || e.CurrentVersion == nil || *e.CurrentVersion != 1 || e.Indefinite {
		t.Errorf("cas conflict -o json: exit %d, %+v", code, e)
	}
	if code, out, _ := run("--version", "1", "lock", "you"); code != exitOK || !strings.Contains(out, "version 2") {
		t.Errorf("cas at the right version: exit %d, %q", code, out)
	}
	if code, _, _ := run("--delete", "--version", "1", "lock"); code != exitFailed {
		t.Errorf("cas --delete at a stale version: exit %d", code)
	}
	if code, _, errOut := run("--delete", "--version", "2", "lock"); code != exitOK {
		t.Errorf("cas --delete: exit %d: %s", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"k", "v"}, "--version is required"},
		{[]string{"--version", "1", "k"}, "Usage: raftkv cas"},
		{[]string{"--version", "1", "--delete", "k", "v"}, "--delete takes a key and no value"},
		{[]string{"--version", "-1", "k", "v"}, "--version"},
	} {
		if code, _, errOut := run(tt.args...); code != exitUsage || !strings.Contains(errOut, tt.err) {
			t.Errorf("cas %q: exit %d, stderr %q; want usage error mentioning %q", tt.args, code, errOut, tt.err)
		}
	}
}
