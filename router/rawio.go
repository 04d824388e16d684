package router

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawIO reads and writes a TCP connection's non-blocking socket with raw
// system calls inside syscall.RawConn's Read and Write, which keep the
// netpoller's waiting, deadlines and close handling. Why: net.Conn's I/O
// goes through syscall.Syscall, whose entersyscall/exitsyscall lets the
// runtime's sysmon hand the P to another thread whenever a loopback write
// (which runs the receiver's TCP stack inline) lasts past its 20 µs tick;
// under a proxy's load that kept sysmon polling every 20 µs and moved
// goroutines between threads (about 3 of 27 µs per proxied request on the
// bench box). A raw call on a
// non-blocking socket cannot block, so holding the P through it is safe.
//
// Under the race detector the calls are syscall.Read and Write, whose
// annotations give the happens-before edges through I/O that tests rely on.
//
// Connections that are not *net.TCPConn (tests' pipes, wrappers) use the
// net.Conn's own Read and Write.
type rawIO struct {
	nc net.Conn
	rc syscall.RawConn // nil: use nc

	// State of the call in progress, for the closures below (allocated
	// once per connection, not per call).
	p       []byte
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	wrFn    func(fd uintptr) bool

	// A write held back by holdWrite until the next Read, which makes it
	// inside its RawConn.Read callback; writeErr is set if it failed.
	hold     bool
	held     []byte
	writeErr bool
	// afterHeld, if set, runs once the held bytes are written; wait says
	// the Read then waits for readiness without trying a read first.
	afterHeld func(wait bool)
}

func (r *rawIO) init(nc net.Conn) {
	*r = rawIO{nc: nc}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	r.rc = rc
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	r.wrFn = r.doWriteRead
}

// holdWrite makes the next Write (a bufio.Writer's Flush of a request
// head or a response) return at once and happen inside the following
// Read, after that Read's RawConn has reset the fd's readiness: the Read
// can then wait for the answer without first trying a read that would only
// find the socket empty (EAGAIN), one system call per request saved. Bytes
// that arrived before the reset raise no readiness, so the caller must
// know none can be pending (upConn.quickReuse) or look for them otherwise
// (fconn.checkHeld), and a Read must follow; the caller reports writeErr's
// failures as write failures. The bytes written must stay unchanged until
// that Read: bufio's buffer does, as nothing is written to the
// bufio.Writer in between.
func (r *rawIO) holdWrite() {
	if r.rc != nil {
		r.hold, r.writeErr = true, false
	}
}

func (r *rawIO) doWriteRead(fd uintptr) bool {
	if r.held == nil {
		return r.doRead(fd)
	}
	for len(r.held) > 0 {
		n, e := sysWrite(fd, r.held)
		switch e {
		case 0:
			r.held = r.held[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return true // the rest is written by Read, waiting for room
		default:
			r.errno = e
			r.writeErr = true
			return true
		}
	}
	r.held = nil
	if r.afterHeld != nil {
		r.afterHeld(true)
	}
	// The answer cannot be there yet unless it raced us here; waiting
	// first is right either way: readiness was reset before the write,
	// so its arrival is never missed.
	return false
}

func (r *rawIO) doRead(fd uintptr) bool {
	for {
		n, e := sysRead(fd, r.p)
		switch e {
		case 0:
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait in the netpoller, then retry
		}
		r.errno = e
		return true
	}
}

func (r *rawIO) doWrite(fd uintptr) bool {
	for r.n < len(r.p) {
		p := r.p[r.n:]
		n, e := sysWrite(fd, p)
		switch e {
		case 0:
			r.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.errno = e
			return true
		}
	}
	return true
}

// Read implements io.Reader with net.Conn's results: io.EOF at the peer's
// end of stream, *net.OpError otherwise.
func (r *rawIO) Read(p []byte) (int, error) {
	if r.rc == nil {
		return r.nc.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.errno = p, 0, 0
	fn := r.readFn
	if r.held != nil {
		fn = r.wrFn
	}
	err := r.rc.Read(fn)
	if r.held != nil && err == nil && r.errno == 0 {
		// The held write found the send buffer full: finish it the
		// ordinary way, then read.
		held := r.held
		r.held = nil
		if _, err := r.Write(held); err != nil {
			r.writeErr = true
			return 0, err
		}
		if r.afterHeld != nil {
			r.afterHeld(false)
		}
		r.p, r.n, r.errno = p, 0, 0
		err = r.rc.Read(r.readFn)
	}
	r.held = nil
	n, errno := r.n, r.errno
	r.p = nil
	switch {
	case err != nil:
		return 0, err // closed or deadline: net's own error
	case errno != 0 && r.writeErr:
		return 0, r.opError("write", errno)
	case errno != 0:
		return 0, r.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write implements io.Writer: all of p, or an error.
func (r *rawIO) Write(p []byte) (int, error) {
	if r.rc == nil {
		return r.nc.Write(p)
	}
	if r.hold {
		r.hold = false
		r.held = p
		return len(p), nil
	}
	r.p, r.n, r.errno = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n, errno := r.n, r.errno
	r.p = nil
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, r.opError("write", errno)
	}
	return n, nil
}

// quiet reports whether nothing has arrived on an idle connection: no
// bytes and no FIN from the peer (a non-blocking MSG_PEEK). Connections
// that are not *net.TCPConn count as quiet.
func (r *rawIO) quiet() bool {
	if r.rc == nil {
		return true
	}
	quiet := false
	// Control, unlike Read, ignores the read deadline a past request left.
	err := r.rc.Control(func(fd uintptr) {
		var b [1]byte
		for {
			_, _, e := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if e != syscall.EINTR {
				quiet = e == syscall.EAGAIN
				return
			}
		}
	})
	return err == nil && quiet
}

func (r *rawIO) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.nc.LocalAddr(), Addr: r.nc.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
