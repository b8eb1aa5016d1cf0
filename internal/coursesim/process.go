package coursesim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one replica process, the leader of its own process group so that
// a kill reaches everything it started.
type proc struct {
	cmd *exec.Cmd
	pid int
	// done is closed once the process has been reaped; status is set first.
	done   chan struct{}
	status string
}

// ResolveReplica checks that the replica program exists and is executable,
// and makes its path absolute, so that "3700kvstore" in the current
// directory is found there rather than in PATH. Callers running many
// scenarios use it to fail once, early, with a clear message.
func ResolveReplica(path string) (string, error) {
	if path == "" {
		return "", errors.New("no replica program given")
	}
	if !strings.ContainsRune(path, filepath.Separator) {
		if _, err := os.Stat(path); err != nil {
			found, lerr := exec.LookPath(path)
			if lerr != nil {
				return "", fmt.Errorf("replica program %q: not in the current directory nor in PATH; build it or pass its path", path)
			}
			return found, nil
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("replica program %q: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("replica program %q: %w (build it first, or pass its path)", path, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("replica program %q is not an executable file", path)
	}
	return abs, nil
}

// startReplica launches `path port id peers...` in a new process group.
// out receives its stdout and stderr; nil discards them.
func startReplica(path string, port int, id string, peers []string, out io.Writer) (*proc, error) {
	args := append([]string{strconv.Itoa(port), id}, peers...)
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = replicaSysProcAttr()
	// Bound Wait when a replica's children keep its output pipe open.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", id, err)
	}
	return &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}, nil
}

// wait reaps the process and records how it ended.
func (p *proc) wait() {
	err := p.cmd.Wait()
	switch {
	case err == nil:
		p.status = "exited with status 0"
	case p.cmd.ProcessState != nil:
		p.status = p.cmd.ProcessState.String()
	default:
		p.status = err.Error()
	}
	close(p.done)
}

// signalGroup sends sig to the process's whole group. A group that is
// already gone is not an error.
func (p *proc) signalGroup(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pid, err)
	}
	return nil
}
