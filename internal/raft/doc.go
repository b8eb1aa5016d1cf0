// Package raft is the consensus core of raftkv: a pure, deterministic state
// machine implementing Raft (Ongaro and Ousterhout, "In Search of an
// Understandable Consensus Algorithm", and Ongaro's thesis, "Consensus:
// Bridging Theory and Practice").
//
// The core never reads a clock, opens a socket, touches a disk, starts a
// goroutine or calls the global random source. It takes three kinds of
// input: a message from a peer (Step), a logical clock tick (Tick), and a
// request from a client (Propose, ReadIndex, TransferLeadership). Its output
// is one batch of work at a time, a Ready. That is what lets a whole cluster
// run inside one test on virtual time, and a failing seed replay exactly
// (see internal/sim).
//
// # The contract with the driver
//
// This contract is written once, here, and implemented once, in
// internal/node's Driver. A driver loops:
//
//	for core.HasReady() {
//	    rd := core.Ready()
//	    // 1. persist rd.HardState, rd.Entries (replacing persisted entries
//	    //    at or after rd.Entries[0].Index) and rd.Snapshot; fsync if
//	    //    rd.MustSync
//	    // 2. send rd.Messages
//	    // 3. restore the state machine from rd.Snapshot if set; apply
//	    //    rd.CommittedEntries in order; answer the clients of entries in
//	    //    rd.Acks if this node is the one that answers clients
//	    // 4. serve each rd.ReadStates read once the state machine has
//	    //    applied its Index
//	    core.Advance()
//	}
//
// Between Ready and Advance the core must be given no other input. Persist
// before sending: a vote or an acknowledgement is a promise only once it is
// durable (paper Figure 2). A storage error is fatal: the driver stops.
//
// Ticks must keep pace with real time: a driver that skips ticks (a slow
// timer, a paused process) must deliver the missed ones, all of them, before
// anything else when it resumes. Leases depend on it.
//
// # Leases and their assumption
//
// With CheckQuorum, a follower that heard from a leader refuses to vote for
// anyone else for ElectionTick ticks of its own clock, and a node that just
// booted does the same (it may have forgotten such a promise). A leader
// therefore knows that no other leader can exist until ElectionTick ticks
// after it sent the messages a majority last acknowledged, as measured on
// the followers' clocks. It serves lease reads (ReadLease) until
// ElectionTick - LeaseDriftTicks ticks after that send, on its own clock.
//
// This is safe under one stated assumption: over one election timeout, no
// two nodes' tick rates differ by more than LeaseDriftTicks ticks (default
// ElectionTick/10, a 10% drift bound), and every node delivers every tick
// (see above). Leadership transfer voids the lease: a transfer target
// campaigns with votes that override the followers' refusal, so the leader
// stops serving lease reads the moment a transfer starts. ReadIndexSafe
// makes no timing assumption at all: it confirms leadership with a round of
// heartbeats, shared by every read registered meanwhile (thesis §6.4).
//
// # What the core implements
//
//   - Roles follower, pre-candidate, candidate and leader, each with its own
//     step and tick functions; randomised election timeouts drawn from a
//     seeded source; pre-vote (thesis §9.6); CheckQuorum (§6.2).
//   - RequestVote with the election restriction (paper §5.4.1).
//   - AppendEntries carrying many entries, bounded by count and bytes, with
//     optimistic pipelining in a bounded window per follower (probe and
//     replicate states), and fast backtracking: a rejection names the
//     conflicting term and where it starts, so each round trip skips a term.
//   - Commitment only by counting replicas of a current-term entry
//     (§5.4.2), with a no-op opening each term; the commit index travels in
//     the next message.
//   - Heartbeats only to followers the leader sent nothing else to for a
//     heartbeat interval.
//   - Linearizable reads by ReadIndex or lease, chosen per read.
//   - Leadership transfer (thesis §3.10).
//   - Log compaction: the log may start after a snapshot; followers behind
//     it get the snapshot, whose bytes come from the caller.
//   - Proposals carry a client ID and request ID, so the layer above can
//     answer from whichever node applies an entry and apply each request at
//     most once.
//   - For the classroom protocol, which counts messages: eager replication
//     to a subset of followers with batched catch-up of the rest, and chain
//     replication, where the last follower of a chain proves an entry
//     committed and answers its client itself (DESIGN.md).
//
// Membership is kept as data (a sorted member list, also recorded in
// snapshots) so that membership changes can come later without reshaping
// the core.
package raft
