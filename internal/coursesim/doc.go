// Package coursesim is raftkv's faithful reimplementation of the classroom
// network simulator: every replica we ship must still work, unchanged,
// inside it. Run starts the replica processes, carries their UDP datagrams
// (with drops, partitions and kills), drives the simulated clients and
// judges the run as the course did; WriteText, WriteHTML and the Result's
// JSON report it. docs/classroom-simulator.md is the user's guide and lists
// every choice made where the protocol spec is silent.
//
// The package is split as the project splits everything: a pure core and
// an imperative shell. The engine (engine.go, client.go, faults.go and
// message.go) makes every decision and keeps every count; it does no I/O,
// reads no clock and draws only from seeded generators, so tests drive it
// datagram by datagram. The runner (run.go, process.go) owns the sockets,
// processes, goroutines and the clock: one goroutine per replica socket
// blocks in a read and, the moment a datagram arrives, asks the engine
// under one short lock what to do and writes the copies itself. Nothing sits between a
// datagram's arrival and its forwarding: no queue, timer or poll.
//
// Only tests and cmd/ import this package.
package coursesim
