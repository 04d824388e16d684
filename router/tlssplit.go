package router

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// tlsSplit accepts TLS connections, completes each handshake in a goroutine
// of its own (so a slow client holds up no one else), and hands the
// connection to a front end by the protocol ALPN chose: HTTP/2 to net/http's
// server, everything else to the router's own HTTP/1.1 front end, so that
// HTTPS requests get the same parsing, framing rules and H26 lines as plain
// ones.
type tlsSplit struct {
	ctx     context.Context // ends in-flight handshakes at shutdown
	ln      net.Listener
	config  *tls.Config
	timeout time.Duration // per handshake
	logger  *slog.Logger
	h1, h2  *connQueue
	wg      sync.WaitGroup
}

func newTLSSplit(ctx context.Context, ln net.Listener, config *tls.Config, timeout time.Duration, logger *slog.Logger) *tlsSplit {
	return &tlsSplit{
		ctx: ctx, ln: ln, config: config, timeout: timeout, logger: logger,
		h1: newConnQueue(ln.Addr()),
		h2: newConnQueue(ln.Addr()),
	}
}

// run accepts until the listener is closed; wait waits for the handshakes
// in flight.
func (s *tlsSplit) run() error {
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.wg.Add(1)
		go s.handshake(nc)
	}
}

// wait waits for the handshakes in flight, until ctx ends.
func (s *tlsSplit) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (s *tlsSplit) handshake(nc net.Conn) {
	defer s.wg.Done()
	tc := tls.Server(nc, s.config)
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		if s.logger != nil {
			s.logger.Debug("router: TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		}
		nc.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		s.h2.put(tc)
	case acme.ALPNProto:
		tc.Close() // a TLS-ALPN-01 validation: the handshake was all of it
	default:
		s.h1.put(tc)
	}
}

// connQueue is a net.Listener whose connections come from put.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// put waits for an Accept to take c, or closes c if the queue is closed.
func (q *connQueue) put(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: q.addr, Err: net.ErrClosed}
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// closeNow closes c without a TLS close_notify, whose write (under a 5 s
// deadline) blocks on a client that stopped reading: for closes that must
// not wait on the peer (shutdown, Router.CloseTunnels).
func closeNow(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return c.Close()
}
