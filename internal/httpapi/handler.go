package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/raftkv/raftkv/internal/kv"
)

// Defaults for the zero Config.
const (
	// DefaultMaxKeySize is the largest key accepted: the state machine's own
	// limit, kv.MaxKeySize (4 KiB).
	DefaultMaxKeySize = kv.MaxKeySize
	// DefaultMaxValueSize is the largest value accepted: kv.MaxValueSize
	// (1 MiB).
	DefaultMaxValueSize = kv.MaxValueSize
	// DefaultMaxRangeLimit caps the keys one range answer returns, so that
	// a careless "scan everything" cannot build an unbounded response; the
	// "more" flag tells the client to page on.
	DefaultMaxRangeLimit = 10000
	// DefaultMaxRangeBytes caps the key and value bytes of one range answer
	// (at least one key is always returned), for the same reason.
	DefaultMaxRangeBytes = 4 << 20
	// DefaultRequestTimeout bounds how long one request may wait for the
	// cluster: long enough to ride out a leader election, short enough that
	// a client hears back before it gives up on its own.
	DefaultRequestTimeout = 5 * time.Second
)

// Config configures a Handler. Only Store is required.
type Config struct {
	// Store is the node the API serves.
	Store Store
	// NodeID is this node's ID, sent in the Raftkv-Forwarded-By header of
	// forwarded requests so that logs show the path a request took.
	NodeID uint64
	// Logger receives request failures (Warn) and per-request traces
	// (Debug); nil discards them.
	Logger *slog.Logger
	// Registry receives the API's metrics and is served at /metrics. Nil
	// makes a private registry with the Go runtime and process collectors
	// too. It is never the global default registry: two handlers in one
	// test process must not collide. The wiring registers its raft and
	// transport metrics on Handler.Registry().
	Registry *prometheus.Registry
	// MaxKeySize and MaxValueSize bound keys and values (413 above them);
	// 0 means the default, and neither may exceed the state machine's
	// kv.MaxKeySize and kv.MaxValueSize.
	MaxKeySize   int
	MaxValueSize int
	// MaxRangeLimit and MaxRangeBytes bound one range answer; 0 means the
	// default. A larger ?limit is clamped and "more" reports the rest.
	MaxRangeLimit int
	MaxRangeBytes int
	// RequestTimeout bounds each request (it is added to the request's own
	// context, which also ends when the client hangs up); 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ForwardTransport carries requests forwarded to the leader; nil means
	// a private clone of http.DefaultTransport.
	ForwardTransport http.RoundTripper
}

func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		return c, errors.New("httpapi: Config.Store is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxKeySize == 0 {
		c.MaxKeySize = DefaultMaxKeySize
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = DefaultMaxValueSize
	}
	if c.MaxRangeLimit == 0 {
		c.MaxRangeLimit = DefaultMaxRangeLimit
	}
	if c.MaxRangeBytes == 0 {
		c.MaxRangeBytes = DefaultMaxRangeBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	switch {
	case c.MaxKeySize < 0 || c.MaxKeySize > kv.MaxKeySize:
		return c, fmt.Errorf("httpapi: MaxKeySize %d outside 1..%d", c.MaxKeySize, kv.MaxKeySize)
	case c.MaxValueSize < 0 || c.MaxValueSize > kv.MaxValueSize:
		return c, fmt.Errorf("httpapi: MaxValueSize %d outside 1..%d", c.MaxValueSize, kv.MaxValueSize)
	case c.MaxRangeLimit < 0 || c.MaxRangeBytes < 0 || c.RequestTimeout < 0:
		return c, errors.New("httpapi: negative MaxRangeLimit, MaxRangeBytes or RequestTimeout")
	}
	return c, nil
}

// Handler serves the client API (see docs/api.md). It holds no state beyond
// its configuration, metrics and forwarding proxy, so it is safe for
// concurrent use, and any number of handlers can live in one process.
type Handler struct {
	cfg       Config
	store     Store
	log       *slog.Logger
	metrics   *metrics
	proxy     *httputil.ReverseProxy
	transport http.RoundTripper
	// ownTransport is set when the handler made transport and so closes
	// its idle connections in Close.
	ownTransport bool
}

// New returns a Handler for cfg, or an error if cfg is invalid or the
// metrics cannot be registered (a name already taken in cfg.Registry).
func New(cfg Config) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, store: cfg.Store, log: cfg.Logger, transport: cfg.ForwardTransport}
	if h.transport == nil {
		h.transport = http.DefaultTransport.(*http.Transport).Clone()
		h.ownTransport = true
	}
	h.metrics, err = newMetrics(cfg.Registry, cfg.Store)
	if err != nil {
		return nil, err
	}
	h.proxy = h.newProxy()
	return h, nil
}

// Registry returns the registry /metrics serves. It is the hook through
// which the wiring adds raft and transport collectors.
func (h *Handler) Registry() *prometheus.Registry { return h.metrics.registry }

// Close releases the idle connections the handler keeps to the leader for
// forwarding. Call it after the HTTP server has shut down.
func (h *Handler) Close() {
	if c, ok := h.transport.(interface{ CloseIdleConnections() }); ok && h.ownTransport {
		c.CloseIdleConnections()
	}
}

// Route names, the "route" label of the metrics.
const (
	routeGet      = "kv_get"
	routePut      = "kv_put"
	routeDelete   = "kv_delete"
	routeRange    = "kv_range"
	routeStatus   = "status"
	routeHealthz  = "healthz"
	routeReadyz   = "readyz"
	routeMetrics  = "metrics"
	routeNotFound = "unknown"
)

// keyPrefix is the path prefix of single-key requests; the rest of the
// escaped path is the URL-escaped key.
const keyPrefix = "/v1/kv/"

// ServeHTTP routes a request, times it and counts it.
//
// Routing is done by hand rather than with http.ServeMux, because the mux
// cleans paths (redirecting "/v1/kv/a//b" and "/v1/kv/a/../b") and keys may
// legitimately contain "//" or "..".
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	route, serve := h.route(r)
	h.metrics.inFlight.Inc()
	defer func() {
		h.metrics.inFlight.Dec()
		status := rec.statusCode()
		elapsed := time.Since(start)
		h.metrics.observe(route, status, elapsed)
		level := slog.LevelDebug
		if status >= 500 && status != http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		h.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.EscapedPath(),
			"route", route, "status", status, "duration", elapsed)
	}()
	serve(rec, r)
}

// route picks the handler for r and the route name it is counted under.
func (h *Handler) route(r *http.Request) (string, http.HandlerFunc) {
	path := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(path, keyPrefix):
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return routeGet, h.serveGet
		case http.MethodPut:
			return routePut, h.servePut
		case http.MethodDelete:
			return routeDelete, h.serveDelete
		}
		return routeNotFound, methodNotAllowed("GET, HEAD, PUT, DELETE")
	case path == "/v1/kv":
		return onlyGet(routeRange, h.serveRange)
	case path == "/v1/status":
		return onlyGet(routeStatus, h.serveStatus)
	case path == "/healthz":
		return onlyGet(routeHealthz, h.serveHealthz)
	case path == "/readyz":
		return onlyGet(routeReadyz, h.serveReadyz)
	case path == "/metrics":
		return onlyGet(routeMetrics, h.metrics.handler.ServeHTTP)
	}
	return routeNotFound, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeNoSuchEndpoint, fmt.Sprintf("no API at %s; see docs/api.md", path)))
	}
}

// onlyGet serves GET and HEAD with serve and answers 405 to other methods.
func onlyGet(route string, serve http.HandlerFunc) (string, http.HandlerFunc) {
	return route, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed("GET, HEAD")(w, r)
			return
		}
		serve(w, r)
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("method %s not allowed here; use %s", r.Method, allow)))
	}
}

// withTimeout derives the context a request waits under.
func (h *Handler) withTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
}

// recorder remembers the status code written, for metrics and logs.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (used by the reverse proxy) reach
// the underlying writer's Flush and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
