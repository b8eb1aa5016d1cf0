package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// session numbers a client's writes for the server's exactly-once
// sessions (internal/kv's package doc, after Ongaro's thesis §6.3):
//
//   - The client id is random and nonzero, from crypto/rand, so two
//     clients never share a session.
//   - Request 1 opens the session on the server. Until it is known to have
//     applied, no other write is sent: a request 2 reaching the server
//     first would find no session and fail as "expired".
//   - Request ids increase from 1; every retry of a write reuses its id.
//   - At most window ids, from the oldest unanswered one on, are in use at
//     once, so the server's cache of a session's last results (64 by
//     default) still holds the answer of any request being retried.
//   - When the server forgets the session, or request 1's fate is unknown,
//     the client starts a new session under a new id.
//
// All fields are guarded by Client.mu.
type session struct {
	clientID uint64
	// next is the next request id to hand out.
	next uint64
	// open: request 1 applied, so ids past 1 may be used concurrently.
	open bool
	// opening is non-nil while request 1 is in flight, and closed when it
	// ends; writes that wait for the session to open wait on it.
	opening chan struct{}
	// outstanding holds the ids handed out and not yet finished.
	outstanding map[uint64]struct{}
	// changed is closed (and replaced) whenever an id finishes, waking
	// writes that wait for room in the window.
	changed chan struct{}
	// retired: the client replaced this session; its ids are no longer
	// handed out.
	retired bool
}

func newSession() (*session, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("client id from crypto/rand: %w", err)
		}
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return &session{clientID: id, next: 1, outstanding: map[uint64]struct{}{}, changed: make(chan struct{})}, nil
		}
	}
}

func (s *session) oldest() uint64 {
	lo := s.next
	for id := range s.outstanding {
		lo = min(lo, id)
	}
	return lo
}

// outcome is what a finished write tells the session.
type outcome int

const (
	// outcomeApplied: the state machine answered (success, not found or
	// conflict), so the request is in the session.
	outcomeApplied outcome = iota
	// outcomeNotApplied: a definite failure; the request never applied.
	outcomeNotApplied
	// outcomeUnknown: an indefinite failure.
	outcomeUnknown
	// outcomeSessionLost: the server forgot the session.
	outcomeSessionLost
)

// beginWrite hands out the ids for one write, waiting while the session
// opens or the window is full. The caller must call endWrite.
func (c *Client) beginWrite(ctx context.Context) (*session, uint64, error) {
	for {
		c.mu.Lock()
		s := c.sess
		var wait chan struct{}
		switch {
		case !s.open && s.opening == nil:
			s.opening = make(chan struct{})
			s.outstanding[1] = struct{}{}
			c.mu.Unlock()
			return s, 1, nil
		case !s.open:
			wait = s.opening
		case s.next-s.oldest() < uint64(c.cfg.MaxInFlightWrites):
			id := s.next
			s.next++
			s.outstanding[id] = struct{}{}
			c.mu.Unlock()
			return s, id, nil
		default:
			wait = s.changed
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// endWrite retires id and applies what its outcome says about the session.
func (c *Client) endWrite(s *session, id uint64, o outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(s.outstanding, id)
	close(s.changed)
	s.changed = make(chan struct{})
	replace := o == outcomeSessionLost
	if id == 1 && !s.open {
		switch o {
		case outcomeApplied:
			s.open, s.next = true, 2
		case outcomeNotApplied:
			// Request 1 never applied: the next write opens the session
			// with id 1 again.
		default:
			// Whether request 1 applied, or will, is unknown, so whether
			// the session exists is too: start afresh.
			replace = true
		}
		close(s.opening)
		s.opening = nil
	}
	if replace && !s.retired {
		fresh, err := newSession()
		if err != nil {
			// crypto/rand does not fail on supported platforms; keep the
			// old session rather than none.
			c.log.Error("cannot start a new client session", "err", err)
			return
		}
		s.retired = true
		c.sess = fresh
		c.log.Debug("new client session", "old_client_id", s.clientID, "client_id", fresh.clientID)
	}
}
