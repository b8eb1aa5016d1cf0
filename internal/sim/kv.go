package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/raftkv/raftkv/internal/raft"
)

// kvStore is the simulator's replicated state machine: a map with
// exactly-once client sessions (thesis §6.3). Clients issue one request at a
// time with increasing request ids, so a session only needs the last one.
type kvStore struct {
	Data     map[string]string  `json:"data"`
	Sessions map[uint64]session `json:"sessions"`
}

type session struct {
	LastReq uint64 `json:"last_req"`
	Index   uint64 `json:"index"` // log index where LastReq first applied
}

// putResult is what applying a put returns.
type putResult struct {
	// Index is where the request took effect (an earlier index for a
	// retry that was deduplicated).
	Index     uint64
	Duplicate bool
	// Stale means the request is older than the session's last one: a
	// delayed copy whose client has moved on. Nothing was applied.
	Stale bool
}

func newKV() *kvStore {
	return &kvStore{Data: map[string]string{}, Sessions: map[uint64]session{}}
}

func encodePut(key, value string) []byte { return []byte(key + "\x00" + value) }

func decodePut(b []byte) (key, value string, err error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", "", fmt.Errorf("sim kv: malformed put %q", b)
	}
	return string(b[:i]), string(b[i+1:]), nil
}

func (s *kvStore) Apply(e raft.Entry) any {
	key, value, err := decodePut(e.Data)
	if err != nil {
		panic(err) // only the simulator writes commands
	}
	if e.ClientID != 0 {
		sess := s.Sessions[e.ClientID]
		switch {
		case e.RequestID == sess.LastReq:
			return putResult{Index: sess.Index, Duplicate: true}
		case e.RequestID < sess.LastReq:
			return putResult{Stale: true}
		}
		s.Sessions[e.ClientID] = session{LastReq: e.RequestID, Index: e.Index}
	}
	s.Data[key] = value
	return putResult{Index: e.Index}
}

// Snapshot encodes the state as JSON, whose map keys come out sorted, so
// equal states give equal bytes.
func (s *kvStore) Snapshot() ([]byte, error) { return json.Marshal(s) }

func (s *kvStore) Restore(data []byte) error {
	fresh := newKV()
	if err := json.Unmarshal(data, fresh); err != nil {
		return fmt.Errorf("sim kv: restore: %w", err)
	}
	*s = *fresh
	return nil
}

// fingerprint summarises the data (not the sessions) for convergence checks.
func (s *kvStore) fingerprint() string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, s.Data[k])
	}
	return b.String()
}
