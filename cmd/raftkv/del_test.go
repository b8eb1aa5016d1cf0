package main

import (
	"strings"
	"testing"
)

func TestDel(t *testing.T) {
	_, eps := testCluster(t)
	runCmd(t, "put", "--endpoints", eps, "k", "v")
	if code, out, errOut := runCmd(t, "del", "--endpoints", eps, "k"); code != exitOK || out != "OK (revision 2)\n" {
		t.Errorf("del: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut := runCmd(t, "del", "--endpoints", eps, "k")
	if code != exitFailed || !strings.Contains(errOut, "not found") {
		t.Errorf("del of a missing key: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "get", "--endpoints", eps, "k"); code != exitFailed {
		t.Errorf("get after del: exit %d", code)
	}
}
