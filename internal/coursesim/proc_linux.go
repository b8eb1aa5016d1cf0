package coursesim

import "syscall"

// replicaSysProcAttr puts a replica in its own process group, so that one
// signal to the group kills it and anything it started, and asks the
// kernel to kill it should the simulator itself die without cleaning up.
func replicaSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
