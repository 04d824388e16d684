package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// The API port speaks plain HTTP and HTTPS at once. The heroku CLI writes
// git remotes as https://<host of HEROKU_HOST>/<app>.git (heroku
// git:remote, apps:create, apps:rename, git:clone) whatever HEROKU_HOST's
// scheme, so with HEROKU_HOST=http://127.0.0.1:5001 its remotes are
// https://127.0.0.1:5001/<app>.git: this port must answer TLS too. The
// first byte of a connection tells them apart: a TLS connection opens
// with a handshake record (0x16), an HTTP request with a method's letter.

// sniffTimeout bounds the wait for a connection's first byte, as the API
// server's ReadHeaderTimeout bounds a request head.
const sniffTimeout = 10 * time.Second

// sniffListener hands out the connections of l, those that open with a TLS
// handshake as TLS server connections with config.
type sniffListener struct {
	net.Listener
	config *tls.Config

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	err       error // why the accept loop ended
}

func newSniffListener(l net.Listener, config *tls.Config) *sniffListener {
	s := &sniffListener{Listener: l, config: config, conns: make(chan net.Conn), done: make(chan struct{})}
	go s.acceptLoop()
	return s
}

func (s *sniffListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			var temp interface{ Temporary() bool }
			if errors.As(err, &temp) && temp.Temporary() { // out of file descriptors: back off
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-s.done:
				}
			}
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.Close()
			return
		}
		delay = 0
		// Sniffing waits on the client: never in the accept loop.
		go s.sniff(c)
	}
}

func (s *sniffListener) sniff(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReaderSize(c, 1)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var conn net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == 0x16 { // TLS handshake record
		conn = tls.Server(conn, s.config)
	}
	select {
	case s.conns <- conn:
	case <-s.done:
		c.Close()
	}
}

// Accept returns the next connection, plain or TLS (net/http's Server
// completes the handshake of a *tls.Conn and sets Request.TLS).
func (s *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			return nil, s.err
		}
		return nil, net.ErrClosed
	}
}

func (s *sniffListener) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.Listener.Close()
	})
	return err
}

// peekedConn is a connection whose first byte was read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
