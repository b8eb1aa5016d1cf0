package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
)

// Why forward rather than redirect: a 307 would make every client handle
// redirects of PUT bodies and lose the exactly-once headers with some
// clients, and curl users would need -L. Forwarding keeps any node a valid
// endpoint at the cost of one extra hop, which the Go client avoids by
// following the Raftkv-Leader hint. See docs/api.md.

// forwardTarget travels in the request context from forward to the proxy's
// hooks: where the request goes and the body already read from the client.
type forwardTarget struct {
	leader *url.URL
	body   []byte
	write  bool
}

type forwardKey struct{}

// newProxy builds the reverse proxy that carries requests to the leader.
// One proxy serves all requests; each request's target rides in its
// context.
func (h *Handler) newProxy() *httputil.ReverseProxy {
	nodeID := strconv.FormatUint(h.cfg.NodeID, 10)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(forwardKey{}).(*forwardTarget)
			pr.SetURL(t.leader)
			pr.SetXForwarded()
			pr.Out.Header.Set(HeaderForwarded, nodeID)
			// The handler has consumed the client's body; send the copy.
			body := t.body
			pr.Out.ContentLength = int64(len(body))
			pr.Out.Body = http.NoBody
			pr.Out.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
			if len(body) > 0 {
				pr.Out.Body = io.NopCloser(bytes.NewReader(body))
				pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			}
		},
		Transport: h.transport,
		ModifyResponse: func(resp *http.Response) error {
			t := resp.Request.Context().Value(forwardKey{}).(*forwardTarget)
			resp.Header.Set(HeaderLeader, t.leader.String())
			return nil
		},
		ErrorHandler: h.forwardFailed,
		ErrorLog:     slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
}

// forward sends r (whose body was already read into body) to the leader
// at leaderURL and relays its answer.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, leaderURL string, body []byte, write bool) {
	u, err := url.Parse(leaderURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		h.log.Error("leader client URL is not an absolute URL", "url", leaderURL, "err", err)
		e := newError(http.StatusServiceUnavailable, CodeUnavailable, fmt.Sprintf("leader URL %q is malformed", leaderURL))
		e.retryAfter = true
		writeError(w, e)
		return
	}
	h.metrics.forwarded.WithLabelValues(routeOf(r)).Inc()
	h.log.Debug("forwarding to leader", "method", r.Method, "path", r.URL.EscapedPath(), "leader", leaderURL)
	ctx := context.WithValue(r.Context(), forwardKey{}, &forwardTarget{leader: u, body: body, write: write})
	h.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// forwardFailed answers when the leader could not be reached or did not
// answer. A write is indefinite unless the connection was never made: the
// leader may have received and applied it before the failure.
func (h *Handler) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	t := r.Context().Value(forwardKey{}).(*forwardTarget)
	var e *apiError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e = newError(http.StatusGatewayTimeout, CodeTimeout, fmt.Sprintf("forwarding to the leader %s: %v", t.leader, err))
		e.body.Indefinite = t.write
	case errors.Is(err, context.Canceled):
		e = newError(statusClientClosed, CodeCanceled, fmt.Sprintf("forwarding to the leader %s: %v", t.leader, err))
		e.body.Indefinite = t.write
	case errors.As(err, &opErr) && opErr.Op == "dial":
		e = newError(http.StatusBadGateway, CodeForwardFailed, fmt.Sprintf("cannot reach the leader %s: %v", t.leader, err))
		e.retryAfter = true
	default:
		e = newError(http.StatusBadGateway, CodeForwardFailed, fmt.Sprintf("forwarding to the leader %s: %v", t.leader, err))
		e.body.Indefinite, e.retryAfter = t.write, true
	}
	e.body.LeaderURL = t.leader.String()
	h.log.Warn("forwarding to the leader failed", "leader", t.leader.String(), "method", r.Method,
		"path", r.URL.EscapedPath(), "indefinite", e.body.Indefinite, "err", err)
	writeError(w, e)
}

// routeOf names the route of a request being forwarded (a kv request).
func routeOf(r *http.Request) string {
	switch {
	case r.URL.EscapedPath() == "/v1/kv":
		return routeRange
	case r.Method == http.MethodPut:
		return routePut
	case r.Method == http.MethodDelete:
		return routeDelete
	}
	return routeGet
}
