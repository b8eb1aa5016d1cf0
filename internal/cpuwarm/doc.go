// Package cpuwarm keeps a CPU from going idle, for latency measurements on
// virtual machines: there, waking an idle virtual CPU for a datagram costs
// more than handling it. The classroom replica (cmd/3700kvstore) and the
// simulator's latency-floor benchmark use the same spinner, so that their
// figures are comparable.
package cpuwarm
