//go:build linux

package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
)

// evloop is not the router: it is a measuring instrument for the question
// "what would an epoll event loop gain over the router's goroutine per
// connection?". A minimal proxy for the benchmark's traffic only — GET
// requests whose head arrives in one read, answered by a Content-Length
// response that arrives in one read — with one locked OS thread and epoll
// instance per loop (GOMAXPROCS loops), the dyno connections pooled per
// loop, and the headers the router adds written as a fixed block. No log
// line, metrics, request IDs, timeouts or checks: whatever it gains over
// the router is an upper bound for an event-loop front end. Anything
// outside that traffic is a fatal error.
func evloop(addr, backend string) {
	ba, err := net.ResolveTCPAddr("tcp4", backend)
	if err != nil {
		log.Fatal(err)
	}
	back := &syscall.SockaddrInet4{Port: ba.Port}
	copy(back.Addr[:], ba.IP.To4())
	la, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		log.Fatal(err)
	}
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	_ = syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	sa := &syscall.SockaddrInet4{Port: la.Port}
	copy(sa.Addr[:], la.IP.To4())
	if err := syscall.Bind(lfd, sa); err != nil {
		log.Fatal(err)
	}
	if err := syscall.Listen(lfd, 1024); err != nil {
		log.Fatal(err)
	}
	bound, _ := syscall.Getsockname(lfd)
	fmt.Printf("%s:%d\n", la.IP, bound.(*syscall.SockaddrInet4).Port) // run.sh reads it
	os.Stdout.Sync()

	loops := make([]*evLoop, runtime.GOMAXPROCS(0))
	for i := range loops {
		ep, err := syscall.EpollCreate1(0)
		if err != nil {
			log.Fatal(err)
		}
		loops[i] = &evLoop{ep: ep, conns: make([]atomic.Pointer[evConn], 1<<16), back: back}
		go loops[i].run()
	}
	for i := 0; ; i++ {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK)
		if err != nil {
			continue
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		loops[i%len(loops)].add(&evConn{fd: fd, buf: make([]byte, 4096)})
	}
}

type evConn struct {
	fd       int
	upstream bool
	peer     *evConn // a dyno connection's client while a request is in flight
	buf      []byte
}

type evLoop struct {
	ep    int
	conns []atomic.Pointer[evConn] // by fd; written by the accept loop too
	idle  []*evConn                // pooled dyno connections
	back  *syscall.SockaddrInet4
	out   []byte
}

// The headers the router adds for the dyno, so the dyno's work is the same.
var evHeaders = []byte("X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\n" +
	"X-Request-Start: 1763790000000\r\nX-Request-Id: 6f1c2a0e-4c1b-4f5e-9b1d-2b3c4d5e6f70\r\nVia: 1.1 evloop\r\n\r\n")

func (l *evLoop) add(c *evConn) {
	l.conns[c.fd].Store(c)
	ev := &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | 1<<31 /* EPOLLET */, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, c.fd, ev); err != nil {
		log.Fatal(err)
	}
}

func (l *evLoop) dyno() *evConn {
	if n := len(l.idle); n > 0 {
		u := l.idle[n-1]
		l.idle = l.idle[:n-1]
		return u
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	if err := syscall.Connect(fd, l.back); err != nil {
		log.Fatal(err)
	}
	_ = syscall.SetNonblock(fd, true)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	u := &evConn{fd: fd, upstream: true, buf: make([]byte, 8192)}
	l.add(u)
	return u
}

func (l *evLoop) run() {
	runtime.LockOSThread()
	evs := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(l.ep, evs, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range evs[:n] {
			if c := l.conns[ev.Fd].Load(); c != nil {
				l.handle(c)
			}
		}
	}
}

func (l *evLoop) handle(c *evConn) {
	for {
		n, err := syscall.Read(c.fd, c.buf)
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n <= 0 {
			l.conns[c.fd].Store(nil)
			syscall.Close(c.fd)
			return
		}
		if !c.upstream {
			end := bytes.Index(c.buf[:n], []byte("\r\n\r\n"))
			if end < 0 {
				log.Fatal("evloop: a request head in pieces")
			}
			u := l.dyno()
			u.peer = c
			l.out = append(append(l.out[:0], c.buf[:end+2]...), evHeaders...)
			if _, err := syscall.Write(u.fd, l.out); err != nil {
				log.Fatal(err)
			}
		} else {
			resp := c.buf[:n]
			i := bytes.Index(resp, []byte("Content-Length: "))
			j := bytes.Index(resp, []byte("\r\n\r\n"))
			if i < 0 || j < 0 {
				log.Fatal("evloop: a response head in pieces or without Content-Length")
			}
			cl, _ := strconv.Atoi(string(resp[i+16 : i+16+bytes.IndexByte(resp[i+16:], '\r')]))
			if j+4+cl != n {
				log.Fatal("evloop: a response body in pieces")
			}
			if _, err := syscall.Write(c.peer.fd, resp); err != nil {
				log.Print(err)
			}
			c.peer = nil
			l.idle = append(l.idle, c)
		}
		if n < len(c.buf) {
			return // drained: edge-triggered, a later arrival raises a new edge
		}
	}
}
