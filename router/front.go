package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// front is the router's own HTTP/1.1 server, for plain HTTP and for HTTP/1.1
// over TLS (see "Client side" in the package doc). One goroutine per connection runs
// parse → Router.serve → respond; the request, its header map, URL,
// response writer and buffers are reused across the requests of a
// connection, and a response normally leaves in one write.
type front struct {
	rt                *Router
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	idleSlack         time.Duration // see fconn.idleDL
	maxHead           int           // request head limit in bytes
	logger            *slog.Logger
	challenge         http.Handler // ACME HTTP-01 challenges; nil without ACME

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*fconn]struct{}
	shutting atomic.Bool
	connWG   sync.WaitGroup
	stop     chan struct{} // closed when the listener is closed
	stopOnce sync.Once
}

// Connection states, for graceful shutdown: only an idle connection (waiting
// for a request, nothing of it read) may be closed under a client.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// watchAfter is the sweep period of client-gone detection: a request still
// in flight after one to two periods gets a background read on its client
// connection, so a client that hangs up cancels the request (H27). Fast
// requests never pay for it.
const watchAfter = 50 * time.Millisecond

var (
	bufReaders sync.Pool
	bufWriters sync.Pool
)

func newFront(rt *Router, readHeaderTimeout, idleTimeout time.Duration, maxHeaderBytes int, logger *slog.Logger) *front {
	return &front{
		rt:                rt,
		readHeaderTimeout: readHeaderTimeout,
		idleTimeout:       idleTimeout,
		idleSlack:         idleTimeout / 64,
		// net/http allows 4 KiB above MaxHeaderBytes; keep the same bound.
		maxHead: maxHeaderBytes + 4096,
		logger:  logger,
		conns:   map[*fconn]struct{}{},
		stop:    make(chan struct{}),
	}
}

// Serve accepts connections on ln until it is closed by shutdown or close,
// then waits for the connection goroutines. It returns http.ErrServerClosed
// after a shutdown.
func (f *front) Serve(ln net.Listener) error {
	f.mu.Lock()
	f.ln = ln
	// A shutdown that ran before this goroutine did found no listener to
	// close; Accept would then block forever.
	if f.shutting.Load() {
		ln.Close()
	}
	f.mu.Unlock()
	defer f.connWG.Wait()
	f.connWG.Add(1)
	go f.sweep()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if f.shutting.Load() {
				f.stopSweep()
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				f.stopSweep()
				return err
			}
			// EMFILE and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := f.newConn(nc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

func (f *front) stopSweep() { f.stopOnce.Do(func() { close(f.stop) }) }

func (f *front) newConn(nc net.Conn) *fconn {
	c := &fconn{f: f, nc: nc, remote: nc.RemoteAddr().String()}
	if la, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		c.localPort = portString(la.Port)
	}
	c.cr.rio.init(nc)
	c.cr.rio.afterHeld = c.responseSent
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, nc.LocalAddr())
	ctx, c.cancel = context.WithCancel(ctx)
	c.req = (&http.Request{}).WithContext(ctx)
	c.proto = "http"
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState() // the handshake is done: see tlsSplit
		c.req.TLS, c.proto = &st, "https"
	}
	c.hdr = http.Header{}
	c.w.c = c
	c.w.h = http.Header{}
	c.body.c = c
	f.mu.Lock()
	if f.shutting.Load() {
		f.mu.Unlock()
		nc.Close()
		c.cancel()
		return nil
	}
	f.conns[c] = struct{}{}
	f.connWG.Add(1)
	f.mu.Unlock()
	return c
}

func (f *front) forget(c *fconn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// shutdown stops accepting, closes idle connections as they become idle and
// waits for the others until ctx ends.
func (f *front) shutdown(ctx context.Context) error {
	f.shutting.Store(true)
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Unlock()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		f.mu.Lock()
		for c := range f.conns {
			if c.state.CompareAndSwap(stateIdle, stateClosed) {
				closeNow(c.nc)
			}
		}
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// close closes the listener and every connection.
func (f *front) close() {
	f.shutting.Store(true)
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
	}
	for c := range f.conns {
		c.state.Store(stateClosed)
		closeNow(c.nc)
	}
	f.mu.Unlock()
}

// sweep starts client-gone watchers for requests in flight for more than a
// sweep period (see watchAfter).
func (f *front) sweep() {
	defer f.connWG.Done()
	t := time.NewTicker(watchAfter)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		for c := range f.conns {
			if v := c.held.Load(); v&3 == 1 {
				if v == c.heldSwept {
					c.checkHeld(v)
				} else {
					c.heldSwept = v
				}
			}
			seq := c.seq.Load()
			if seq&1 == 0 { // between requests
				continue
			}
			if seq != c.swept {
				c.swept = seq
				continue
			}
			c.startWatch(seq)
		}
		f.mu.Unlock()
	}
}

// connReader is the bufio.Reader's source: the connection, preceded by the
// byte a client-gone watcher may have read.
type connReader struct {
	rio     rawIO
	hasByte bool
	b       [1]byte
}

func (cr *connReader) Read(p []byte) (int, error) {
	if cr.hasByte && len(p) > 0 {
		p[0] = cr.b[0]
		cr.hasByte = false
		return 1, nil
	}
	return cr.rio.Read(p)
}

// fconn is one client connection.
type fconn struct {
	f      *front
	nc     net.Conn
	remote string
	// localPort is X-Forwarded-Port's value for requests on this
	// connection, proto its scheme.
	localPort, proto string
	// idleDL is the keep-alive read deadline last set on nc, zero once
	// anything else changed it. The next request's wait keeps it while it
	// is at most idleSlack earlier than a fresh one would be: setting a
	// deadline costs a timer update, and an idle connection closed a
	// little early is harmless.
	idleDL time.Time
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	cancel context.CancelFunc
	state  atomic.Int32

	req  *http.Request // reused; carries the connection's context
	url  url.URL
	hdr  http.Header
	vals []string
	head []byte // slow-path head accumulation
	body reqBody
	w    respWriter

	wantClose bool // the client asked to close after this response
	http10    bool
	expect100 bool
	isHead    bool
	hijacked  bool
	bodyDone  atomic.Bool // the request body is fully read (or absent)
	// held is nonzero while the connection waits for its next request
	// after writing the previous response inside that wait (see
	// waitRequest): heldSeq<<2 | 1 unchecked, 2 poked by sweep, 3 checked.
	held         atomic.Uint64
	heldSeq      uint64 // serve's goroutine only
	heldSwept    uint64 // sweep's goroutine only
	seq          atomic.Uint64
	swept        uint64 // last seq seen by sweep (sweep's goroutine only)
	mu           sync.Mutex
	gone         interface{ abort() } // called once if the client goes away
	goneFired    bool
	watching     bool
	watchAborted bool
	watchDone    chan struct{}
}

func (c *fconn) serve() {
	f := c.f
	defer f.connWG.Done()
	c.br, _ = bufReaders.Get().(*bufio.Reader)
	if c.br == nil {
		c.br = bufio.NewReaderSize(&c.cr, 4<<10)
	} else {
		c.br.Reset(&c.cr)
	}
	c.bw, _ = bufWriters.Get().(*bufio.Writer)
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(&c.cr.rio, 4<<10)
	} else {
		c.bw.Reset(&c.cr.rio)
	}
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler && f.logger != nil {
			f.logger.Error("router: panic serving request", "remote", c.remote, "panic", p)
		}
		c.cancel()
		f.forget(c)
		if c.hijacked {
			return // the handler owns the connection and its buffers
		}
		c.bw.Flush()
		c.nc.Close()
		c.br.Reset(nil)
		c.bw.Reset(nil)
		bufReaders.Put(c.br)
		bufWriters.Put(c.bw)
	}()
	for {
		if c.br.Buffered() == 0 && !c.waitRequest() {
			return
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) && c.state.Load() != stateActive {
			return // closed by shutdown
		}
		head, status := c.readHead()
		if status != 0 {
			if status > 0 {
				c.writeError(status)
			}
			return
		}
		if status, cause := c.parse(head); status != 0 {
			if method, target, host, ok := refusedRequest(head); ok {
				f.rt.logRefused(method, target, host, c.proto, c.remote, status, cause)
			}
			c.writeError(status)
			return
		}
		c.seq.Add(1) // odd: a request is in flight
		var abort bool
		if f.challenge != nil && strings.HasPrefix(c.req.URL.Path, acmeChallengePrefix) {
			// Served before routing: the host may have no dyno up yet.
			f.challenge.ServeHTTP(&c.w, c.req)
		} else {
			abort = f.rt.serve(&c.w, c.req)
		}
		c.endRequest()
		if c.hijacked {
			return
		}
		if abort || c.req.Context().Err() != nil {
			return // bw is flushed by the deferred close: what the dyno sent
		}
		// The response stays in bw: waitRequest sends it, or the deferred
		// Flush when the connection ends here.
		c.w.finish()
		if c.w.closeAfter || !c.bodyDone.Load() && !c.body.drain() {
			return
		}
		if (c.br.Buffered() > 0 || c.cr.hasByte) && c.bw.Flush() != nil {
			return // a pipelined request is next: answer this one first
		}
	}
}

// waitRequest sends the response in bw and waits for the next request's
// first byte; false when the connection should close.
//
// With raw I/O the response is written inside the read that waits (rawIO's
// holdWrite), after the netpoller's readiness reset, so the read does not
// first find the socket empty: the client has not seen the response yet.
// Only bytes that came in before that reset and after the last read —
// a pipelined request, or the client's FIN — raise no readiness; sweep
// looks at a waiting connection once, a sweep period after its response
// left, and wakes the wait if anything is pending.
func (c *fconn) waitRequest() bool {
	f := c.f
	if f.shutting.Load() {
		return false
	}
	if want := time.Now().Add(f.idleTimeout); c.idleDL.IsZero() || want.Sub(c.idleDL) > f.idleSlack {
		c.nc.SetReadDeadline(want)
		c.idleDL = want
	}
	if c.bw.Buffered() == 0 || c.cr.hasByte || c.cr.rio.rc == nil {
		if c.bw.Flush() != nil {
			return false
		}
		c.state.Store(stateIdle)
		if f.shutting.Load() {
			return false
		}
		_, err := c.br.Peek(1)
		return err == nil
	}
	c.cr.rio.holdWrite()
	err := c.bw.Flush() // held: written by the Peek's read
	c.cr.rio.hold = false
	if err == nil {
		_, err = c.br.Peek(1)
	}
	if c.endHeld() && err != nil && !c.cr.rio.writeErr && isTimeout(err) {
		_, err = c.br.Peek(1) // woken by sweep: read what is pending
	}
	return err == nil
}

// responseSent runs inside the waiting read once the held response is out:
// the connection is idle from here, and sweep may check it.
func (c *fconn) responseSent(wait bool) {
	c.state.Store(stateIdle)
	if wait {
		c.heldSeq++
		c.held.Store(c.heldSeq<<2 | 1)
	}
}

// endHeld ends the held state after the wait and reports whether sweep
// woke it, in which case the read deadline is restored.
func (c *fconn) endHeld() (poked bool) {
	v := c.held.Load()
	if v == 0 || v&3 == 1 && c.held.CompareAndSwap(v, 0) {
		return false // sweep never touched it, and now cannot
	}
	// sweep checked or poked it: a poke's deadline change, made under
	// c.mu, is complete once we hold c.mu.
	c.mu.Lock()
	poked = c.held.Swap(0)&3 == 2
	if poked {
		c.nc.SetReadDeadline(c.idleDL)
	}
	c.mu.Unlock()
	return poked
}

// checkHeld looks, without reading, for bytes or an end of stream that
// arrived before a held wait's readiness reset, and wakes the wait if
// there are any. Called by sweep with f.mu held, once per wait.
func (c *fconn) checkHeld(v uint64) {
	pending := false
	if rc := c.cr.rio.rc; rc != nil {
		rc.Control(func(fd uintptr) {
			var b [1]byte
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			pending = err != syscall.EAGAIN
		})
	}
	c.mu.Lock()
	if !pending {
		c.held.CompareAndSwap(v, v&^3|3) // later arrivals raise readiness
	} else if c.held.CompareAndSwap(v, v&^3|2) {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// readHead returns the request head (request line to empty line). status is
// an HTTP status to answer with, or -1 to just close.
func (c *fconn) readHead() (string, int) {
	// Fast path: the whole head is already buffered.
	if buf, _ := c.br.Peek(c.br.Buffered()); len(buf) > 0 {
		if end := headEnd(buf); end > 0 {
			if end > c.f.maxHead {
				return "", http.StatusRequestHeaderFieldsTooLarge
			}
			s := string(buf[:end])
			c.br.Discard(end)
			return s, 0
		}
	}
	// Slow path: the head arrives in pieces; bound it in time (slowloris)
	// and size.
	c.nc.SetReadDeadline(time.Now().Add(c.f.readHeaderTimeout))
	c.idleDL = time.Time{}
	c.head = c.head[:0]
	for {
		start := len(c.head)
		for {
			line, err := c.br.ReadSlice('\n')
			c.head = append(c.head, line...)
			if len(c.head) > c.f.maxHead {
				return "", http.StatusRequestHeaderFieldsTooLarge
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return "", -1
			}
			break
		}
		if l := c.head[start:]; len(l) == 1 || len(l) == 2 && l[0] == '\r' {
			if start == 0 {
				return "", http.StatusBadRequest // an empty request line
			}
			s := string(c.head)
			if cap(c.head) > 64<<10 {
				c.head = nil // do not keep a huge buffer per connection
			}
			return s, 0
		}
	}
}

// headEnd returns the length of the head at the start of buf (through the
// empty line), or 0 when buf holds no complete head.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
		if i == 1 || i == 2 && buf[0] == '\r' {
			return i // empty request line: parse rejects it
		}
	}
}

// nextLine cuts the first line (without CR LF or LF) off s.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parse fills c.req from head. It returns 0, or the status to answer a
// malformed request with and the cause for its H26 log line. Framing is
// decided here, strictly: conflicting Content-Length values, a
// Transfer-Encoding other than "chunked", invalid names and control bytes
// in values are refused before any routing.
func (c *fconn) parse(head string) (int, string) {
	r := c.req
	line, rest := nextLine(head)
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || method == "" || target == "" || !validHeaderName(method) {
		return http.StatusBadRequest, causeRequestLine
	}
	switch proto {
	case "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
		c.http10 = false
	case "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
		c.http10 = true
	default:
		if strings.HasPrefix(proto, "HTTP/") {
			return http.StatusHTTPVersionNotSupported, causeVersion
		}
		return http.StatusBadRequest, causeRequestLine
	}
	r.Method = method
	r.RequestURI = target
	if !c.parseTarget(method, target) {
		return http.StatusBadRequest, causeRequestLine
	}

	h := c.hdr
	clear(h)
	vals := c.vals[:0]
	var lastKey string
	for rest != "" {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: RFC 9112 §5.2 lets a proxy replace it with SP.
			if lastKey == "" {
				return http.StatusBadRequest, causeHeader
			}
			v := trimOWS(line)
			if !validHeaderValue(v) {
				return http.StatusBadRequest, causeHeader
			}
			vs := h[lastKey]
			// Joined as net/http joins it (so both front ends forward the
			// same value): one SP per continuation line, even an empty one.
			if prev := vs[len(vs)-1]; prev == "" {
				vs[len(vs)-1] = v
			} else {
				vs[len(vs)-1] = prev + " " + v
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !validHeaderName(k) {
			return http.StatusBadRequest, causeHeader
		}
		v = trimOWS(v)
		if !validHeaderValue(v) {
			return http.StatusBadRequest, causeHeader
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		lastKey = k
		if len(vals) == cap(vals) {
			vals = make([]string, 0, 16)
		}
		vals = append(vals, v)
		if old, ok := h[k]; ok {
			h[k] = append(old, v)
		} else {
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	if cap(vals) <= 64 {
		c.vals = vals
	}

	// Host (RFC 9112 §3.2): required in HTTP/1.1, exactly once.
	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return http.StatusBadRequest, causeHost
	case len(hosts) == 0 && !c.http10:
		return http.StatusBadRequest, causeHost
	case len(hosts) == 1 && !validHost(hosts[0]):
		return http.StatusBadRequest, causeHost
	}
	r.Host = ""
	if len(hosts) == 1 {
		r.Host = hosts[0]
	}
	if c.url.Host != "" {
		r.Host = c.url.Host // absolute-form wins over the Host header
	}
	delete(h, "Host")

	// Framing (RFC 9112 §6).
	conn := h["Connection"]
	c.wantClose = c.http10
	for _, v := range conn {
		if headerHasToken(v, "close") {
			c.wantClose = true
		}
		if c.http10 && headerHasToken(v, "keep-alive") {
			c.wantClose = false
		}
	}
	r.Close = c.wantClose
	r.TransferEncoding = nil
	r.ContentLength = 0
	r.Body = http.NoBody
	c.body.reset()
	c.bodyDone.Store(true)
	// Content-Length is checked even when chunked framing overrides it,
	// as net/http does: a request whose lengths are invalid or disagree is
	// refused whatever else it carries.
	cls, hasLength := h["Content-Length"]
	var length int64
	if hasLength {
		n, ok := parseDigits(cls[0])
		if !ok {
			return http.StatusBadRequest, causeLength
		}
		for _, v := range cls[1:] {
			if v != cls[0] {
				return http.StatusBadRequest, causeLength
			}
		}
		length = n
	}
	if te, ok := h["Transfer-Encoding"]; ok {
		if c.http10 {
			return http.StatusBadRequest, causeTransferEncoding
		}
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return http.StatusNotImplemented, causeTransferEncoding
		}
		// Chunked wins over any Content-Length (RFC 9112 §6.3). Like
		// net/http, the framing headers leave the map for the fields.
		// With both, the connection closes after the response (RFC 9112
		// §6.1): a client that framed by length would read on from where
		// its request was cut.
		if hasLength {
			c.wantClose, r.Close = true, true
		}
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		r.TransferEncoding = chunkedTE
		r.ContentLength = -1
		c.body.chunked = true
	} else if hasLength {
		h["Content-Length"] = cls[:1] // equal duplicates merge, as in net/http
		r.ContentLength = length
		c.body.remaining = length
	}
	if r.ContentLength != 0 {
		r.Body = &c.body
		c.bodyDone.Store(false)
	}
	c.isHead = method == http.MethodHead
	c.expect100 = false
	if exp := h["Expect"]; len(exp) == 1 && !c.http10 && r.ContentLength != 0 && strings.EqualFold(exp[0], "100-continue") {
		c.expect100 = true
	}
	r.Header = h
	r.RemoteAddr = c.remote
	// The Request is reused: clear what a handler or balancer may have set.
	r.Form, r.PostForm, r.MultipartForm, r.Trailer, r.Pattern = nil, nil, nil, nil, ""
	c.w.reset()
	return 0, ""
}

// Causes of H26 log lines for requests the front end refuses ("bad header"
// is Heroku's own; the others name the rule the request broke).
const (
	causeRequestLine      = "bad request line"
	causeVersion          = "unsupported HTTP version"
	causeHeader           = "bad header"
	causeHost             = "bad host header"
	causeLength           = "bad content length"
	causeTransferEncoding = "unsupported transfer encoding"
)

var chunkedTE = []string{"chunked"}

// parseTarget sets c.url (and c.req.URL) from the request target. Plain
// origin-form targets are split by hand; anything else goes through
// url.ParseRequestURI, as net/http does.
func (c *fconn) parseTarget(method, target string) bool {
	u := &c.url
	*u = url.URL{}
	c.req.URL = u
	if method == http.MethodConnect && target[0] != '/' {
		// authority-form, parsed as net/http does; the router answers
		// CONNECT with 405.
		pu, err := url.ParseRequestURI("http://" + target)
		if err != nil {
			return false
		}
		*u = *pu
		u.Scheme = "" // the "http://" was only there to parse the authority
		return true
	}
	if simpleOrigin(target) {
		var q bool
		u.Path, u.RawQuery, q = strings.Cut(target, "?")
		u.ForceQuery = q && u.RawQuery == "" // "/a?" keeps its '?', as in url
		return true
	}
	pu, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}
	*u = *pu
	return true
}

// simpleOrigin reports whether target is an origin-form target whose path
// url.ParseRequestURI would keep as is: then Path is the part before '?'
// and RawQuery the rest (checked by TestSimpleOrigin and the fuzz target).
func simpleOrigin(target string) bool {
	if target == "" || target[0] != '/' || strings.HasPrefix(target, "//") {
		return false
	}
	inQuery := false
	for i := 0; i < len(target); i++ {
		b := target[i]
		if b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
		if b == '?' {
			inQuery = true
		}
		if !inQuery && !pathByte(b) {
			return false // url would unescape it or keep a RawPath
		}
	}
	return true
}

// pathByte reports whether url's path escaping leaves b as is.
func pathByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-_.~$&+,/:;=@", b) >= 0
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseDigits parses a Content-Length value: digits only, at most 18.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// validHost accepts the bytes of a reg-name, IP literal and port.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		b := h[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=@[]_~", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// startWatch runs a background read on the client connection of the
// request numbered seq, if it still runs and no longer reads its body: an
// EOF or error there means the client is gone, and cancels the request.
// Called by sweep with f.mu held.
func (c *fconn) startWatch(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching || c.hijacked || c.seq.Load() != seq || !c.bodyDone.Load() || c.br.Buffered() > 0 || c.cr.hasByte {
		return
	}
	c.watching = true
	c.watchAborted = false
	c.watchDone = make(chan struct{})
	c.f.connWG.Add(1)
	go c.watch()
}

func (c *fconn) watch() {
	defer c.f.connWG.Done()
	defer close(c.watchDone)
	c.mu.Lock()
	if c.watchAborted {
		c.mu.Unlock()
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	c.mu.Unlock()
	n, err := c.nc.Read(c.cr.b[:])
	if n == 1 {
		c.cr.hasByte = true // a pipelined request: keep its first byte
	}
	if err != nil {
		c.mu.Lock()
		aborted := c.watchAborted
		c.mu.Unlock()
		if !aborted {
			c.cancel()
			c.fireGone()
		}
	}
}

// onGone registers a to be aborted if the client goes away before offGone;
// at once if it is already gone. It is context.AfterFunc on the request's
// context without the allocations.
func (c *fconn) onGone(a interface{ abort() }) {
	c.mu.Lock()
	c.gone, c.goneFired = a, false
	c.mu.Unlock()
	if c.req.Context().Err() != nil {
		c.fireGone()
	}
}

// offGone unregisters the hook; false when it already fired.
func (c *fconn) offGone() bool {
	c.mu.Lock()
	fired := c.goneFired
	c.gone = nil
	c.mu.Unlock()
	return !fired
}

func (c *fconn) fireGone() {
	c.mu.Lock()
	a := c.gone
	if a != nil {
		c.gone, c.goneFired = nil, true
	}
	c.mu.Unlock()
	if a != nil {
		a.abort()
	}
}

// stopWatch ends a running watcher and waits for it.
func (c *fconn) stopWatch() {
	c.mu.Lock()
	w := c.watching
	if w {
		c.watchAborted = true
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
	if w {
		<-c.watchDone
		c.mu.Lock()
		c.watching = false
		c.mu.Unlock()
		c.nc.SetReadDeadline(time.Time{})
		c.idleDL = time.Time{}
	}
}

// endRequest marks the request finished for the sweeper and stops its
// watcher.
func (c *fconn) endRequest() {
	c.mu.Lock()
	c.seq.Add(1)
	c.mu.Unlock()
	c.stopWatch()
}

// refusedRequest reads, from the head of a request the parser refused, what
// its H26 log line needs: the method and target of a well-formed request
// line, and the one host it names (absolute-form target, else Host). ok is
// false when the request cannot be put down to one host.
func refusedRequest(head string) (method, target, host string, ok bool) {
	line, rest := nextLine(head)
	method, line, ok1 := strings.Cut(line, " ")
	target, _, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || method == "" || target == "" {
		return "", "", "", false
	}
	if target[0] != '/' {
		if u, err := url.ParseRequestURI(target); err == nil && u.Host != "" {
			return method, target, u.Host, true
		}
	}
	for rest != "" {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		k, v, found := strings.Cut(line, ":")
		if !found || !strings.EqualFold(k, "Host") {
			continue
		}
		if v = trimOWS(v); host != "" && v != host {
			return "", "", "", false // two hosts: which app's line is unknown
		}
		host = v
	}
	return method, target, host, host != ""
}

// writeError answers a request the parser refused and closes.
func (c *fconn) writeError(status int) {
	text := http.StatusText(status)
	c.bw.WriteString("HTTP/1.1 ")
	c.bw.WriteString(strconv.Itoa(status))
	c.bw.WriteString(" ")
	c.bw.WriteString(text)
	c.bw.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	c.bw.WriteString(strconv.Itoa(len(text) + 4))
	c.bw.WriteString("\r\n\r\n")
	c.bw.WriteString(strconv.Itoa(status))
	c.bw.WriteString(" ")
	c.bw.WriteString(text)
}

// errMalformedChunk is a request body's bad chunked framing.
var errMalformedChunk = errors.New("router: malformed chunked request body")

// reqBody is the request body reader: Content-Length or chunked framing,
// read from the connection's buffered reader.
type reqBody struct {
	c         *fconn
	remaining int64 // Content-Length bytes left, or bytes left in the chunk
	chunked   bool
	needCRLF  bool // after a chunk's data
	err       error
}

func (b *reqBody) reset() { *b = reqBody{c: b.c} }

// Close is a no-op: what is left of the body is drained or the connection
// closed after the handler returns.
func (b *reqBody) Close() error { return nil }

func (b *reqBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	c := b.c
	if c.expect100 {
		c.expect100 = false
		if !c.w.committed {
			c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := c.bw.Flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !b.chunked {
		return b.readFixed(p)
	}
	if b.needCRLF || b.remaining == 0 {
		if err := b.nextChunk(); err != nil {
			b.err = err
			if err == io.EOF {
				c.bodyDone.Store(true)
			}
			return 0, err
		}
	}
	return b.readFixed(p)
}

// readFixed reads from the current Content-Length span or chunk.
func (b *reqBody) readFixed(p []byte) (int, error) {
	if b.remaining == 0 {
		b.err = io.EOF
		b.c.bodyDone.Store(true)
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
		return n, err
	}
	if b.remaining == 0 {
		if b.chunked {
			b.needCRLF = true
			return n, nil
		}
		b.err = io.EOF
		b.c.bodyDone.Store(true)
		return n, io.EOF
	}
	return n, nil
}

// nextChunk reads the CRLF after a chunk and the next chunk-size line;
// io.EOF after the last chunk and its trailers.
func (b *reqBody) nextChunk() error {
	br := b.c.br
	if b.needCRLF {
		b.needCRLF = false
		cr, err := br.ReadByte()
		if err == nil && cr != '\r' {
			return errMalformedChunk
		}
		lf, err2 := br.ReadByte()
		if err == nil {
			err = err2
		}
		if err != nil {
			return unexpected(err)
		}
		if lf != '\n' {
			return errMalformedChunk
		}
	}
	line, err := readBodyLine(br)
	if err != nil {
		return err
	}
	// The chunk-size line must end in CR LF and hold no other CR, in its
	// extensions either: net/http refuses both, and a reader that took a
	// lone CR for a line end would frame the body differently.
	if n := len(line); n == 0 || line[n-1] != '\r' || bytes.IndexByte(line[:n-1], '\r') >= 0 {
		return errMalformedChunk
	}
	size, ok := parseChunkSize(line[:len(line)-1])
	if !ok {
		return errMalformedChunk
	}
	if size > 0 {
		b.remaining = size
		return nil
	}
	// Last chunk: check and skip trailers (not forwarded), bounded.
	for i := 0; ; i++ {
		line, err := readBodyLine(br)
		if err != nil {
			return err
		}
		if n := len(line); n == 0 || line[n-1] != '\r' {
			return errMalformedChunk // CR LF here too
		}
		line = line[:len(line)-1]
		if len(line) == 0 {
			return io.EOF
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if i >= 100 || !ok || !validHeaderName(string(k)) || !validHeaderValue(string(v)) {
			return errMalformedChunk
		}
	}
}

// readBodyLine reads one line of chunked framing (at most the buffer's
// size), without its LF.
func readBodyLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errMalformedChunk
	}
	if err != nil {
		return nil, unexpected(err)
	}
	return line[:len(line)-1], nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// drain discards what is left of a request body the handler did not read,
// when it is already buffered; otherwise the connection cannot be reused.
func (b *reqBody) drain() bool {
	if b.err != nil || b.chunked {
		return b.err == io.EOF
	}
	if b.remaining > int64(b.c.br.Buffered()) {
		return false
	}
	b.c.br.Discard(int(b.remaining))
	b.remaining = 0
	b.c.bodyDone.Store(true)
	return true
}

// respWriter is the http.ResponseWriter of the front end. The head is
// written into the connection's buffered writer at the first body write
// (or at the end), so a small response leaves in one write; without a
// Content-Length, a body that fits pendingMax gets one, else it is chunked.
type respWriter struct {
	c           *fconn
	h           http.Header
	status      int
	wroteHeader bool
	committed   bool
	noBody      bool  // HEAD, 1xx, 204, 304
	cl          int64 // declared Content-Length, -1 unknown
	written     int64
	chunked     bool
	closeAfter  bool
	pending     []byte
	scratch     [20]byte
	raw         rawHeader // the dyno's header lines, after h's
}

const pendingMax = 4 << 10

func (w *respWriter) reset() {
	clear(w.h)
	w.status, w.wroteHeader, w.committed, w.noBody = 0, false, false, false
	w.cl, w.written, w.chunked, w.closeAfter = -1, 0, false, false
	w.pending = w.pending[:0]
	w.raw.reset()
}

func (w *respWriter) Header() http.Header { return w.h }

func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("router: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // interim responses are not relayed by the router
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = w.c.isHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	w.cl = -1
	if v := w.h["Content-Length"]; len(v) > 0 {
		if n, ok := parseDigits(v[0]); ok && !w.noBody {
			w.cl = n
		} else if !w.c.isHead && code != http.StatusNotModified {
			delete(w.h, "Content-Length") // invalid, or forbidden for 1xx and 204
		}
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.c.isHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	var errTooLong error
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		p = p[:w.cl-w.written]
		errTooLong = http.ErrContentLength
	}
	if !w.committed {
		if w.cl < 0 && len(w.pending)+len(p) <= pendingMax {
			w.pending = append(w.pending, p...)
			w.written += int64(len(p))
			return len(p), errTooLong
		}
		w.commit(false)
	}
	n, err := w.writeBody(p)
	w.written += int64(n)
	if err == nil {
		err = errTooLong
	}
	return n, err
}

func (w *respWriter) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if len(p) == 0 {
		return 0, nil
	}
	if w.chunked {
		bw.Write(strconv.AppendInt(w.scratch[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	return n, err
}

// commit writes the response head into the buffered writer, choosing the
// body framing, then the pending body bytes. final means the handler is
// done, so a pending body's length is known.
func (w *respWriter) commit(final bool) {
	c := w.c
	bw := c.bw
	w.committed = true
	if c.wantClose || c.f.shutting.Load() {
		w.closeAfter = true
	}
	if v, ok := w.h["Connection"]; ok {
		for _, s := range v {
			if headerHasToken(s, "close") {
				w.closeAfter = true
			}
		}
		delete(w.h, "Connection")
	}
	delete(w.h, "Transfer-Encoding")
	switch {
	case w.noBody:
	case w.cl >= 0:
	case final:
		w.cl = int64(len(w.pending))
		bw := strconv.AppendInt(w.scratch[:0], w.cl, 10)
		w.h["Content-Length"] = []string{string(bw)}
	case !c.http10:
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body ends at close
	}
	if c.http10 {
		bw.WriteString("HTTP/1.0 ")
	} else {
		bw.WriteString("HTTP/1.1 ")
	}
	bw.Write(strconv.AppendInt(w.scratch[:0], int64(w.status), 10))
	bw.WriteByte(' ')
	if text := http.StatusText(w.status); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		bw.Write(strconv.AppendInt(w.scratch[:0], int64(w.status), 10))
	}
	bw.WriteString("\r\n")
	for k, vs := range w.h {
		if !validHeaderName(k) {
			continue
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				continue // never let a value split the head
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.Write(w.raw.lines)
	if _, ok := w.h["Date"]; !ok && !w.raw.date {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case c.http10:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	if len(w.pending) > 0 {
		w.writeBody(w.pending)
		w.pending = w.pending[:0]
	}
}

// finish completes the response in the buffered writer after the handler
// returned; waitRequest, or the connection's end, sends it.
func (w *respWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
	}
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if w.cl >= 0 && w.written < w.cl && !w.noBody {
		w.closeAfter = true // a short body: the client must not wait for more
	}
	if cap(w.pending) > pendingMax {
		w.pending = nil
	}
	if cap(w.raw.lines) > 64<<10 {
		w.raw.lines = nil // do not keep a huge head's buffer per connection
	}
}

// FlushError sends the head and what the body has so far.
func (w *respWriter) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	return w.c.bw.Flush()
}

func (w *respWriter) Flush() { _ = w.FlushError() }

func (w *respWriter) SetReadDeadline(t time.Time) error {
	w.c.idleDL = time.Time{}
	return w.c.nc.SetReadDeadline(t)
}
func (w *respWriter) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// Hijack hands the connection to the handler (Upgrade tunnels). Bytes the
// client sent past the request are in the returned reader.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.committed {
		return nil, nil, errors.New("router: hijack after the response started")
	}
	c.stopWatch()
	c.mu.Lock()
	c.hijacked = true
	c.mu.Unlock()
	c.state.Store(stateClosed)
	c.f.forget(c)
	if c.cr.hasByte {
		c.br.Peek(1) // move the watcher's byte into the buffer
	}
	c.nc.SetDeadline(time.Time{})
	c.idleDL = time.Time{}
	return c.nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// httpDate returns the current time in HTTP date format, recomputed at
// most once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &cachedDate{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]
