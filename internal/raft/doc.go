// Package raft is the consensus core of raftkv: a pure, deterministic state
// machine implementing Raft (Ongaro and Ousterhout, "In Search of an
// Understandable Consensus Algorithm", and Ongaro's thesis).
//
// Work in progress: see DESIGN.md.
package raft
