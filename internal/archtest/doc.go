// Package archtest holds no code, only a test that reads the import graph
// of the whole module and enforces the layering rules of the architecture
// (pure core, transports below the node, simulators only under cmd/ and
// tests, process exits only in cmd/).
package archtest
