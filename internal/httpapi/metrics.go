package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus metrics. Names are part of the
// operations interface (dashboards use them); docs/api.md lists them.
type metrics struct {
	registry  *prometheus.Registry
	handler   http.Handler
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	forwarded *prometheus.CounterVec
	inFlight  prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, store Store) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftkv_http_requests_total",
			Help: "HTTP API requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "raftkv_http_request_duration_seconds",
			Help: "Time from receiving an HTTP API request to finishing its answer, by route and status code.",
			// 100µs (a stale read on loopback) to 10s (a write stuck
			// behind elections until the request timeout).
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftkv_http_forwarded_total",
			Help: "HTTP API requests this node forwarded to the leader, by route.",
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raftkv_http_requests_in_flight",
			Help: "HTTP API requests being served now.",
		}),
	}
	cs := []prometheus.Collector{m.requests, m.latency, m.forwarded, m.inFlight, newStatusCollector(store)}
	if reg == nil {
		reg = prometheus.NewRegistry()
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	m.registry = reg
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

func (m *metrics) observe(route string, status int, elapsed time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, code).Inc()
	m.latency.WithLabelValues(route, code).Observe(elapsed.Seconds())
}

// statusCollector exports the node's Raft state from Store.Status at each
// scrape, so that the API's /metrics shows term, indexes and replication
// progress without the wiring keeping gauges in step.
type statusCollector struct {
	store                                         Store
	term, commit, applied, last, leader, isLeader *prometheus.Desc
	match                                         *prometheus.Desc
}

func newStatusCollector(store Store) *statusCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &statusCollector{
		store:    store,
		term:     d("raftkv_raft_term", "Current Raft term."),
		commit:   d("raftkv_raft_commit_index", "Highest log index known to be committed."),
		applied:  d("raftkv_raft_applied_index", "Highest log index applied to the state machine."),
		last:     d("raftkv_raft_last_index", "Index of the last entry in the local log."),
		leader:   d("raftkv_raft_leader_id", "ID of the leader this node knows, 0 if none."),
		isLeader: d("raftkv_raft_is_leader", "1 if this node is the leader, else 0."),
		match:    d("raftkv_raft_peer_match_index", "Leader's view of the highest index replicated on each follower.", "peer"),
	}
}

// Describe sends the fixed descriptors, so the registry can check names.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.term, c.commit, c.applied, c.last, c.leader, c.isLeader, c.match} {
		ch <- d
	}
}

// Collect reads one Status and reports it.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.store.Status()
	gauge := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(c.term, s.Term)
	gauge(c.commit, s.CommitIndex)
	gauge(c.applied, s.AppliedIndex)
	gauge(c.last, s.LastIndex)
	gauge(c.leader, s.Leader)
	isLeader := uint64(0)
	if s.Role == "leader" {
		isLeader = 1
	}
	gauge(c.isLeader, isLeader)
	for _, p := range s.Peers {
		gauge(c.match, p.Match, strconv.FormatUint(p.ID, 10))
	}
}
