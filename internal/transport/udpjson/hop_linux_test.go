package udpjson

import (
	"errors"
	"runtime"
	"syscall"
	"time"
)

// blockingEcho echoes from a blocking socket on a locked OS thread: the
// kernel wakes this thread directly when a datagram arrives, with no
// netpoller or scheduler in between; SO_RCVTIMEO stands in for the tick.
func blockingEcho(announce func(port int)) error {
	runtime.LockOSThread()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	tv := syscall.NsecToTimeval(tickEvery.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return err
	}
	announce(sa.(*syscall.SockaddrInet4).Port)
	buf := make([]byte, 1<<16)
	next := time.Now().Add(tickEvery)
	for {
		n, from, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				next = next.Add(tickEvery)
				continue
			}
			return err
		}
		if err := syscall.Sendto(fd, buf[:n], 0, from); err != nil {
			return err
		}
	}
}
