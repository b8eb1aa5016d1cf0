//go:build !linux

package main

// keepWarm does nothing outside Linux.
func keepWarm() {}
