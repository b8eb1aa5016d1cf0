package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// A 3-node cluster takes writes; its leader is killed with SIGKILL; writes
// go on; the old leader restarts and catches up; every acknowledged write is
// readable, from every node.
func TestLeaderKilledWritesContinue(t *testing.T) {
	c := newCluster(t, 3)
	acked := map[string]string{}
	l := c.leader()
	for i := 0; i < 50; i++ {
		k, v := fmt.Sprintf("a%03d", i), fmt.Sprintf("v%d", i)
		if err := c.put(l, k, v); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
	c.kill(l)
	l2 := c.leader()
	if l2 == l {
		t.Fatalf("killed node %d still leads", l)
	}
	for i := 0; i < 50; i++ {
		k, v := fmt.Sprintf("b%03d", i), fmt.Sprintf("w%d", i)
		if err := c.put(l2, k, v); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
	c.start(l)
	leaderSt, _ := c.status(l2)
	c.waitFor("the old leader catches up", 20*time.Second, func() bool {
		st, err := c.status(l)
		return err == nil && st.Applied >= leaderSt.Commit
	})
	for _, id := range c.ids {
		c.checkAll(id, acked)
	}
}

// A full-cluster restart keeps every acknowledged write.
func TestFullClusterRestart(t *testing.T) {
	c := newCluster(t, 3)
	acked := map[string]string{}
	l := c.leader()
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("v%d", i)
		if err := c.put(l, k, v); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
	c.killAll()
	for _, id := range c.ids {
		c.start(id)
	}
	c.checkAll(c.leader(), acked)
}

// A node down during 10,000 writes comes back through a snapshot: the
// leader has compacted its log far past the node's last entry.
func TestLaggingNodeCatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, "--snapshot-every", "1000")
	l := c.leader()
	down := c.ids[0]
	if down == l {
		down = c.ids[1]
	}
	c.kill(down)
	// The workers share one client session, which must open with request
	// 1 before any later request applies (kv: sessions start at 1): send
	// it alone first, or a worker's request 2 may win the race to the log.
	if err := c.put(l, "session-open", "1"); err != nil {
		t.Fatal(err)
	}
	const writes, workers = 10000, 32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < writes; i += workers {
				if err := c.put(l, fmt.Sprintf("s%05d", i), fmt.Sprint(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := c.status(l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Snapshot < 5000 {
		t.Fatalf("leader's log not compacted: snapshot at %d after %d writes", st.Snapshot, writes)
	}
	c.start(down)
	c.waitFor("the lagging node catches up", 60*time.Second, func() bool {
		s, err := c.status(down)
		return err == nil && s.Applied >= st.Commit
	})
	s, _ := c.status(down)
	if s.Snapshot == 0 {
		t.Fatalf("node caught up without installing a snapshot: %+v", s)
	}
	for _, i := range []int{0, 1, 4999, 9998, 9999} {
		resp, err := http.Get(c.urls[down] + fmt.Sprintf("/v1/kv/s%05d?stale=true", i))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stale read of s%05d on the caught-up node: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
}

// lastSegment returns node id's newest write-ahead log segment.
func lastSegment(t *testing.T, c *cluster, id uint64) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(c.dataDir(id), "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments for node %d: %v", id, err)
	}
	sort.Strings(segs)
	return segs[len(segs)-1]
}

// dataEnd returns the offset just past the last non-zero byte: the end of
// what was written into a preallocated segment.
func dataEnd(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// A torn last record is truncated on recovery; the node rejoins and no
// acknowledged write is lost.
func TestTornTailIsTruncated(t *testing.T) {
	c := newCluster(t, 3)
	acked := map[string]string{}
	l := c.leader()
	for i := 0; i < 30; i++ {
		k, v := fmt.Sprintf("t%02d", i), strings.Repeat("x", 100)
		if err := c.put(l, k, v); err != nil {
			t.Fatal(err)
		}
		acked[k] = v
	}
	victim := c.ids[0]
	c.killAll()
	seg := lastSegment(t, c, victim)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	end := dataEnd(b)
	// Tear the last record: its final bytes never reached the disk.
	for i := end - 5; i < end; i++ {
		b[i] = 0
	}
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.ids {
		c.start(id)
	}
	if code, stderr, exited := c.exited(victim, 3*time.Second); exited {
		t.Fatalf("node with a torn tail exited with %d: %s", code, stderr)
	}
	c.checkAll(victim, acked)
}

// A damaged record before the tail stops the node with an error naming the
// file and the offset; it does not start on a log it cannot trust.
func TestMidLogCorruptionRefusesToStart(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	for i := 0; i < 30; i++ {
		if err := c.put(l, fmt.Sprintf("m%02d", i), strings.Repeat("y", 100)); err != nil {
			t.Fatal(err)
		}
	}
	victim := c.ids[1]
	c.killAll()
	seg := lastSegment(t, c, victim)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	end := dataEnd(b)
	// Flip a byte in the middle of the written data: valid records follow.
	mid := end / 2
	b[mid] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(victim)
	code, stderr, exited := c.exited(victim, 10*time.Second)
	if !exited {
		t.Fatal("node started on a log with a damaged record before its tail")
	}
	if code != 3 {
		t.Fatalf("exit code %d, want 3; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, filepath.Base(seg)) || !strings.Contains(stderr, "offset") {
		t.Fatalf("error does not name the file and offset:\n%s", stderr)
	}
	t.Logf("refused to start: %s", strings.TrimSpace(stderr))
}

// Bad input gets the right status and a JSON error, and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	if err := c.put(l, "keep", "me"); err != nil {
		t.Fatal(err)
	}
	before, _ := c.status(l)
	cases := []struct {
		name, method, path, ctype string
		body                      string
		want                      int
		ifVersion                 string
	}{
		{"malformed JSON", http.MethodPut, "/v1/kv/j", "application/json", `{"value": `, http.StatusBadRequest, ""},
		{"wrong JSON type", http.MethodPut, "/v1/kv/j", "application/json", `{"value": 5}`, http.StatusBadRequest, ""},
		{"empty key", http.MethodPut, "/v1/kv/", "", "v", http.StatusBadRequest, ""},
		{"oversized value", http.MethodPut, "/v1/kv/big", "", strings.Repeat("z", 1<<20+1), http.StatusRequestEntityTooLarge, ""},
		{"oversized key", http.MethodPut, "/v1/kv/" + strings.Repeat("k", 4097), "", "v", http.StatusRequestEntityTooLarge, ""},
		{"bad version", http.MethodPut, "/v1/kv/keep", "", "v", http.StatusBadRequest, "abc"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, c.urls[l]+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		if tc.ifVersion != "" {
			req.Header.Set("If-Version", tc.ifVersion)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("%s: error body is %q, not JSON", tc.name, ct)
		}
	}
	after, _ := c.status(l)
	if after.Commit != before.Commit {
		t.Fatalf("bad requests changed the log: commit %d -> %d", before.Commit, after.Commit)
	}
	if v, code, _ := c.get(l, "keep"); code != http.StatusOK || v != "me" {
		t.Fatalf("existing key changed: %q (%d)", v, code)
	}
}
