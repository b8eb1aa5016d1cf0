package main

import (
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	c, eps := testCluster(t)
	c.SetLeader(1)
	runCmd(t, "put", "--endpoints", eps, "k", "v")
	dead := deadEndpoint(t)
	all := eps + "," + dead
	code, out, errOut := runCmd(t, "status", "--endpoints", all)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"ENDPOINT", c.Node(1).URL() + "  2   leader", "follower", dead, "unreachable",
		"Replication, as leader 2 sees it:", "replicate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd(t, "status", "--endpoints", all, "-o", "json")
	var nodes []nodeStatusJSON
	mustJSON(t, out, &nodes)
	if code != exitOK || len(nodes) != 4 || nodes[1].Status == nil || nodes[1].Status.Role != "leader" ||
		nodes[1].Status.CommitIndex != 1 || nodes[3].Error == "" || nodes[3].Status != nil || nodes[3].Endpoint != dead {
		t.Errorf("status -o json: exit %d\n%s", code, out)
	}
	code, _, errOut = runCmd(t, "status", "--endpoints", dead)
	if code != exitUnavailable || !strings.Contains(errOut, "no node answered") {
		t.Errorf("status with no node up: exit %d, stderr %q", code, errOut)
	}
}
