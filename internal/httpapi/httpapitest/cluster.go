// Package httpapitest runs in-memory raftkv "clusters" behind real
// httpapi handlers and HTTP servers, for testing what talks to the API (the
// Go client, the CLI) without Raft, disks or timing.
//
// All nodes share one kv.Store. One node is the leader (or none); the
// others answer httpapi.ErrNotLeader, so the handlers forward exactly as in
// production. Writes apply at once. Tests steer the cluster (SetLeader,
// HoldWrites, StopNode) and inject failures per node with SetIntercept.
package httpapitest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/raftkv/raftkv/internal/httpapi"
	"github.com/raftkv/raftkv/internal/kv"
	"github.com/raftkv/raftkv/internal/raft"
)

// Intercept sees a request before the node's handler. Returning true means
// it answered the request itself (or hung up).
type Intercept func(w http.ResponseWriter, r *http.Request) bool

// Cluster is a set of nodes over one state machine. Its methods are safe
// for concurrent use.
type Cluster struct {
	mu    sync.Mutex
	sm    *kv.Store
	index uint64
	// leader is the index of the leading node, -1 for none.
	leader int
	nodes  []*Node
	// applied holds the (client id, request id) of every write applied
	// (duplicates and failures excluded), in order.
	applied [][2]uint64
	// inFlight and maxInFlight count concurrent proposals on the leader.
	inFlight, maxInFlight int
	// gate, when set, holds every proposal until it is closed or the
	// proposal's context ends.
	gate chan struct{}
}

// Node is one member: an httpapi.Handler over a Store view of the cluster,
// served by an httptest.Server.
type Node struct {
	c         *Cluster
	i         int
	h         *httpapi.Handler
	srv       *httptest.Server
	intercept Intercept
	hits      int
}

// NewCluster starts n nodes; node 0 leads. Close stops them.
func NewCluster(n int) (*Cluster, error) {
	c := &Cluster{sm: kv.New(kv.Config{}), leader: 0}
	for i := range n {
		nd := &Node{c: c, i: i}
		h, err := httpapi.New(httpapi.Config{Store: store{nd}, NodeID: uint64(i + 1)})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("httpapitest: node %d: %w", i+1, err)
		}
		nd.h = h
		nd.srv = httptest.NewServer(http.HandlerFunc(nd.serve))
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	n.hits++
	icpt := n.intercept
	n.c.mu.Unlock()
	if icpt != nil && icpt(w, r) {
		return
	}
	n.h.ServeHTTP(w, r)
}

// Close stops every node's server.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.srv.Close()
		n.h.Close()
	}
}

// URLs returns the nodes' client URLs, in node order.
func (c *Cluster) URLs() []string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, n.srv.URL)
	}
	return u
}

// Node returns node i (0-based; its Raft ID is i+1).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// URL is the node's client URL.
func (n *Node) URL() string { return n.srv.URL }

// Handler is the node's API handler, for intercepts that want to serve a
// request and then misbehave.
func (n *Node) Handler() http.Handler { return n.h }

// Stop closes the node's server: later connections are refused.
func (n *Node) Stop() { n.srv.Close() }

// SetLeader makes node i the leader; -1 means no leader (an election).
func (c *Cluster) SetLeader(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = i
}

// SetIntercept installs (or, with nil, removes) node i's intercept.
func (c *Cluster) SetIntercept(i int, f Intercept) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[i].intercept = f
}

// Hits counts the requests that reached node i, forwarded ones included.
func (c *Cluster) Hits(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].hits
}

// Revision is the state machine's revision: how many writes changed it.
func (c *Cluster) Revision() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sm.Revision()
}

// Applied returns the (client id, request id) of each write applied so
// far, in order, retries answered from the session cache excluded.
func (c *Cluster) Applied() [][2]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][2]uint64(nil), c.applied...)
}

// MaxInFlight is the largest number of proposals the leader held at once.
func (c *Cluster) MaxInFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxInFlight
}

// HoldWrites makes proposals wait until release is called (or their
// request's context ends, which answers 504 timeout).
func (c *Cluster) HoldWrites() (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gate := make(chan struct{})
	c.gate = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.gate = nil
			c.mu.Unlock()
			close(gate)
		})
	}
}

// store is a node's httpapi.Store view of the cluster.
type store struct{ n *Node }

func (s store) Propose(ctx context.Context, cmd kv.Command, clientID, requestID uint64) (kv.Result, error) {
	c := s.n.c
	c.mu.Lock()
	if c.leader != s.n.i {
		c.mu.Unlock()
		return kv.Result{}, fmt.Errorf("node %d: %w", s.n.i+1, httpapi.ErrNotLeader)
	}
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	gate := c.gate
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return kv.Result{}, fmt.Errorf("node %d: %w: %w", s.n.i+1, httpapi.ErrTimeout, ctx.Err())
		}
	}
	data, err := kv.EncodeCommand(cmd)
	if err != nil {
		return kv.Result{}, fmt.Errorf("node %d: %w", s.n.i+1, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	res := c.sm.Apply(raft.Entry{Term: 1, Index: c.index, Type: raft.EntryNormal, ClientID: clientID, RequestID: requestID, Data: data})
	if res.Err == nil && !res.Duplicate {
		c.applied = append(c.applied, [2]uint64{clientID, requestID})
	}
	return res, nil
}

func (s store) Read(ctx context.Context, stale bool, fn func(*kv.Store)) error {
	c := s.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !stale && c.leader != s.n.i {
		return fmt.Errorf("node %d: %w", s.n.i+1, httpapi.ErrNotLeader)
	}
	fn(c.sm)
	return nil
}

func (s store) Status() httpapi.Status {
	c := s.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := httpapi.Status{ID: uint64(s.n.i + 1), Role: "follower", Term: 2, CommitIndex: c.index, AppliedIndex: c.index, LastIndex: c.index}
	if c.leader >= 0 {
		st.Leader = uint64(c.leader + 1)
	}
	if c.leader == s.n.i {
		st.Role = "leader"
		for j := range c.nodes {
			if j != s.n.i {
				st.Peers = append(st.Peers, httpapi.PeerStatus{ID: uint64(j + 1), Match: c.index, Next: c.index + 1, State: "replicate", RecentActive: true})
			}
		}
	}
	return st
}

func (s store) Leader() (uint64, string, bool) {
	c := s.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader < 0 {
		return 0, "", false
	}
	return uint64(c.leader + 1), c.nodes[c.leader].srv.URL, true
}
