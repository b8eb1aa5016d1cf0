package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the raftkv program built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raftkv-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "raftkv")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/raftkv")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build raftkv:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is a set of `raftkv serve` processes on loopback.
type cluster struct {
	t     *testing.T
	dir   string
	ids   []uint64
	peers []string // --peer flags
	urls  map[uint64]string
	extra []string // extra serve flags
	mu    sync.Mutex
	procs map[uint64]*proc
	http  *http.Client
	// clientID and seq identify this test's writes for safe retries.
	clientID uint64
	seq      uint64
}

type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), urls: map[uint64]string{}, procs: map[uint64]*proc{}, extra: extra,
		http: &http.Client{Timeout: 10 * time.Second}, clientID: uint64(time.Now().UnixNano())}
	for i := 1; i <= n; i++ {
		id := uint64(i)
		c.ids = append(c.ids, id)
		c.urls[id] = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		c.peers = append(c.peers, fmt.Sprintf("%d=127.0.0.1:%d,%s", id, freePort(t), c.urls[id]))
	}
	for _, id := range c.ids {
		c.start(id)
	}
	t.Cleanup(c.killAll)
	return c
}

func (c *cluster) dataDir(id uint64) string { return filepath.Join(c.dir, fmt.Sprintf("node%d", id)) }

func (c *cluster) start(id uint64) {
	c.t.Helper()
	args := []string{"serve", "--id", fmt.Sprint(id), "--data-dir", c.dataDir(id), "--log-level", "warn",
		"--tick", "50ms", "--election-ticks", "10"}
	for _, p := range c.peers {
		args = append(args, "--peer", p)
	}
	args = append(args, c.extra...)
	cmd := exec.Command(binary, args...)
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// kill sends SIGKILL and waits for the process to die.
func (c *cluster) kill(id uint64) {
	c.mu.Lock()
	p := c.procs[id]
	delete(c.procs, id)
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (c *cluster) killAll() {
	for _, id := range c.ids {
		c.kill(id)
	}
}

// exited waits for node id to exit on its own and returns its exit code
// and standard error.
func (c *cluster) exited(id uint64, within time.Duration) (int, string, bool) {
	c.mu.Lock()
	p := c.procs[id]
	c.mu.Unlock()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), p.stderr.String(), true
	case <-time.After(within):
		return 0, "", false
	}
}

type status struct {
	ID       uint64 `json:"id"`
	Role     string `json:"role"`
	Term     uint64 `json:"term"`
	Leader   uint64 `json:"leader"`
	Commit   uint64 `json:"commit_index"`
	Applied  uint64 `json:"applied_index"`
	Last     uint64 `json:"last_index"`
	Snapshot uint64 `json:"snapshot_index"`
}

func (c *cluster) status(id uint64) (status, error) {
	var st status
	resp, err := c.http.Get(c.urls[id] + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitFor polls cond until it holds or the deadline passes.
func (c *cluster) waitFor(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	c.t.Fatalf("%s: not within %s", what, within)
}

// leader waits until a running node reports itself leader.
func (c *cluster) leader() uint64 {
	c.t.Helper()
	var l uint64
	c.waitFor("a leader is elected", 20*time.Second, func() bool {
		c.mu.Lock()
		var running []uint64
		for id := range c.procs {
			running = append(running, id)
		}
		c.mu.Unlock()
		for _, id := range running {
			if st, err := c.status(id); err == nil && st.Role == "leader" {
				l = id
				return true
			}
		}
		return false
	})
	return l
}

// put writes key=value through node id, retrying with the same request id
// (safe: the state machine applies it once) until it is acknowledged.
func (c *cluster) put(id uint64, key, value string) error {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	var last error
	for attempt := 0; attempt < 50; attempt++ {
		req, _ := http.NewRequest(http.MethodPut, c.urls[id]+"/v1/kv/"+key, strings.NewReader(value))
		req.Header.Set("Raftkv-Client-Id", fmt.Sprint(c.clientID))
		req.Header.Set("Raftkv-Request-Id", fmt.Sprint(seq))
		resp, err := c.http.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("put %s: %d %s", key, resp.StatusCode, body)
			if resp.StatusCode < 500 {
				return last
			}
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond) // back off before retrying the same request
	}
	return last
}

func (c *cluster) get(id uint64, key string) (string, int, error) {
	resp, err := c.http.Get(c.urls[id] + "/v1/kv/" + key)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var kv struct {
		Value string `json:"value"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&kv); err != nil {
		return "", resp.StatusCode, err
	}
	return kv.Value, resp.StatusCode, nil
}

// checkAll reads every acknowledged key through node id.
func (c *cluster) checkAll(id uint64, acked map[string]string) {
	c.t.Helper()
	for k, want := range acked {
		var got string
		var code int
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			got, code, err = c.get(id, k)
			if err == nil && code == http.StatusOK {
				break
			}
			time.Sleep(100 * time.Millisecond) // no leader yet: retry
		}
		if err != nil || code != http.StatusOK || got != want {
			c.t.Fatalf("acknowledged write %s=%q reads back %q (status %d, err %v)", k, want, got, code, err)
		}
	}
}
