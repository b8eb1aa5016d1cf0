package main

import (
	"strings"
	"testing"
)

func TestPutAndGet(t *testing.T) {
	c, eps := testCluster(t)
	c.SetLeader(1) // the first endpoint forwards
	code, out, errOut := runCmd(t, "put", "--endpoints", eps, "greeting", "hello world")
	if code != exitOK || out != "OK (version 1, revision 1)\n" {
		t.Fatalf("put: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "put", "-o", "json", "greeting", "--endpoints", eps, "hi")
	var w writeResultJSON
	mustJSON(t, out, &w)
	if code != exitOK || w.Key != "greeting" || w.Version != 2 || w.Revision != 2 || w.CreateRevision != 1 {
		t.Errorf("put -o json: exit %d, %+v", code, w)
	}
	code, out, _ = runCmd(t, "get", "--endpoints", eps, "greeting")
	if code != exitOK || out != "hi\n" {
		t.Errorf("get: exit %d, stdout %q", code, out)
	}
	code, out, _ = runCmd(t, "get", "--endpoints", eps, "-o", "json", "greeting")
	var g getJSON
	mustJSON(t, out, &g)
	if code != exitOK || g.Key != "greeting" || g.Value != "hi" || g.Version != 2 || g.ModRevision != 2 || g.Revision != 2 {
		t.Errorf("get -o json: exit %d, %+v", code, g)
	}
	if !strings.HasPrefix(out, "{\n  ") {
		t.Errorf("-o json is not indented: %q", out)
	}
}
