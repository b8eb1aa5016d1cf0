package sim

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/raftkv/raftkv/internal/raft"
)

// Named scenarios after the public Raft lab suites, run on the simulator.
// Every cluster here checks all safety invariants after every event; the
// tests add the liveness and agreement each scenario is about.

const ms = Time(time.Millisecond)

// scenario builds a cluster with a fixed seed and fails the test, printing
// the seed, on any violation.
type scenario struct {
	t *testing.T
	c *Cluster
}

func newScenario(t *testing.T, seed int64, o Options) *scenario {
	t.Helper()
	o.Seed = seed
	o.Trace = true
	c, err := New(o)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	s := &scenario{t: t, c: c}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d; last trace lines:\n%s", seed, tail(c.Trace(), 40))
		}
	})
	return s
}

func tail(b []byte, lines int) string {
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n > lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

func (s *scenario) run(d Time) {
	s.t.Helper()
	if err := s.c.RunFor(d); err != nil {
		s.t.Fatalf("seed %d: %v", s.c.opt.Seed, err)
	}
}

func (s *scenario) until(what string, d Time, cond func() bool) {
	s.t.Helper()
	ok, err := s.c.RunUntil(cond, d)
	if err != nil {
		s.t.Fatalf("seed %d: %v", s.c.opt.Seed, err)
	}
	if !ok {
		s.t.Fatalf("seed %d: %s: not within %s\n%s", s.c.opt.Seed, what, time.Duration(d), s.c.convergenceSummary())
	}
}

// leader waits for a leader among the given nodes (all if none given).
func (s *scenario) leader(d Time, among ...uint64) uint64 {
	s.t.Helper()
	var l uint64
	s.until("a leader is elected", d, func() bool {
		l = s.leaderAmong(among)
		return l != 0
	})
	return l
}

func (s *scenario) leaderAmong(among []uint64) uint64 {
	var best, term uint64
	for _, n := range s.c.nodes {
		if !n.up || n.soft.Role != raft.Leader {
			continue
		}
		if len(among) > 0 && !contains(among, n.id) {
			continue
		}
		if t := n.drv.Raft().Term(); t > term {
			best, term = n.id, t
		}
	}
	return best
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// propose hands a put to the current leader of the given nodes and returns
// its index, without waiting for it to commit.
func (s *scenario) propose(v string, among ...uint64) uint64 {
	s.t.Helper()
	for i := 0; i < 50; i++ {
		l := s.leader(Time(5*time.Second), among...)
		idx, err := s.c.Propose(l, encodePut("k", v))
		if err == nil {
			return idx
		}
		s.run(50 * ms)
	}
	s.t.Fatalf("seed %d: could not propose %q", s.c.opt.Seed, v)
	return 0
}

// commit proposes a put to the current leader of the given nodes until
// that leader applies it (a deposed leader that has not noticed yet may
// take a proposal it can never commit), and returns its index.
func (s *scenario) commit(v string, among ...uint64) uint64 {
	s.t.Helper()
	for i := 0; i < 20; i++ {
		l := s.leader(Time(5*time.Second), among...)
		idx, err := s.c.Propose(l, encodePut("k", v))
		if err != nil {
			s.run(50 * ms)
			continue
		}
		ok, err := s.c.RunUntil(func() bool {
			return s.appliedBy(idx, v, l) == 1 || !s.c.Up(l) || s.c.Node(l).Role() != raft.Leader
		}, Time(2*time.Second))
		if err != nil {
			s.t.Fatalf("seed %d: %v", s.c.opt.Seed, err)
		}
		if ok && s.appliedBy(idx, v, l) == 1 {
			return idx
		}
	}
	s.t.Fatalf("seed %d: could not commit %q\n%s", s.c.opt.Seed, v, s.c.convergenceSummary())
	return 0
}

// appliedBy counts running nodes among ids that applied index with value v.
func (s *scenario) appliedBy(index uint64, v string, ids ...uint64) int {
	n := 0
	for _, id := range ids {
		if s.c.AppliedIndex(id) < index {
			continue
		}
		if e, ok := s.entryAt(id, index); ok && string(e.Data) == string(encodePut("k", v)) {
			n++
		}
	}
	return n
}

func (s *scenario) entryAt(id, index uint64) (raft.Entry, bool) {
	r := s.c.Node(id)
	if r == nil {
		return raft.Entry{}, false
	}
	es, err := r.Entries(index, index+1)
	if err != nil {
		return raft.Entry{}, false
	}
	return es[0], true
}

func (s *scenario) waitApplied(index uint64, v string, want int, d Time, ids ...uint64) {
	s.t.Helper()
	s.until(fmt.Sprintf("%d nodes apply %q at %d", want, v, index), d, func() bool {
		return s.appliedBy(index, v, ids...) >= want
	})
}

func all(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

func without(ids []uint64, drop ...uint64) []uint64 {
	var out []uint64
	for _, id := range ids {
		if !contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestInitialElection(t *testing.T) {
	s := newScenario(t, 1, Options{Nodes: 3})
	l := s.leader(2 * Time(time.Second))
	term := s.c.Node(l).Term()
	// With no failures the leader and term stay put.
	s.run(3 * Time(time.Second))
	if got := s.leaderAmong(nil); got != l || s.c.Node(l).Term() != term {
		t.Fatalf("leader changed without failures: %d term %d -> %d term %d", l, term, got, s.c.Node(got).Term())
	}
	for _, id := range all(3) {
		if r := s.c.Node(id); r.Term() != term || r.Leader() != l {
			t.Fatalf("node %d believes leader %d term %d, want %d term %d", id, r.Leader(), r.Term(), l, term)
		}
	}
}

func TestReElection(t *testing.T) {
	s := newScenario(t, 2, Options{Nodes: 3})
	ids := all(3)
	l1 := s.leader(2 * Time(time.Second))
	// The leader is cut off: the other two elect a new one.
	s.c.Partition([]uint64{l1}, without(ids, l1))
	l2 := s.leader(3*Time(time.Second), without(ids, l1)...)
	// The old leader rejoins and must not disturb the new one.
	s.c.Heal()
	s.run(2 * Time(time.Second))
	if got := s.leaderAmong(nil); got != l2 {
		t.Fatalf("rejoining old leader %d disturbed leader %d (now %d)", l1, l2, got)
	}
	// Without a majority nobody can be elected.
	other := without(ids, l2)[0]
	s.c.Partition([]uint64{l2}, []uint64{other}, without(ids, l2, other))
	s.run(3 * Time(time.Second))
	for _, id := range ids {
		if s.c.Node(id).Role() == raft.Leader && s.c.Node(id).Term() > s.c.Node(l2).Term() {
			t.Fatalf("node %d elected without a majority", id)
		}
	}
	// A majority again: a leader again.
	s.c.Heal()
	s.leader(3 * Time(time.Second))
}

func TestManyElections(t *testing.T) {
	s := newScenario(t, 3, Options{Nodes: 7})
	rng := rand.New(rand.NewPCG(3, 3))
	s.leader(2 * Time(time.Second))
	for round := 0; round < 10; round++ {
		down := rng.Perm(7)[:3]
		var cut []uint64
		for _, d := range down {
			cut = append(cut, uint64(d+1))
		}
		s.c.Partition(without(all(7), cut...), cut[:1], cut[1:2], cut[2:])
		s.leader(3*Time(time.Second), without(all(7), cut...)...)
		s.c.Heal()
	}
	s.leader(3 * Time(time.Second))
}

func TestBasicAgreement(t *testing.T) {
	for _, n := range []int{3, 5} {
		s := newScenario(t, 4, Options{Nodes: n})
		s.leader(2 * Time(time.Second))
		prev := uint64(0)
		for i := 0; i < 5; i++ {
			v := fmt.Sprintf("v%d", i)
			idx := s.commit(v)
			if prev != 0 && idx != prev+1 {
				t.Fatalf("entry %d landed at %d after %d", i, idx, prev)
			}
			prev = idx
			s.waitApplied(idx, v, n, 2*Time(time.Second), all(n)...)
		}
	}
}

func TestFailAgree(t *testing.T) {
	s := newScenario(t, 5, Options{Nodes: 3})
	ids := all(3)
	l := s.leader(2 * Time(time.Second))
	f := without(ids, l)[0]
	s.c.Partition([]uint64{f}, without(ids, f))
	for i := 0; i < 4; i++ {
		v := fmt.Sprintf("a%d", i)
		idx := s.commit(v, without(ids, f)...)
		s.waitApplied(idx, v, 2, 2*Time(time.Second), without(ids, f)...)
	}
	s.c.Heal()
	idx := s.commit("back")
	s.waitApplied(idx, "back", 3, 3*Time(time.Second), ids...)
}

func TestFailNoAgree(t *testing.T) {
	s := newScenario(t, 6, Options{Nodes: 5})
	ids := all(5)
	l := s.leader(2 * Time(time.Second))
	cut := without(ids, l)[:3]
	s.c.Partition(without(ids, cut...), cut)
	idx := s.propose("lonely")
	s.run(2 * Time(time.Second))
	for _, id := range ids {
		if s.c.AppliedIndex(id) >= idx {
			if e, ok := s.entryAt(id, idx); ok && string(e.Data) == string(encodePut("k", "lonely")) {
				t.Fatalf("node %d applied an entry proposed without a majority", id)
			}
		}
	}
	s.c.Heal()
	idx2 := s.commit("after")
	s.waitApplied(idx2, "after", 5, 5*Time(time.Second), ids...)
}

func TestConcurrentProposals(t *testing.T) {
	s := newScenario(t, 7, Options{Nodes: 3})
	l := s.leader(2 * Time(time.Second))
	seen := map[uint64]bool{}
	var idxs []uint64
	for i := 0; i < 20; i++ {
		idx, err := s.c.Propose(l, encodePut("k", fmt.Sprintf("c%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if seen[idx] {
			t.Fatalf("two proposals at index %d", idx)
		}
		seen[idx] = true
		idxs = append(idxs, idx)
	}
	for i, idx := range idxs {
		s.waitApplied(idx, fmt.Sprintf("c%d", i), 3, 2*Time(time.Second), all(3)...)
	}
}

func TestRejoinOfDeposedLeader(t *testing.T) {
	s := newScenario(t, 8, Options{Nodes: 3})
	ids := all(3)
	l1 := s.leader(2 * Time(time.Second))
	idx := s.commit("base")
	s.waitApplied(idx, "base", 3, 2*Time(time.Second), ids...)
	// The leader is cut off and takes proposals that cannot commit.
	s.c.Partition([]uint64{l1}, without(ids, l1))
	for i := 0; i < 3; i++ {
		if _, err := s.c.Propose(l1, encodePut("k", "doomed")); err != nil {
			t.Fatal(err)
		}
	}
	// The others elect a leader and commit.
	l2 := s.leader(3*Time(time.Second), without(ids, l1)...)
	idx2 := s.commit("new", without(ids, l1)...)
	s.waitApplied(idx2, "new", 2, 2*Time(time.Second), without(ids, l1)...)
	// The new leader is cut off; the old one comes back.
	s.c.Partition([]uint64{l2}, without(ids, l2))
	idx3 := s.commit("rejoined", without(ids, l2)...)
	s.waitApplied(idx3, "rejoined", 2, 3*Time(time.Second), without(ids, l2)...)
	s.c.Heal()
	idx4 := s.commit("all")
	s.waitApplied(idx4, "all", 3, 3*Time(time.Second), ids...)
	for _, id := range ids {
		if s.appliedBy(idx2, "new", id) != 1 {
			t.Fatalf("node %d lost the committed entry at %d", id, idx2)
		}
	}
}

func TestBackupOverConflictingEntries(t *testing.T) {
	s := newScenario(t, 9, Options{Nodes: 5})
	ids := all(5)
	l1 := s.leader(2 * Time(time.Second))
	idx := s.commit("base")
	s.waitApplied(idx, "base", 5, 2*Time(time.Second), ids...)
	// Leader and one follower are cut off and append 50 doomed entries.
	f1 := without(ids, l1)[0]
	minority := []uint64{l1, f1}
	s.c.Partition(minority, without(ids, minority...))
	for i := 0; i < 50; i++ {
		if _, err := s.c.Propose(l1, encodePut("k", "doomed")); err != nil {
			t.Fatal(err)
		}
	}
	// The majority commits 50 entries of its own.
	majority := without(ids, minority...)
	var last uint64
	for i := 0; i < 50; i++ {
		last = s.commit(fmt.Sprintf("good%d", i), majority...)
	}
	s.waitApplied(last, "good49", 3, 5*Time(time.Second), majority...)
	// Heal: the minority's conflicting logs must be repaired in a few
	// round trips, not 50.
	before := s.c.Sent()[raft.MsgAppResp]
	s.c.Heal()
	s.waitApplied(last, "good49", 5, 5*Time(time.Second), ids...)
	if rejects := s.c.Sent()[raft.MsgAppResp] - before; rejects > 30 {
		t.Errorf("repairing two followers 50 entries off took %d append responses", rejects)
	}
}

func TestMessageCounts(t *testing.T) {
	o := Options{Nodes: 3, HeartbeatTick: 10, ElectionTick: 30}
	s := newScenario(t, 10, o)
	l := s.leader(2 * Time(time.Second))
	// The election, its no-op and the answers.
	s.run(20 * ms)
	if got := s.c.TotalSent(); got > 30 {
		t.Errorf("electing a 3-node leader took %d messages, want <= 30", got)
	}
	before := s.c.TotalSent()
	for i := 0; i < 10; i++ {
		v := fmt.Sprintf("m%d", i)
		idx, err := s.c.Propose(l, encodePut("k", v))
		if err != nil {
			t.Fatal(err)
		}
		s.waitApplied(idx, v, 1, Time(time.Second), l)
	}
	if got := s.c.TotalSent() - before; got > 42 {
		t.Errorf("agreeing on 10 entries took %d messages, want <= 42", got)
	}
	s.run(Time(time.Second)) // settle
	before = s.c.TotalSent()
	s.run(Time(time.Second))
	if got := s.c.TotalSent() - before; got > 60 {
		t.Errorf("an idle second cost %d messages, want <= 60", got)
	}
}

func TestPersistenceAcrossRestarts(t *testing.T) {
	s := newScenario(t, 11, Options{Nodes: 3, LoseUnsynced: true})
	ids := all(3)
	s.leader(2 * Time(time.Second))
	var idxs []uint64
	for i := 0; i < 5; i++ {
		idxs = append(idxs, s.commit(fmt.Sprintf("p%d", i)))
	}
	s.waitApplied(idxs[4], "p4", 3, 2*Time(time.Second), ids...)
	// Everyone crashes at once and comes back.
	for _, id := range ids {
		s.c.Crash(id)
	}
	for _, id := range ids {
		if err := s.c.Restart(id); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		// Crash the leader repeatedly; every committed entry survives.
		l := s.leader(3 * Time(time.Second))
		idx := s.commit(fmt.Sprintf("r%d", i))
		s.waitApplied(idx, fmt.Sprintf("r%d", i), 2, 2*Time(time.Second), ids...)
		s.c.Crash(l)
		s.run(100 * ms)
		if err := s.c.Restart(l); err != nil {
			t.Fatal(err)
		}
	}
	final := s.commit("final")
	s.waitApplied(final, "final", 3, 3*Time(time.Second), ids...)
	for i, idx := range idxs {
		if got := s.appliedBy(idx, fmt.Sprintf("p%d", i), ids...); got != 3 {
			t.Fatalf("entry %d survived on %d nodes, want 3", idx, got)
		}
	}
}

// figure8 crashes leaders at random moments with proposals in flight (the
// situation of the paper's Figure 8); the checkers verify that no committed
// entry is ever lost, then everything must converge.
func figure8(t *testing.T, seed int64, unreliable bool) {
	o := Options{Nodes: 5, LoseUnsynced: true}
	if unreliable {
		o.Net = NetOptions{Loss: 0.1, MinDelay: ms, MaxDelay: 60 * ms}
	}
	s := newScenario(t, seed, o)
	rng := rand.New(rand.NewPCG(uint64(seed), 8))
	ids := all(5)
	up := 5
	for iter := 0; iter < 100; iter++ {
		if l := s.leaderAmong(nil); l != 0 {
			_, _ = s.c.Propose(l, encodePut("k", fmt.Sprintf("f%d", iter)))
		}
		if rng.IntN(1000) < 100 {
			s.run(Time(rng.IntN(500)) * ms)
		} else {
			s.run(Time(rng.IntN(13)) * ms)
		}
		if l := s.leaderAmong(nil); l != 0 && up > 3 {
			s.c.Crash(l)
			up--
		}
		if up < 3 {
			for _, id := range ids {
				if !s.c.Up(id) {
					_ = s.c.Restart(id)
					up++
					break
				}
			}
		}
	}
	for _, id := range ids {
		_ = s.c.Restart(id)
	}
	s.c.SetLoss(0)
	idx := s.commit("end")
	s.waitApplied(idx, "end", 5, 10*Time(time.Second), ids...)
}

func TestFigure8(t *testing.T)           { figure8(t, 12, false) }
func TestFigure8Unreliable(t *testing.T) { figure8(t, 13, true) }

// churn runs clients while nodes crash, restart and get cut off, then
// checks every request is answered and the history is linearizable.
func churn(t *testing.T, seed int64, unreliable bool) {
	o := Options{Nodes: 5, LeaseReads: true,
		Clients: ClientOptions{Clients: 5, Ops: 60, Keys: 4, GetRatio: 0.5, Think: 20 * ms, Timeout: 300 * ms}}
	if unreliable {
		o.Net = NetOptions{Loss: 0.1, Dup: 0.05, MinDelay: ms, MaxDelay: 30 * ms}
	}
	s := newScenario(t, seed, o)
	rng := rand.New(rand.NewPCG(uint64(seed), 9))
	for i := 0; i < 40; i++ {
		id := uint64(1 + rng.IntN(5))
		switch rng.IntN(4) {
		case 0:
			s.c.Crash(id)
		case 1:
			_ = s.c.Restart(id)
		case 2:
			s.c.Partition([]uint64{id}, without(all(5), id))
		default:
			s.c.Heal()
		}
		s.run(Time(50+rng.IntN(300)) * ms)
	}
	s.c.Heal()
	s.c.SetLoss(0)
	s.c.SetDup(0)
	for _, id := range all(5) {
		_ = s.c.Restart(id)
	}
	s.until("every client finishes", 30*Time(time.Second), s.c.ClientsDone)
	res, _, ops := s.c.linearizable(10 * time.Second)
	if res != "Ok" {
		t.Fatalf("seed %d: history of %d operations is %s", seed, len(ops), res)
	}
	if s.c.Stats().Completed != 300 {
		t.Fatalf("completed %d operations, want 300", s.c.Stats().Completed)
	}
}

func TestReliableChurn(t *testing.T)   { churn(t, 14, false) }
func TestUnreliableChurn(t *testing.T) { churn(t, 15, true) }

func TestSnapshotInstallToLaggingFollower(t *testing.T) {
	s := newScenario(t, 16, Options{Nodes: 3, SnapshotEvery: 10})
	ids := all(3)
	l := s.leader(2 * Time(time.Second))
	lag := without(ids, l)[0]
	s.c.Crash(lag)
	var last uint64
	for i := 0; i < 60; i++ {
		last = s.commit(fmt.Sprintf("s%d", i))
	}
	s.waitApplied(last, "s59", 2, 3*Time(time.Second), without(ids, lag)...)
	if st := s.c.Node(l).Status(); st.SnapshotIndex < 40 {
		t.Fatalf("leader's log not compacted: snapshot at %d", st.SnapshotIndex)
	}
	if err := s.c.Restart(lag); err != nil {
		t.Fatal(err)
	}
	snaps := s.c.Sent()[raft.MsgSnap]
	s.until("the lagging follower catches up", 5*Time(time.Second), func() bool {
		return s.c.AppliedIndex(lag) >= last
	})
	if s.c.Sent()[raft.MsgSnap] == snaps {
		t.Fatal("the follower caught up without a snapshot; the test did not exercise install")
	}
	if fp, want := s.c.nodes[lag-1].kv.fingerprint(), s.c.nodes[l-1].kv.fingerprint(); fp != want {
		t.Fatalf("follower state after snapshot differs from the leader's")
	}
}

func TestExactlyOnceUnderRetries(t *testing.T) {
	// Short client timeouts and a lossy network make clients retry
	// requests that already took effect; the state machine must apply
	// each once, and the checker fails the run otherwise.
	o := Options{Nodes: 3, Net: NetOptions{Loss: 0.2, MinDelay: ms, MaxDelay: 40 * ms},
		Clients: ClientOptions{Clients: 4, Ops: 50, Keys: 3, GetRatio: 0.2, Timeout: 60 * ms}}
	s := newScenario(t, 17, o)
	rng := rand.New(rand.NewPCG(17, 17))
	for i := 0; i < 10; i++ {
		s.run(Time(200+rng.IntN(300)) * ms)
		if l := s.leaderAmong(nil); l != 0 {
			s.c.Crash(l)
			s.run(100 * ms)
			_ = s.c.Restart(l)
		}
	}
	s.c.SetLoss(0)
	s.until("every client finishes", 30*Time(time.Second), s.c.ClientsDone)
	st := s.c.Stats()
	if st.Retries == 0 || st.Deduplicated == 0 {
		t.Fatalf("no retry was deduplicated (retries %d, deduplicated %d): the test exercised nothing", st.Retries, st.Deduplicated)
	}
	if res, _, _ := s.c.linearizable(10 * time.Second); res != "Ok" {
		t.Fatalf("history is %s", res)
	}
	t.Logf("%d retries, %d deduplicated applications", st.Retries, st.Deduplicated)
}

func TestChainReplicationAcknowledgesOnce(t *testing.T) {
	// With chain replication and no faults every put is acknowledged by
	// exactly one node (the chain's tail), and by no other.
	o := Options{Nodes: 5, EagerFollowers: 2, Chain: true, ChainAckDelayTicks: 2, RetransmitTicks: 5, ReplyByAck: true,
		Clients: ClientOptions{Clients: 4, Ops: 50, Keys: 4, GetRatio: 0.3, Think: 30 * ms}}
	s := newScenario(t, 18, o)
	s.until("every client finishes", 30*Time(time.Second), s.c.ClientsDone)
	st := s.c.Stats()
	if st.DuplicateAcks != 0 {
		t.Fatalf("%d requests acknowledged by more than one node", st.DuplicateAcks)
	}
	if res, _, _ := s.c.linearizable(10 * time.Second); res != "Ok" {
		t.Fatalf("history is %s", res)
	}
}
