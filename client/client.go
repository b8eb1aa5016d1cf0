package client

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero Config.
const (
	// DefaultTimeout bounds one method call, retries included, when the
	// caller's context has no earlier deadline. It is twice the server's
	// own request timeout, so a call can outlast one stuck attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a call is retried after a retryable
	// failure. With the default backoff the retries span about 3 s, which
	// rides out a cluster's first election or a leader change (a 3-node
	// playground elects its first leader in about 2 s).
	DefaultRetries = 10
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between
	// attempts, which doubles from the minimum, with jitter. The maximum is
	// about two election timeouts.
	DefaultMinBackoff = 20 * time.Millisecond
	DefaultMaxBackoff = 500 * time.Millisecond
	// DefaultMaxInFlightWrites is the server's default number of results
	// cached per client session (kv.DefaultResultsPerSession): with at most
	// this many writes in flight, every retry still finds its answer.
	DefaultMaxInFlightWrites = 64
)

// maxResponseBytes bounds how much of an answer the client reads: a range
// answer is at most a few MiB plus one value by the server's limits.
const maxResponseBytes = 64 << 20

// Config configures a Client. Only Endpoints is required.
type Config struct {
	// Endpoints are the client URLs of the cluster's nodes, such as
	// "http://127.0.0.1:2379"; "127.0.0.1:2379" means the same. Any node
	// can serve any request (followers forward to the leader), but the
	// client prefers the leader once it learns which node that is.
	Endpoints []string
	// Timeout bounds each call, retries included; 0 means DefaultTimeout.
	// The context passed to a method can only shorten it.
	Timeout time.Duration
	// Retries is how many times a call is retried after a retryable
	// failure (unreachable node, no leader, timeout); 0 means
	// DefaultRetries, negative means never.
	Retries int
	// MinBackoff and MaxBackoff bound the wait between attempts; 0 means
	// the default.
	MinBackoff, MaxBackoff time.Duration
	// MaxInFlightWrites caps concurrent writes; it must not exceed the
	// servers' kv.Config.ResultsPerSession. 0 means the default.
	MaxInFlightWrites int
	// Logger receives retries (Debug) and session changes; nil discards.
	Logger *slog.Logger
	// HTTPClient sends the requests; nil means a private client whose
	// transport keeps enough idle connections for many goroutines. Its
	// Timeout, if any, applies per attempt.
	HTTPClient *http.Client
}

// Client talks to a raftkv cluster over its HTTP API. It is safe for
// concurrent use; create one per process and share it, since the exactly-
// once session and the leader it learned live in it.
type Client struct {
	cfg       Config
	endpoints []string
	hc        *http.Client
	own       *http.Transport // nil if the caller supplied HTTPClient
	log       *slog.Logger
	// preferred is the index of the endpoint tried first: the leader, if
	// known, else the last one that answered.
	preferred atomic.Int64

	mu   sync.Mutex
	sess *session
	rng  *rand.Rand // backoff jitter
}

// New returns a Client for cfg. It does not contact the cluster.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client: no endpoints")
	}
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, log: cfg.Logger}
	for _, ep := range cfg.Endpoints {
		u, err := normalize(ep)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, u)
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	switch {
	case c.cfg.Retries == 0:
		c.cfg.Retries = DefaultRetries
	case c.cfg.Retries < 0:
		c.cfg.Retries = 0
	}
	if c.cfg.MinBackoff <= 0 {
		c.cfg.MinBackoff = DefaultMinBackoff
	}
	if c.cfg.MaxBackoff <= 0 {
		c.cfg.MaxBackoff = DefaultMaxBackoff
	}
	c.cfg.MaxBackoff = max(c.cfg.MaxBackoff, c.cfg.MinBackoff)
	if c.cfg.MaxInFlightWrites <= 0 {
		c.cfg.MaxInFlightWrites = DefaultMaxInFlightWrites
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.hc == nil {
		c.own = http.DefaultTransport.(*http.Transport).Clone()
		c.own.MaxIdleConnsPerHost = 256
		c.hc = &http.Client{Transport: c.own}
	}
	sess, err := newSession()
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c.sess = sess
	seed := sess.clientID
	c.rng = rand.New(rand.NewPCG(seed, seed>>1|1))
	return c, nil
}

// normalize turns "host:port" or "http://host:port/" into
// "http://host:port", the form leader hints are compared in.
func normalize(ep string) (string, error) {
	raw := strings.TrimSpace(ep)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("client: endpoint %q is not a host:port or an http(s) URL", ep)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// Endpoints returns the normalized endpoints, the preferred one first.
func (c *Client) Endpoints() []string {
	p := int(c.preferred.Load())
	return append(append([]string(nil), c.endpoints[p:]...), c.endpoints[:p]...)
}

// ClientID returns the id of the current exactly-once session, for logs.
func (c *Client) ClientID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.clientID
}

// Close releases idle connections. The Client must not be used after.
func (c *Client) Close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// prefer makes the endpoint named by a leader hint the first to try, if
// it is one of ours. Hints naming other URLs are ignored: the configured
// endpoints are the cluster as far as the client knows.
func (c *Client) prefer(hint string) bool {
	if hint == "" {
		return false
	}
	u, err := normalize(hint)
	if err != nil {
		return false
	}
	for i, ep := range c.endpoints {
		if ep == u {
			if int(c.preferred.Swap(int64(i))) != i {
				c.log.Debug("leader hint", "endpoint", ep)
			}
			return true
		}
	}
	return false
}

// backoff returns the wait before attempt n+1 (n >= 1): doubling from
// MinBackoff up to MaxBackoff, with the upper half jittered so that
// clients that failed together do not retry together.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.MinBackoff << min(n-1, 20)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	c.mu.Lock()
	j := time.Duration(c.rng.Int64N(int64(d/2) + 1))
	c.mu.Unlock()
	return d/2 + j
}
