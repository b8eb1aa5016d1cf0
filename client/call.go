package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HTTP headers of the raftkv API (docs/api.md).
const (
	headerClientID  = "Raftkv-Client-Id"
	headerRequestID = "Raftkv-Request-Id"
	headerIfVersion = "If-Version"
	headerLeader    = "Raftkv-Leader"
)

// request is one API call, independent of the endpoint it goes to.
type request struct {
	op, key string
	method  string
	// path is the escaped path, such as "/v1/kv/a%2Fb".
	path  string
	query url.Values
	body  []byte
	// ifVersion, if set, makes a write a compare-and-swap.
	ifVersion *uint64
	write     bool
}

// errorWire is the server's error body.
type errorWire struct {
	Error          string  `json:"error"`
	Code           string  `json:"code"`
	Indefinite     bool    `json:"indefinite"`
	CurrentVersion *uint64 `json:"current_version"`
	LeaderURL      string  `json:"leader_url"`
}

// call runs req with retries and decodes a 2xx JSON answer into out.
//
// Writes take a request id from the session first; every attempt sends the
// same id, so however many attempts reach the leader the write applies at
// most once. A write's error is indefinite if any attempt may have reached
// the state machine and none brought back its answer: once a write is
// possibly applied, a later definite failure (say, a node that refuses the
// connection) does not make it definite again.
func (c *Client) call(ctx context.Context, req *request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var (
		sess *session
		id   uint64
	)
	if req.write {
		var err error
		if sess, id, err = c.beginWrite(ctx); err != nil {
			return &Error{Op: req.op, Key: req.key, Message: "waiting to send", Cause: err}
		}
	}
	e, o := c.attempts(ctx, req, sess, id, out)
	if req.write {
		c.endWrite(sess, id, o)
	}
	if e != nil {
		return e
	}
	return nil
}

// attempts is call's retry loop. It returns the final error (nil on
// success) and what the outcome means for the session.
func (c *Client) attempts(ctx context.Context, req *request, sess *session, id uint64, out any) (*Error, outcome) {
	mayHaveApplied := false
	ep := int(c.preferred.Load())
	last := &Error{Op: req.op, Key: req.key}
	for n := 1; ; n++ {
		endpoint := c.endpoints[ep]
		last.Endpoint, last.Attempts = endpoint, n
		res := c.attempt(ctx, endpoint, req, sess, id)
		mayHaveApplied = mayHaveApplied || (req.write && res.indefinite)
		switch {
		case res.ok:
			if !c.prefer(res.hint) {
				c.preferred.Store(int64(ep))
			}
			if err := decodeAnswer(res.body, out); err != nil {
				// The write applied (2xx) but the answer is unreadable.
				last.StatusCode, last.Message, last.Indefinite = res.status, err.Error(), req.write
				return last, outcomeApplied
			}
			return nil, outcomeApplied
		case res.final != nil:
			c.prefer(res.hint)
			res.final.Op, res.final.Key, res.final.Endpoint, res.final.Attempts = req.op, req.key, endpoint, n
			res.final.Indefinite = res.final.Indefinite || mayHaveApplied
			o := res.outcome
			if o == outcomeNotApplied && res.final.Indefinite {
				// This attempt was refused, but an earlier one may have
				// applied: the id must not be reused for another write.
				o = outcomeUnknown
			}
			return res.final, o
		}
		// Retryable.
		last.StatusCode, last.Code, last.Message, last.Cause = res.status, res.code, res.message, res.cause
		last.Indefinite = mayHaveApplied
		if ctx.Err() != nil {
			if errors.Is(res.cause, ctx.Err()) {
				last.Message = "" // the attempt failed only because time ran out
			}
			last.Err, last.Cause = nil, ctx.Err()
			return last, outcomeFor(last)
		}
		if n > c.cfg.Retries {
			last.Err = ErrUnavailable
			return last, outcomeFor(last)
		}
		// Next endpoint: the leader if we just learned it, else the next
		// in the ring (and remember to start there next time).
		next := (ep + 1) % len(c.endpoints)
		if c.prefer(res.hint) {
			next = int(c.preferred.Load())
		} else {
			c.preferred.CompareAndSwap(int64(ep), int64(next))
		}
		wait := c.backoff(n)
		c.log.Debug("retrying", "op", req.op, "key", req.key, "endpoint", endpoint, "status", res.status,
			"code", res.code, "err", res.cause, "next", c.endpoints[next], "backoff", wait)
		if !sleep(ctx, wait) {
			last.Err, last.Cause = nil, ctx.Err()
			return last, outcomeFor(last)
		}
		ep = next
	}
}

// outcomeFor is the session outcome of a write that failed with e.
func outcomeFor(e *Error) outcome {
	if e.Indefinite {
		return outcomeUnknown
	}
	return outcomeNotApplied
}

// attemptResult is what one HTTP attempt gave. Exactly one of ok, final
// and (neither: retry) holds.
type attemptResult struct {
	ok      bool
	final   *Error
	outcome outcome // meaningful with final
	// For a retry: what went wrong, and whether this attempt may have
	// applied a write.
	indefinite bool
	status     int
	code       string
	message    string
	cause      error
	body       []byte
	hint       string // the leader's URL, if the answer named it
}

// attempt sends req to endpoint once and classifies the answer.
func (c *Client) attempt(ctx context.Context, endpoint string, req *request, sess *session, id uint64) attemptResult {
	target := endpoint + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, target, bytes.NewReader(req.body))
	if err != nil {
		return attemptResult{final: &Error{Err: ErrRejected, Message: fmt.Sprintf("building the request: %v", err), Cause: err}, outcome: outcomeNotApplied}
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "raftkv-go-client")
	if req.method == http.MethodPut {
		hr.Header.Set("Content-Type", "application/octet-stream")
	}
	if sess != nil {
		hr.Header.Set(headerClientID, strconv.FormatUint(sess.clientID, 10))
		hr.Header.Set(headerRequestID, strconv.FormatUint(id, 10))
	}
	if req.ifVersion != nil {
		hr.Header.Set(headerIfVersion, strconv.FormatUint(*req.ifVersion, 10))
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		// A write whose connection was never made did not reach anyone;
		// any other failure may have come after the server read it.
		return attemptResult{indefinite: req.write && !dialFailed(err), message: err.Error(), cause: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// The status line arrived but not the body: for a 2xx write the
		// write applied; for anything else treat it as a lost answer.
		return attemptResult{indefinite: req.write, status: resp.StatusCode, message: fmt.Sprintf("reading the answer: %v", err), cause: err}
	}
	hint := resp.Header.Get(headerLeader)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return attemptResult{ok: true, status: resp.StatusCode, body: body, hint: hint}
	}
	var ew errorWire
	parsed := json.Unmarshal(body, &ew) == nil && ew.Code != ""
	if !parsed {
		// Not our server's answer (a proxy's page, say): judge by status.
		ew = errorWire{Error: http.StatusText(resp.StatusCode), Indefinite: req.write && resp.StatusCode >= 500}
	}
	if ew.LeaderURL != "" {
		hint = ew.LeaderURL
	}
	fail := func(sentinel error, o outcome) attemptResult {
		e := &Error{StatusCode: resp.StatusCode, Code: ew.Code, Message: ew.Error, Indefinite: req.write && ew.Indefinite, Err: sentinel}
		return attemptResult{final: e, outcome: o, hint: hint}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && ew.Code == "not_found":
		return fail(ErrNotFound, outcomeApplied)
	case resp.StatusCode == http.StatusConflict && ew.Code == "conflict":
		r := fail(ErrConflict, outcomeApplied)
		if ew.CurrentVersion != nil {
			r.final.CurrentVersion = *ew.CurrentVersion
		}
		return r
	case resp.StatusCode == http.StatusGone:
		r := fail(ErrSessionLost, outcomeUnknown)
		r.final.Indefinite = req.write
		if ew.Code == "session_expired" {
			r.outcome = outcomeSessionLost
		}
		return r
	case resp.StatusCode >= 500 || resp.StatusCode == 499 || resp.StatusCode == http.StatusTooManyRequests:
		return attemptResult{indefinite: req.write && ew.Indefinite, status: resp.StatusCode, code: ew.Code, message: ew.Error, hint: hint}
	default:
		r := fail(ErrRejected, outcomeNotApplied)
		if r.final.Indefinite {
			r.outcome = outcomeUnknown
		}
		return r
	}
}

// dialFailed reports whether err happened while connecting, before any
// byte of the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// decodeAnswer parses a 2xx JSON body into out (nil: ignore the body).
func decodeAnswer(body []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("malformed answer from the server: %w", err)
	}
	return nil
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
