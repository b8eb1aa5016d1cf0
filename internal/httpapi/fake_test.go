package httpapi

import (
	"context"
	"fmt"
	"sync"

	"github.com/raftkv/raftkv/internal/kv"
	"github.com/raftkv/raftkv/internal/raft"
)

// proposal is one call to fakeStore.Propose.
type proposal struct {
	cmd                 kv.Command
	clientID, requestID uint64
}

// fakeStore is a one-node Store over a real kv.Store: proposals apply at
// once, unless the test sets an error or makes the store wait for the
// request's context.
type fakeStore struct {
	mu        sync.Mutex
	sm        *kv.Store
	index     uint64
	proposals []proposal
	reads     []bool // the stale flag of each Read
	// proposeErr, if set, is returned by Propose without applying;
	// applyErr is returned after applying (a write that did apply but
	// whose answer was lost).
	proposeErr, applyErr error
	// readErr is returned by linearizable reads; staleReadErr by stale ones.
	readErr, staleReadErr error
	// wait makes Propose and Read block until their context ends.
	wait bool

	leaderID  uint64
	leaderURL string
	hasLeader bool
	status    Status
}

func newFakeStore() *fakeStore {
	return &fakeStore{sm: kv.New(kv.Config{}), status: Status{ID: 1, Role: "leader", Term: 3, Leader: 1}}
}

func (f *fakeStore) Propose(ctx context.Context, cmd kv.Command, clientID, requestID uint64) (kv.Result, error) {
	f.mu.Lock()
	f.proposals = append(f.proposals, proposal{cmd, clientID, requestID})
	wait, perr, aerr := f.wait, f.proposeErr, f.applyErr
	f.mu.Unlock()
	if wait {
		<-ctx.Done()
		return kv.Result{}, fmt.Errorf("fake propose: %w: %w", ErrTimeout, ctx.Err())
	}
	if perr != nil {
		return kv.Result{}, fmt.Errorf("fake propose: %w", perr)
	}
	data, err := kv.EncodeCommand(cmd)
	if err != nil {
		return kv.Result{}, fmt.Errorf("fake propose: %w", err)
	}
	f.mu.Lock()
	f.index++
	res := f.sm.Apply(raft.Entry{Term: 1, Index: f.index, Type: raft.EntryNormal, ClientID: clientID, RequestID: requestID, Data: data})
	f.mu.Unlock()
	if aerr != nil {
		return kv.Result{}, fmt.Errorf("fake propose after apply: %w", aerr)
	}
	return res, nil
}

func (f *fakeStore) Read(ctx context.Context, stale bool, fn func(s *kv.Store)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, stale)
	if f.wait {
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return fmt.Errorf("fake read: %w: %w", ErrTimeout, ctx.Err())
	}
	if err := f.readErr; err != nil && !stale {
		return fmt.Errorf("fake read: %w", err)
	}
	if err := f.staleReadErr; err != nil && stale {
		return fmt.Errorf("fake read: %w", err)
	}
	fn(f.sm)
	return nil
}

func (f *fakeStore) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeStore) Leader() (uint64, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaderID, f.leaderURL, f.hasLeader
}

// set changes the fake's behaviour under its lock.
func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeStore) proposalCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.proposals)
}

func (f *fakeStore) lastProposal() proposal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proposals[len(f.proposals)-1]
}

func (f *fakeStore) revision() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sm.Revision()
}
