package main

import (
	"strings"
	"testing"
)

func TestGetMissingAndStale(t *testing.T) {
	t.Parallel()
	c, eps := testCluster(t)
	code, out, errOut := runCmd(t, "get", "--endpoints", eps, "nope")
	if code != exitFailed || out != "" || !strings.Contains(errOut, "not found") {
		t.Errorf("get of a missing key: exit %d, stdout %q, stderr %q; want exit 1 and a message", code, out, errOut)
	}
	code, out, _ = runCmd(t, "get", "--endpoints", eps, "-o", "json", "nope")
	var e errorJSON
	mustJSON(t, out, &e)
	if code != exitFailed || e.Code != "not_found" || e.Indefinite {
		t.Errorf("get -o json of a missing key: exit %d, %+v", code, e)
	}

	if code, _, errOut := runCmd(t, "put", "--endpoints", eps, "k", "v"); code != exitOK {
		t.Fatal(errOut)
	}
	// Without a leader, linearizable reads fail (after retries) and stale
	// reads still answer.
	c.SetLeader(-1)
	if code, out, errOut := runCmd(t, "get", "--endpoints", eps, "--stale", "k"); code != exitOK || out != "v\n" {
		t.Errorf("get --stale without a leader: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCmd(t, "get", "--endpoints", eps, "--timeout", "3s", "k")
	if code != exitUnavailable || !strings.Contains(errOut, "no leader") {
		t.Errorf("get without a leader: exit %d, stderr %q; want %d", code, errOut, exitUnavailable)
	}
}
