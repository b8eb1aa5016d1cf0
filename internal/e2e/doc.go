// Package e2e holds end-to-end tests that build the raftkv binary and run
// real server processes on loopback: leader crashes with SIGKILL, whole
// cluster restarts, snapshot catch-up, damaged write-ahead logs and bad
// client input. It has no code of its own.
package e2e
