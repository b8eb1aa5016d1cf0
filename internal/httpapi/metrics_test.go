package httpapi

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsExposition(t *testing.T) {
	h, f := newTestHandler(t, nil)
	f.set(func(f *fakeStore) {
		f.status = Status{ID: 1, Role: "leader", Term: 4, Leader: 1, CommitIndex: 12, AppliedIndex: 11,
			Peers: []PeerStatus{{ID: 2, Match: 12}, {ID: 3, Match: 9}}}
	})
	// The hook: the wiring registers its own collectors on the registry.
	extra := prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_transport_queue_depth", Help: "test"})
	extra.Set(3)
	h.Registry().MustRegister(extra)

	do(t, h, "PUT", "/v1/kv/k", "v")
	do(t, h, "GET", "/v1/kv/k", "")
	do(t, h, "GET", "/v1/kv/missing", "")
	do(t, h, "PUT", "/v1/kv/", "v")
	w := do(t, h, "GET", "/metrics", "")
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`raftkv_http_requests_total{code="200",route="kv_put"} 1`,
		`raftkv_http_requests_total{code="200",route="kv_get"} 1`,
		`raftkv_http_requests_total{code="404",route="kv_get"} 1`,
		`raftkv_http_requests_total{code="400",route="kv_put"} 1`,
		`raftkv_http_request_duration_seconds_bucket{code="200",route="kv_put",le="0.0001"}`,
		`raftkv_http_request_duration_seconds_count{code="200",route="kv_get"} 1`,
		`raftkv_http_requests_in_flight 1`, // the scrape itself
		`raftkv_raft_term 4`,
		`raftkv_raft_commit_index 12`,
		`raftkv_raft_applied_index 11`,
		`raftkv_raft_is_leader 1`,
		`raftkv_raft_peer_match_index{peer="3"} 9`,
		`raftkv_transport_queue_depth 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestMetricsForwardedAndPrivateRegistry(t *testing.T) {
	p := newPair(t)
	do(t, p.follower, "PUT", "/v1/kv/k", "v")
	body := do(t, p.follower, "GET", "/metrics", "").Body.String()
	if !strings.Contains(body, `raftkv_http_forwarded_total{route="kv_put"} 1`) {
		t.Errorf("forwarded counter missing:\n%s", body)
	}
	// A registry passed in gets only the API's own metrics, and two
	// handlers on one registry collide with a clear error, not a panic.
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Store: newFakeStore(), Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Store: newFakeStore(), Registry: reg}); err == nil {
		t.Errorf("a second handler on the same registry registered silently")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "go_") {
			t.Errorf("runtime collector added to a caller's registry: %s", mf.GetName())
		}
	}
}
