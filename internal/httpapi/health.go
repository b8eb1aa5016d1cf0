package httpapi

import (
	"net/http"
)

// statusJSON answers GET /v1/status: the Store's Status plus the leader's
// client URL, which clients use to find the leader.
type statusJSON struct {
	Status
	LeaderURL string `json:"leader_url,omitempty"`
}

// serveStatus answers GET /v1/status with this node's own view; it is
// never forwarded, since the point is to see each node.
func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	if _, e := parseQuery(r); e != nil {
		writeError(w, e)
		return
	}
	out := statusJSON{Status: h.store.Status()}
	if out.Peers == nil {
		out.Peers = []PeerStatus{}
	}
	if _, u, ok := h.store.Leader(); ok {
		out.LeaderURL = u
	}
	writeOK(w, out)
}

// serveHealthz answers 200 while the process can serve HTTP at all: a
// liveness probe that must not depend on the cluster, or a partitioned
// node would be restarted for nothing.
func (h *Handler) serveHealthz(w http.ResponseWriter, r *http.Request) {
	writeOK(w, map[string]string{"status": "ok"})
}

// serveReadyz answers 200 when this node knows a leader, so it can serve
// (or forward) requests, and 503 otherwise: a readiness probe for load
// balancers.
func (h *Handler) serveReadyz(w http.ResponseWriter, r *http.Request) {
	id, u, ok := h.store.Leader()
	if !ok {
		e := newError(http.StatusServiceUnavailable, CodeUnavailable, "no leader is known")
		e.retryAfter = true
		writeError(w, e)
		return
	}
	writeOK(w, struct {
		Status    string `json:"status"`
		Leader    uint64 `json:"leader"`
		LeaderURL string `json:"leader_url,omitempty"`
	}{"ready", id, u})
}
