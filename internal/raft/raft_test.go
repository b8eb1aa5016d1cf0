package raft

import (
	"slices"
	"testing"
)

func TestElectionAndReplication(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		tn := newTestNet(t, n, nil)
		l := tn.elect()
		for i := 0; i < 10; i++ {
			tn.propose(l, "v"+string(rune('a'+i)))
		}
		tn.settle()
		tn.tickAll(2) // commit index travels with the next message
		want := tn.appliedData(l)
		if len(want) != 10 {
			t.Fatalf("n=%d: leader applied %d entries, want 10\n%s", n, len(want), tn)
		}
		for _, id := range tn.ids {
			if got := tn.appliedData(id); !slices.Equal(got, want) {
				t.Fatalf("n=%d: node %d applied %v, want %v", n, id, got, want)
			}
		}
	}
}

func TestLeaderAcksItsOwnTermOnly(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	idx := tn.propose(l, "x")
	tn.settle()
	var acked []uint64
	for _, id := range tn.ids {
		for _, a := range tn.nodes[id].acks {
			for i := a.Lo; i <= a.Hi; i++ {
				if id != l {
					t.Fatalf("follower %d acknowledged %d in fan-out mode", id, i)
				}
				acked = append(acked, i)
			}
		}
	}
	if !slices.Contains(acked, idx) {
		t.Fatalf("leader did not acknowledge entry %d: acks %v", idx, acked)
	}
}

func TestChainReplicationTailAcknowledges(t *testing.T) {
	tn := newTestNet(t, 5, func(c *Config) {
		c.EagerFollowers = 2
		c.Chain = true
		c.RetransmitTicks = 3
	})
	l := tn.elect()
	tn.tickAll(3)
	before := tn.sent[MsgApp] + tn.sent[MsgAppResp]
	idx := tn.propose(l, "x")
	tn.settle()
	after := tn.sent[MsgApp] + tn.sent[MsgAppResp]
	if after-before != 3 {
		t.Errorf("one chained proposal cost %d messages, want 3 (two hops and the tail's answer)", after-before)
	}
	count := 0
	for _, id := range tn.ids {
		for _, a := range tn.nodes[id].acks {
			if a.Lo <= idx && idx <= a.Hi {
				count++
				if id == l {
					t.Errorf("leader acknowledged a chained entry")
				}
			}
		}
	}
	if count != 1 {
		t.Fatalf("entry %d acknowledged by %d nodes, want exactly 1", idx, count)
	}
	if got := tn.nodes[l].r.Status().Commit; got < idx {
		t.Fatalf("leader commit %d, want >= %d once the tail answered", got, idx)
	}
}

// TestChainFirstRetransmit: when the leader's chain append is lost, the
// entry lives on the leader alone until it is resent. With
// ChainFirstRetransmitTicks the resend comes after that many ticks, not
// after RetransmitTicks, provided the chain's previous stretch went
// through without a resend; and an answered chain is never resent.
func TestChainFirstRetransmit(t *testing.T) {
	for _, first := range []int{0, 2} {
		tn := newTestNet(t, 5, func(c *Config) {
			c.EagerFollowers = 2
			c.Chain = true
			c.RetransmitTicks = 50
			c.ChainFirstRetransmitTicks = first
			// Heartbeats would repair the chain too: keep them out of the way.
			c.HeartbeatTick = 30
			c.ElectionTick = 100
		})
		l := tn.elect()
		tn.tickAll(3)
		chainSends := 0
		dropNext := false
		tn.drop = func(m Message) bool {
			if m.Type == MsgApp && m.From == l && len(m.Chain) > 0 {
				chainSends++
				if dropNext {
					dropNext = false
					return true
				}
			}
			return false
		}
		// An answered chain is left alone.
		tn.propose(l, "answered")
		tn.settle()
		tn.tickAll(10)
		if chainSends != 1 {
			t.Fatalf("first=%d: an answered chain append went out %d times, want once", first, chainSends)
		}
		dropNext = true
		idx := tn.propose(l, "lost")
		tn.settle()
		tn.tickAll(3)
		committed := tn.nodes[l].r.Status().Commit >= idx
		if first == 0 && committed {
			t.Fatalf("first=0: entry %d committed within 3 ticks of a lost append; the test no longer loses it", idx)
		}
		if first > 0 && !committed {
			t.Fatalf("first=%d: entry %d not committed 3 ticks after its chain append was lost (chain sends %d)", first, idx, chainSends)
		}
		if first == 0 {
			continue
		}
		// That stretch needed a resend: on a chain that just failed, the
		// next loss waits for the steady cadence.
		dropNext = true
		idx = tn.propose(l, "lost after a failure")
		tn.settle()
		tn.tickAll(3)
		if tn.nodes[l].r.Status().Commit >= idx {
			t.Fatalf("entry %d resent early right after a failed stretch", idx)
		}
		tn.tickAll(50)
		if tn.nodes[l].r.Status().Commit < idx {
			t.Fatalf("entry %d not committed after RetransmitTicks", idx)
		}
	}
}

func TestReadIndexAndLease(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	tn.propose(l, "x")
	tn.settle()
	tn.tickAll(1)
	r := tn.nodes[l].r
	if !r.LeaseValid() {
		t.Fatalf("leader should hold a lease after a round of acks\n%s", tn)
	}
	sent := tn.sent[MsgHeartbeat]
	if err := r.ReadIndex(1, ReadLease); err != nil {
		t.Fatal(err)
	}
	tn.settle()
	if tn.sent[MsgHeartbeat] != sent {
		t.Errorf("lease read sent heartbeats")
	}
	if err := r.ReadIndex(2, ReadIndexSafe); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadIndex(3, ReadIndexSafe); err != nil {
		t.Fatal(err)
	}
	tn.settle()
	if got := tn.sent[MsgHeartbeat] - sent; got != 2 {
		t.Errorf("two queued reads cost %d heartbeats, want one round (2)", got)
	}
	var ctxs []uint64
	for _, rs := range tn.nodes[l].reads {
		ctxs = append(ctxs, rs.Ctx)
		if rs.Index != r.Status().Commit {
			t.Errorf("read %d at index %d, commit %d", rs.Ctx, rs.Index, r.Status().Commit)
		}
	}
	if !slices.Equal(ctxs, []uint64{1, 2, 3}) {
		t.Fatalf("reads served: %v, want [1 2 3]", ctxs)
	}
	if err := tn.nodes[tn.ids[0]%3+1].r.ReadIndex(4, ReadIndexSafe); err == nil && tn.ids[0]%3+1 != l {
		t.Fatal("follower accepted a read")
	}
}

func TestIsolatedLeaderStepsDownAndCannotServeReads(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	tn.isolated[l] = true
	r := tn.nodes[l].r
	if err := r.ReadIndex(9, ReadIndexSafe); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		tn.tickAll(1)
	}
	if r.Role() == Leader {
		t.Fatal("isolated leader did not step down (CheckQuorum)")
	}
	if len(tn.nodes[l].reads) != 0 {
		t.Fatalf("isolated leader served a read: %v", tn.nodes[l].reads)
	}
	delete(tn.isolated, l)
	nl := tn.elect()
	if nl == l {
		t.Fatalf("old leader re-elected while the other two had a leader")
	}
}

func TestLeadershipTransfer(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	target := l%3 + 1
	tn.propose(l, "a")
	tn.settle()
	if err := tn.nodes[l].r.TransferLeadership(target); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tn.nodes[l].r.Propose(Proposal{Data: []byte("b")}); err != ErrTransferring {
		t.Fatalf("propose during transfer: %v, want ErrTransferring", err)
	}
	tn.settle()
	if got := tn.leader(); got != target {
		t.Fatalf("leader after transfer is %d, want %d\n%s", got, target, tn)
	}
}

func TestFastBacktrackingOverConflictingTerm(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	tn.propose(l, "base")
	tn.settle()
	tn.tickAll(2)
	// Cut the leader off and let it append 50 entries nobody will commit.
	tn.isolated[l] = true
	for i := 0; i < 50; i++ {
		tn.propose(l, "doomed")
	}
	tn.settle()
	nl := tn.elect()
	for i := 0; i < 5; i++ {
		tn.propose(nl, "good")
	}
	tn.settle()
	// Let the old leader step down, then heal and count the appends it takes.
	tn.tickAll(25)
	delete(tn.isolated, l)
	before := tn.sent[MsgAppResp]
	tn.tickAll(3)
	if got := tn.appliedData(l); !slices.Contains(got, "good") || slices.Contains(got, "doomed") {
		t.Fatalf("old leader applied %v", got)
	}
	if rejects := tn.sent[MsgAppResp] - before; rejects > 8 {
		t.Errorf("repairing 50 conflicting entries took %d responses, want a handful", rejects)
	}
}

func TestSnapshotInstallToLaggingFollower(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	lag := l%3 + 1
	tn.isolated[lag] = true
	for i := 0; i < 20; i++ {
		tn.propose(l, "e")
	}
	tn.settle()
	tn.tickAll(2)
	r := tn.nodes[l].r
	st := r.Status()
	term, _ := r.LogTerm(st.Applied)
	snap := Snapshot{Meta: SnapshotMeta{Index: st.Applied, Term: term}, Data: []byte("image")}
	if err := r.Compact(snap); err != nil {
		t.Fatal(err)
	}
	tn.nodes[l].snap = &snap
	delete(tn.isolated, lag)
	tn.tickAll(5)
	n := tn.nodes[lag]
	if n.snap == nil || n.snap.Meta.Index != snap.Meta.Index || string(n.snap.Data) != "image" {
		t.Fatalf("lagging follower did not install the snapshot: %+v", n.snap)
	}
	if got := n.r.Status().Commit; got < snap.Meta.Index {
		t.Fatalf("follower commit %d after snapshot %d", got, snap.Meta.Index)
	}
}

func TestRestartKeepsVoteAndLog(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	tn.propose(l, "a")
	tn.settle()
	tn.tickAll(2)
	before := tn.nodes[l].r.Status()
	tn.start(l)
	after := tn.nodes[l].r.Status()
	if after.Term != before.Term || after.Vote != before.Vote || after.LastIndex != before.LastIndex {
		t.Fatalf("restart lost state: before %+v after %+v", before, after)
	}
}

// A brand-new cluster elects with FirstElectionTick: its nodes promised
// nothing to anyone, so they neither wait out a boot quiet period nor the
// full election timeout.
func TestFreshClusterElectsWithFirstElectionTick(t *testing.T) {
	tn := newTestNet(t, 5, func(c *Config) { c.ElectionTick, c.FirstElectionTick, c.HeartbeatTick = 100, 5, 10 })
	for i := 1; i <= 2*5+2; i++ {
		tn.tickAll(1)
		if tn.leader() != None {
			return
		}
	}
	t.Fatalf("no leader within 2*FirstElectionTick+2 ticks\n%s", tn)
}

// A node that restarts with a term refuses votes for one election timeout:
// a leader's lease may count on a promise it no longer remembers.
func TestRestartedNodeRefusesVotesForOneTimeout(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	l := tn.elect()
	tn.settle()
	var f uint64
	for _, id := range tn.ids {
		if id != l {
			f = id
			break
		}
	}
	tn.start(f)
	r := tn.nodes[f].r
	if !r.inLease() {
		t.Fatalf("restarted node %d at term %d is not in its boot quiet period", f, r.Term())
	}
	fresh := newTestNet(t, 3, nil)
	if fresh.nodes[1].r.inLease() {
		t.Fatal("a node booting at term 0 keeps a boot quiet period it does not need")
	}
}

// A candidate asks again the voters whose answers were lost, instead of
// waiting out another election timeout.
func TestCandidateResendsLostVoteRequests(t *testing.T) {
	lost := map[uint64]int{}
	tn := newTestNet(t, 3, func(c *Config) { c.ElectionTick, c.HeartbeatTick, c.RetransmitTicks = 50, 5, 3 })
	tn.drop = func(m Message) bool {
		if m.Type == MsgPreVote || m.Type == MsgVote {
			if lost[m.From] < 2 { // each candidate's first two requests vanish
				lost[m.From]++
				return true
			}
		}
		return false
	}
	start := tn.nodes[1].r.now
	l := tn.elect()
	if took := tn.nodes[l].r.now - start; took >= 2*50 {
		t.Fatalf("election took %d ticks despite resends; want < one election timeout range (100)", took)
	}
	if lost[l] < 2 {
		t.Fatalf("leader %d lost only %d vote requests; the test did not exercise resends", l, lost[l])
	}
}
