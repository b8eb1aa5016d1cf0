// Package sim is the deterministic simulation of whole raftkv clusters. It
// runs the production driver (internal/node) and the consensus core over a
// simulated disk, network and clock, all on virtual time and driven by one
// seed, and checks Raft's safety properties after every event:
//
//   - at most one leader per term (election safety);
//   - logs that share an entry share everything before it (log matching),
//     checked on what each node persists, by chaining hashes;
//   - an entry committed in a term is in the log of every leader of a later
//     term (leader completeness);
//   - every node applies the same entry at an index, applies indexes in
//     order, and never takes an older snapshot (state machine safety);
//   - no client request takes effect twice, and every acknowledged write is
//     the entry committed at the index the acknowledgement names.
//
// RunSeed runs one random scenario: faults (loss, duplication, reordering,
// partitions of three kinds, crashes of one node, a majority or all, with or
// without losing unsynced writes, pauses, leadership transfers) while
// clients run, then a liveness phase in which everything heals and every
// pending request must be answered and every node converge within a stated
// bound, then a linearizability check of the client history with porcupine.
// Cluster is the scriptable API the named scenarios use.
//
// Nothing but tests and cmd/ imports this package.
package sim
