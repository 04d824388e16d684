package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// connPool keeps idle HTTP/1.1 keep-alive connections to one backend. It is
// a LIFO stack: the most recently used connection is the least likely to
// have been closed by the dyno.
type connPool struct {
	rt     *Router
	b      *Backend
	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

// upConn is one upstream connection with its buffers.
type upConn struct {
	nc        net.Conn
	rio       rawIO
	br        *bufio.Reader
	bw        *bufio.Writer
	pool      *connPool
	idleSince time.Time
	readDL    time.Time // read deadline last set (by this connection's user)
	reused    bool
	// quickReuse: taken from the pool within quickReuseWindow of its last
	// response, too soon for a dyno's idle close; the request head may
	// then be written with rawIO.holdWrite.
	quickReuse bool
	line       []byte // accumulates header lines longer than br's buffer
	values     [16]internSlot
}

// quickReuseWindow: see upConn.quickReuse. Far below any keep-alive
// timeout a dyno would use.
const quickReuseWindow = 250 * time.Millisecond

func newConnPool(rt *Router, b *Backend) *connPool { return &connPool{rt: rt, b: b} }

// take pops a live idle connection, or returns nil. One idle for longer
// than quickReuseWindow is first checked for a close (or stray bytes) from
// the dyno, which would otherwise fail the request it carries.
func (p *connPool) take(now time.Time) *upConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := now.Sub(uc.idleSince)
		if idle >= p.rt.cfg.UpstreamIdleTimeout || idle >= quickReuseWindow && !uc.rio.quiet() {
			uc.nc.Close()
			continue
		}
		uc.reused = true
		uc.quickReuse = idle < quickReuseWindow
		return uc
	}
}

// dial opens a new connection within the connect timeout.
func (p *connPool) dial(ctx context.Context) (*upConn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.rt.cfg.ConnectTimeout)
	defer cancel()
	nc, err := p.rt.dial(ctx, "tcp", p.b.Addr)
	if err != nil {
		return nil, err
	}
	if verify := p.rt.cfg.VerifyDyno; verify != nil {
		if err := verify(ctx, Dyno{ID: p.b.ID, Name: p.b.Name, Addr: p.b.Addr}); err != nil {
			nc.Close()
			return nil, fmt.Errorf("router: dyno %s at %s: %w", p.b.Name, p.b.Addr, err)
		}
	}
	uc := &upConn{nc: nc, pool: p}
	uc.rio.init(nc)
	uc.br = bufio.NewReaderSize(&uc.rio, 8<<10)
	uc.bw = bufio.NewWriterSize(&uc.rio, 4<<10)
	return uc, nil
}

// put returns uc for reuse, or closes it when the pool is full or closed.
func (p *connPool) put(uc *upConn, now time.Time) {
	uc.idleSince = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.rt.cfg.MaxIdleConnsPerBackend {
		p.mu.Unlock()
		uc.nc.Close()
		return
	}
	// Drop the oldest connection if it has expired, so a stack that never
	// empties does not keep dead connections at its bottom forever.
	var expired *upConn
	if len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= p.rt.cfg.UpstreamIdleTimeout {
		expired = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, uc)
	p.mu.Unlock()
	if expired != nil {
		expired.nc.Close()
	}
}

// close closes idle connections and makes put close returned ones; requests
// in flight on this backend finish normally.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		uc.nc.Close()
	}
}

// closeIdle closes the idle connections but keeps the pool usable.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		uc.nc.Close()
	}
}

// idleCount reports pooled connections (tests).
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// dialCode classifies a failed connection attempt.
func dialCode(err error) Code {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return H19
	}
	return H21
}
