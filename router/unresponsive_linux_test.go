package router_test

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// unresponsiveAddr returns a loopback address whose listen backlog is full,
// so new connection attempts hang (the kernel drops their SYNs): a real
// connect timeout without any routing tricks.
func unresponsiveAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (backlog 0 admits one) and keep it full.
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr // the queue is full: dials time out
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen backlog on this kernel")
	return ""
}
