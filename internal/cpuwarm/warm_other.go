//go:build !linux

package cpuwarm

// Start does nothing outside Linux.
func Start() {}
