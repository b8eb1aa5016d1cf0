package main

import (
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	_, eps := testCluster(t)
	for _, k := range []string{"a", "app/1", "app/2", "app/3", "b"} {
		if code, _, errOut := runCmd(t, "put", "--endpoints", eps, k, "v-"+k); code != exitOK {
			t.Fatal(errOut)
		}
	}
	scan := func(args ...string) (int, string, string) {
		return runCmd(t, append([]string{"scan", "--endpoints", eps}, args...)...)
	}
	for _, tt := range []struct {
		args []string
		out  string
		more bool
	}{
		{nil, "a\tv-a\napp/1\tv-app/1\napp/2\tv-app/2\napp/3\tv-app/3\nb\tv-b\n", false},
		{[]string{"--prefix", "app/"}, "app/1\tv-app/1\napp/2\tv-app/2\napp/3\tv-app/3\n", false},
		{[]string{"--prefix", "app/", "--limit", "2"}, "app/1\tv-app/1\napp/2\tv-app/2\n", true},
		{[]string{"--after", "app/2", "--end", "b"}, "app/3\tv-app/3\n", false},
		{[]string{"--start", "app/2", "--end", "b", "--stale"}, "app/2\tv-app/2\napp/3\tv-app/3\n", false},
		{[]string{"--prefix", "zzz"}, "", false},
	} {
		code, out, errOut := scan(tt.args...)
		if code != exitOK || out != tt.out || strings.Contains(errOut, "more keys") != tt.more {
			t.Errorf("scan %q: exit %d, stdout %q, stderr %q; want %q, more %v", tt.args, code, out, errOut, tt.out, tt.more)
		}
		if tt.more && !strings.Contains(errOut, `--after "app/2"`) {
			t.Errorf("scan %q: the note does not say how to continue: %q", tt.args, errOut)
		}
	}
	code, out, _ := scan("-o", "json", "--prefix", "app/", "--limit", "1")
	var s scanJSON
	mustJSON(t, out, &s)
	if code != exitOK || len(s.KVs) != 1 || s.KVs[0].Key != "app/1" || s.KVs[0].Value != "v-app/1" || !s.More || s.Revision != 5 {
		t.Errorf("scan -o json: exit %d, %+v", code, s)
	}
	_, out, _ = scan("-o", "json", "--prefix", "zzz")
	if !strings.Contains(out, `"kvs": []`) {
		t.Errorf("empty scan -o json has no empty list: %s", out)
	}
	for _, args := range [][]string{
		{"--prefix", "a", "--start", "b"},
		{"--prefix", "a", "--after", "b"},
		{"--start", "a", "--after", "b"},
		{"--limit", "-1"},
	} {
		if code, _, _ := scan(args...); code != exitUsage {
			t.Errorf("scan %q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
