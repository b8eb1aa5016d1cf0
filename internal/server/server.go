// Package server assembles one raftkv server: the write-ahead log, the KV
// state machine, the TCP peer transport, the node that drives the Raft core,
// and the HTTP API. It is the composition root, kept out of package main
// only so that `raftkv serve`, `raftkv playground` and the tests that start
// real clusters share one wiring. Only cmd/ and tests import it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkv/raftkv/internal/kv"
	"github.com/raftkv/raftkv/internal/node"
	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/transport/tcp"
	"github.com/raftkv/raftkv/internal/wal"
)

// Peer is one member of the cluster.
type Peer struct {
	ID uint64 `json:"id"`
	// PeerAddr is where the member listens for Raft traffic (host:port).
	PeerAddr string `json:"peer_addr"`
	// ClientURL is the base URL of the member's HTTP API, used to forward
	// requests to the leader.
	ClientURL string `json:"client_url"`
}

// Config configures a server. Zero values get the defaults noted.
type Config struct {
	// ID is this server's member ID (non-zero, listed in Peers).
	ID uint64 `json:"id"`
	// ClusterID is checked when peers connect, to catch misconfiguration.
	ClusterID string `json:"cluster_id"`
	// DataDir holds the write-ahead log and snapshots.
	DataDir string `json:"data_dir"`
	// PeerListen and ClientListen are the listen addresses (host:port);
	// they default to this member's PeerAddr and ClientURL's host.
	PeerListen   string `json:"peer_listen"`
	ClientListen string `json:"client_listen"`
	// Peers lists every member, this one included.
	Peers []Peer `json:"peers"`
	// TickInterval is the core's tick. Default 100ms.
	TickInterval time.Duration `json:"tick_interval"`
	// ElectionTicks and HeartbeatTicks: defaults 10 and 1 (one-second
	// election timeout, 100ms heartbeats).
	ElectionTicks  int `json:"election_ticks"`
	HeartbeatTicks int `json:"heartbeat_ticks"`
	// SnapshotEvery compacts the log after so many applied entries.
	// Default 10000.
	SnapshotEvery uint64 `json:"snapshot_every"`
	// LeaseReads serves linearizable reads from the leader's lease instead
	// of a ReadIndex round (faster; assumes bounded clock drift).
	LeaseReads bool `json:"lease_reads"`
	// RequestTimeout bounds each client request. Default 5s.
	RequestTimeout time.Duration `json:"request_timeout"`
	// MaxKeySize and MaxValueSize bound requests (defaults 4 KiB, 1 MiB).
	MaxKeySize   int `json:"max_key_size"`
	MaxValueSize int `json:"max_value_size"`
	// Logger receives structured logs; nil discards.
	Logger *slog.Logger `json:"-"`
}

func (c *Config) normalize() error {
	if c.ID == 0 {
		return errors.New("server: id must be set and non-zero")
	}
	if c.DataDir == "" {
		return errors.New("server: data dir must be set")
	}
	if len(c.Peers) == 0 {
		return errors.New("server: the peer list is empty")
	}
	seen := map[uint64]bool{}
	var self *Peer
	for i := range c.Peers {
		p := &c.Peers[i]
		if p.ID == 0 || p.PeerAddr == "" || p.ClientURL == "" {
			return fmt.Errorf("server: peer %d needs an id, a peer address and a client URL", i+1)
		}
		if seen[p.ID] {
			return fmt.Errorf("server: peer id %d listed twice", p.ID)
		}
		seen[p.ID] = true
		if p.ID == c.ID {
			self = p
		}
	}
	if self == nil {
		return fmt.Errorf("server: id %d is not in the peer list", c.ID)
	}
	if c.PeerListen == "" {
		c.PeerListen = self.PeerAddr
	}
	if c.ClientListen == "" {
		host, err := hostPort(self.ClientURL)
		if err != nil {
			return fmt.Errorf("server: client URL of %d: %w", c.ID, err)
		}
		c.ClientListen = host
	}
	if c.ClusterID == "" {
		c.ClusterID = "raftkv"
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 10000
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MaxKeySize == 0 {
		c.MaxKeySize = kv.MaxKeySize
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = kv.MaxValueSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Server is one running raftkv member.
type Server struct {
	cfg   Config
	log   *slog.Logger
	wal   *wal.WAL
	sm    *kvMachine
	tr    *tcp.Transport
	node  *node.Node
	http  *http.Server
	hl    net.Listener
	peers map[uint64]Peer

	runErr  error
	done    chan struct{}
	stopped atomic.Bool
	once    sync.Once
}

// Start opens the data directory, recovers, and starts serving. It returns
// once the server listens on both addresses.
func Start(cfg Config) (*Server, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.ID)
	s := &Server{cfg: cfg, log: log, peers: map[uint64]Peer{}, done: make(chan struct{})}
	for _, p := range cfg.Peers {
		s.peers[p.ID] = p
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	w, st, err := wal.Open(filepath.Join(cfg.DataDir, "wal"), wal.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("server: open write-ahead log in %s: %w", cfg.DataDir, err)
	}
	s.wal = w
	s.sm = &kvMachine{s: kv.New(kv.Config{})}
	state := raft.State{HardState: st.HardState, Entries: st.Entries}
	if st.Snapshot.Index > 0 {
		snap, err := w.LoadSnapshot()
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("server: load snapshot: %w", err)
		}
		if err := s.sm.Restore(snap.Data); err != nil {
			w.Close()
			return nil, fmt.Errorf("server: restore snapshot %d: %w", snap.Meta.Index, err)
		}
		state.Snapshot = &snap
	}
	log.Info("recovered", "term", st.HardState.Term, "commit", st.HardState.Commit,
		"snapshot", st.Snapshot.Index, "entries", len(st.Entries))

	// The transport delivers to the node, which needs the transport: the
	// handler looks the node up once it exists.
	var nd atomic.Pointer[node.Node]
	peerAddrs := map[uint64]string{}
	ids := make([]uint64, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		ids = append(ids, p.ID)
		if p.ID != cfg.ID {
			peerAddrs[p.ID] = p.PeerAddr
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	tr, err := tcp.New(tcp.Config{
		ID: cfg.ID, ClusterID: cfg.ClusterID, ListenAddr: cfg.PeerListen, Peers: peerAddrs, Logger: log,
		Handler: func(m raft.Message) {
			if n := nd.Load(); n != nil {
				n.Step(m)
			}
		},
		OnUnreachable: func(id uint64) {
			if n := nd.Load(); n != nil {
				n.ReportUnreachable(id)
			}
		},
		OnSnapshotStatus: func(id uint64, ok bool) {
			if n := nd.Load(); n != nil {
				n.ReportSnapshot(id, ok)
			}
		},
		Seed: uint64(time.Now().UnixNano()),
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("server: transport: %w", err)
	}
	s.tr = tr
	n, err := node.NewNode(node.NodeConfig{
		Driver: node.Config{
			Raft: raft.Config{
				ID: cfg.ID, Peers: ids, ElectionTick: cfg.ElectionTicks, HeartbeatTick: cfg.HeartbeatTicks,
				PreVote: true, CheckQuorum: true, MaxUncommittedBytes: 64 << 20,
			},
			Storage: walStorage{w: w}, Transport: tr, StateMachine: s.sm, Listener: nopListener{},
			SnapshotEvery: cfg.SnapshotEvery, Logger: log,
		},
		State: state, TickInterval: cfg.TickInterval, Logger: log,
	})
	if err != nil {
		tr.Close()
		w.Close()
		return nil, fmt.Errorf("server: node: %w", err)
	}
	s.node = n
	nd.Store(n)
	if err := tr.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: listen for peers on %s: %w", cfg.PeerListen, err)
	}
	hl, err := net.Listen("tcp", cfg.ClientListen)
	if err != nil {
		tr.Close()
		w.Close()
		return nil, fmt.Errorf("server: listen for clients on %s: %w", cfg.ClientListen, err)
	}
	s.hl = hl
	handler, err := s.httpHandler()
	if err != nil {
		hl.Close()
		tr.Close()
		w.Close()
		return nil, err
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := n.Run()
		s.runErr = err
		close(s.done)
		if err != nil {
			log.Error("node stopped", "err", err)
		}
	}()
	go func() {
		if err := s.http.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("serving", "peer", tr.Addr().String(), "client", hl.Addr().String())
	return s, nil
}

// ClientAddr returns the address the HTTP API listens on.
func (s *Server) ClientAddr() string { return s.hl.Addr().String() }

// Done is closed when the node stops, by Stop or by a fatal error.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the fatal error that stopped the node, if any: a storage
// failure, after which the process must exit.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.runErr
	default:
		return nil
	}
}

// Stop shuts the server down: no new requests, in-flight ones answered or
// failed, the node stopped, the log closed.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stopped.Store(true)
		if e := s.http.Shutdown(ctx); e != nil {
			err = errors.Join(err, fmt.Errorf("server: http shutdown: %w", e))
		}
		s.node.Stop()
		if e := s.tr.Close(); e != nil {
			err = errors.Join(err, fmt.Errorf("server: transport close: %w", e))
		}
		if e := s.wal.Close(); e != nil && !errors.Is(e, wal.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("server: wal close: %w", e))
		}
	})
	return err
}

type nopListener struct{}

func (nopListener) Applied(raft.Entry, any, bool)   {}
func (nopListener) ReadReady(uint64)                {}
func (nopListener) SoftStateChanged(raft.SoftState) {}

func hostPort(rawURL string) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host in %q", rawURL)
	}
	return u.Host, nil
}
