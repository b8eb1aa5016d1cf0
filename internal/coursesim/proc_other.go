//go:build unix && !linux

package coursesim

import "syscall"

// replicaSysProcAttr puts a replica in its own process group, so that one
// signal to the group kills it and anything it started.
func replicaSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
