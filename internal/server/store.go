package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/raftkv/raftkv/internal/httpapi"
	"github.com/raftkv/raftkv/internal/kv"
	"github.com/raftkv/raftkv/internal/node"
	"github.com/raftkv/raftkv/internal/raft"
)

// store implements httpapi.Store over the node and the state machine.
type store struct{ s *Server }

func (s *Server) httpHandler() (http.Handler, error) {
	h, err := httpapi.New(httpapi.Config{
		Store: store{s}, NodeID: s.cfg.ID, Logger: s.log,
		MaxKeySize: s.cfg.MaxKeySize, MaxValueSize: s.cfg.MaxValueSize, RequestTimeout: s.cfg.RequestTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("server: http api: %w", err)
	}
	if err := s.registerMetrics(h.Registry()); err != nil {
		return nil, err
	}
	return h, nil
}

// Propose stamps the leader's clock into the command (the state machine's
// only notion of time, for session expiry) and replicates it.
func (st store) Propose(ctx context.Context, cmd kv.Command, clientID, requestID uint64) (kv.Result, error) {
	s := st.s
	status := s.node.Status()
	if status.Role != raft.Leader {
		if status.Lead == raft.None {
			return kv.Result{}, fmt.Errorf("propose: %w", httpapi.ErrUnavailable)
		}
		return kv.Result{}, fmt.Errorf("propose: %w", httpapi.ErrNotLeader)
	}
	cmd.Timestamp = time.Now().UnixNano()
	data, err := kv.EncodeCommand(cmd)
	if err != nil {
		return kv.Result{}, fmt.Errorf("propose: %w", err)
	}
	res, _, err := s.node.Propose(ctx, data, clientID, requestID)
	if err != nil {
		return kv.Result{}, proposeError(err)
	}
	r, ok := res.(kv.Result)
	if !ok {
		return kv.Result{}, fmt.Errorf("propose: state machine returned %T: %w", res, httpapi.ErrIndeterminate)
	}
	return r, nil
}

// proposeError sorts a node error into definite and indefinite outcomes.
func proposeError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("propose: %w", httpapi.ErrNotLeader)
	case errors.Is(err, raft.ErrTransferring), errors.Is(err, raft.ErrProposalDropped),
		errors.Is(err, node.ErrDropped), errors.Is(err, node.ErrBusy):
		// Not in the log, or replaced before it committed: definite.
		return fmt.Errorf("propose: %v: %w", err, httpapi.ErrUnavailable)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("propose: %v: %w", err, httpapi.ErrTimeout)
	default:
		// Stopped or anything unexpected after the proposal was taken.
		return fmt.Errorf("propose: %v: %w", err, httpapi.ErrIndeterminate)
	}
}

// Read waits for a linearizable read point (ReadIndex, or the lease) unless
// stale, then runs fn under the state machine's read lock.
func (st store) Read(ctx context.Context, stale bool, fn func(*kv.Store)) error {
	s := st.s
	if !stale {
		mode := raft.ReadIndexSafe
		if s.cfg.LeaseReads {
			mode = raft.ReadLease
		}
		if err := s.node.ReadIndex(ctx, mode); err != nil {
			switch {
			case errors.Is(err, raft.ErrNotLeader):
				if s.node.Status().Lead == raft.None {
					return fmt.Errorf("read: %w", httpapi.ErrUnavailable)
				}
				return fmt.Errorf("read: %w", httpapi.ErrNotLeader)
			case errors.Is(err, node.ErrStopped):
				return fmt.Errorf("read: %w", httpapi.ErrStopped)
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
				return fmt.Errorf("read: %v: %w", err, httpapi.ErrTimeout)
			default:
				return fmt.Errorf("read: %v: %w", err, httpapi.ErrUnavailable)
			}
		}
	}
	s.sm.read(fn)
	return nil
}

func (st store) Status() httpapi.Status {
	r := st.s.node.Status()
	out := httpapi.Status{
		ID: r.ID, Role: roleName(r.Role), Term: r.Term, Leader: r.Lead,
		CommitIndex: r.Commit, AppliedIndex: r.Applied, LastIndex: r.LastIndex, SnapshotIndex: r.SnapshotIndex,
		Peers: []httpapi.PeerStatus{},
	}
	for _, p := range r.Peers {
		out.Peers = append(out.Peers, httpapi.PeerStatus{
			ID: p.ID, Match: p.Match, Next: p.Next, State: strings.ToLower(p.State),
			RecentActive: p.RecentActive, Inflight: p.Inflight,
		})
	}
	return out
}

func (st store) Leader() (uint64, string, bool) {
	lead := st.s.node.Status().Lead
	p, ok := st.s.peers[lead]
	if lead == raft.None || !ok {
		return 0, "", false
	}
	return lead, p.ClientURL, true
}

func roleName(r raft.Role) string {
	switch r {
	case raft.Leader:
		return "leader"
	case raft.Candidate:
		return "candidate"
	case raft.PreCandidate:
		return "pre-candidate"
	}
	return "follower"
}

// registerMetrics adds the transport's per-peer counters to reg; the HTTP
// API already exports the Raft state it reads through Store.Status.
func (s *Server) registerMetrics(reg *prometheus.Registry) error {
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "raftkv_raft_snapshot_index", Help: "Index covered by the latest snapshot.",
	}, func() float64 { return float64(s.node.Status().SnapshotIndex) })); err != nil {
		return fmt.Errorf("server: register snapshot metric: %w", err)
	}
	if err := reg.Register(transportCollector{s}); err != nil {
		return fmt.Errorf("server: register transport metrics: %w", err)
	}
	return nil
}

var (
	descPeerSent    = prometheus.NewDesc("raftkv_peer_sent_messages_total", "Messages sent to a peer.", []string{"peer"}, nil)
	descPeerRecv    = prometheus.NewDesc("raftkv_peer_received_messages_total", "Messages received from a peer.", []string{"peer"}, nil)
	descPeerDropped = prometheus.NewDesc("raftkv_peer_dropped_messages_total", "Messages to a peer dropped (queue full, too large, unreachable).", []string{"peer"}, nil)
	descPeerUp      = prometheus.NewDesc("raftkv_peer_connected", "1 if the outbound connection to a peer is up.", []string{"peer"}, nil)
)

// transportCollector exposes the TCP transport's per-peer counters.
type transportCollector struct{ s *Server }

func (c transportCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPeerSent
	ch <- descPeerRecv
	ch <- descPeerDropped
	ch <- descPeerUp
}

func (c transportCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.s.tr.Stats().Peers {
		id := fmt.Sprint(p.ID)
		ch <- prometheus.MustNewConstMetric(descPeerSent, prometheus.CounterValue, float64(p.SentMessages), id)
		ch <- prometheus.MustNewConstMetric(descPeerRecv, prometheus.CounterValue, float64(p.ReceivedMessages), id)
		ch <- prometheus.MustNewConstMetric(descPeerDropped, prometheus.CounterValue, float64(p.Dropped()), id)
		up := 0.0
		if p.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descPeerUp, prometheus.GaugeValue, up, id)
	}
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", raw, err)
	}
	return u, nil
}
