package server

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/raftkv/raftkv/internal/kv"
	"github.com/raftkv/raftkv/internal/raft"
	"github.com/raftkv/raftkv/internal/wal"
)

// walStorage adapts the write-ahead log to node.Storage.
type walStorage struct {
	w *wal.WAL
}

// Save persists a Ready's hard state and entries. A Ready that changes
// only the commit index needs no fsync: the commit index may go back after
// a crash (paper Figure 2 keeps it volatile), so such a Ready is not
// written at all and costs no disk time.
func (s walStorage) Save(hs raft.HardState, ents []raft.Entry, sync bool) error {
	if !sync && len(ents) == 0 {
		return nil
	}
	if err := s.w.Save(hs, ents); err != nil {
		return fmt.Errorf("wal save: %w", err)
	}
	return nil
}

// SaveSnapshot writes the snapshot file and its record, then drops log
// segments the snapshot covers.
func (s walStorage) SaveSnapshot(snap raft.Snapshot) error {
	err := s.w.SaveSnapshot(snap.Meta, func(w io.Writer) error {
		_, err := w.Write(snap.Data)
		return err
	})
	if err != nil {
		return fmt.Errorf("wal save snapshot %d: %w", snap.Meta.Index, err)
	}
	if err := s.w.Compact(snap.Meta.Index); err != nil {
		return fmt.Errorf("wal compact to %d: %w", snap.Meta.Index, err)
	}
	return nil
}

// kvMachine adapts kv.Store to node.StateMachine. The node's goroutine
// applies under the write lock; HTTP handlers read under the read lock.
type kvMachine struct {
	mu sync.RWMutex
	s  *kv.Store
}

func (m *kvMachine) Apply(e raft.Entry) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s.Apply(e)
}

// Snapshot serialises a copy-on-write clone, so applies are blocked only
// for the clone, not for the encoding.
func (m *kvMachine) Snapshot() ([]byte, error) {
	m.mu.RLock()
	c := m.s.Clone()
	m.mu.RUnlock()
	var b bytes.Buffer
	if err := c.WriteSnapshot(&b); err != nil {
		return nil, fmt.Errorf("kv snapshot: %w", err)
	}
	return b.Bytes(), nil
}

func (m *kvMachine) Restore(data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.s.Restore(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("kv restore: %w", err)
	}
	return nil
}

func (m *kvMachine) read(fn func(s *kv.Store)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	fn(m.s)
}
