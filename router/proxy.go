package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// aLongTimeAgo is a deadline in the past, used to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func isUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 || len(r.Header["Upgrade"]) == 0 {
		return false
	}
	for _, v := range r.Header["Connection"] {
		if headerHasToken(v, "upgrade") {
			return true
		}
	}
	return false
}

// headerHasToken reports whether the comma-separated list v contains token
// (case-insensitive).
func headerHasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// proxy picks a dyno, connects (retrying other dynos on connect failures
// only) and runs the exchange.
func (rt *Router) proxy(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ctx := r.Context()
	a := ex.app
	bs := *a.backends.Load()
	if len(bs) == 0 {
		// Counted until the exchange ends (AppStats.Waiting), so that a
		// platform sees the request between its dyno starting and the
		// request reaching it.
		a.waiting.Add(1)
		defer a.waiting.Add(-1)
		var code Code
		if bs, code = rt.waitForBackends(ctx, a); code != CodeNone {
			if code == H27 {
				ex.entry.Sock = "client"
			}
			ex.fail(w, code, 0)
			return
		}
	}
	upgrade := isUpgrade(r)
	hasBody := r.Body != nil && r.Body != http.NoBody
	// With Config.ReplayIdempotent, a request on a reused connection that
	// the dyno closed while idle may be resent once on a new connection, but
	// only when resending cannot repeat a side effect: idempotent method, no
	// body, no upgrade.
	replayable := rt.cfg.ReplayIdempotent && !hasBody && !upgrade && idempotent(r.Method)

	var triedBuf [8]*Backend
	tried := triedBuf[:0]
	lastCode := H21
	staleRetried := false
	var waitUntil time.Time
	backoff := 50 * time.Millisecond
	for {
		b := rt.balancer.Pick(r, bs)
		for _, t := range tried {
			if t == b {
				b = nil
				break
			}
		}
		if b == nil {
			if len(tried) > 0 {
				ex.fail(w, lastCode, 0)
				return
			}
			// Every dyno is quarantined: retry with back-off, bounded.
			now := time.Now()
			if waitUntil.IsZero() {
				waitUntil = now.Add(rt.cfg.QuarantineWait)
			}
			if !now.Before(waitUntil) {
				ex.fail(w, H99, 0)
				return
			}
			if !sleepCtx(ctx, min(backoff, waitUntil.Sub(now))) {
				ex.entry.Sock = "client"
				ex.fail(w, H27, 0)
				return
			}
			backoff = min(2*backoff, time.Second)
			if bs = *a.backends.Load(); len(bs) == 0 {
				var code Code
				if bs, code = rt.waitForBackends(ctx, a); code != CodeNone {
					ex.fail(w, code, 0)
					return
				}
			}
			continue
		}
		var code Code
		if b, code = rt.admit(ctx, a, b, tried); code != CodeNone {
			if code == H27 {
				ex.entry.Sock = "client"
			}
			ex.fail(w, code, 0)
			return
		}
		if b == nil {
			continue // no dyno available: pick again (quarantine wait)
		}
		t0 := time.Now()
		var uc *upConn
		if !staleRetried {
			uc = b.pool.take(t0)
		}
		if uc == nil {
			var err error
			if uc, err = b.pool.dial(ctx); err != nil {
				rt.release(a, b)
				if ctx.Err() != nil {
					ex.entry.Sock = "client"
					ex.fail(w, H27, 0)
					return
				}
				b.Quarantine(rt.cfg.QuarantineFor)
				lastCode = dialCode(err)
				tried = append(tried, b)
				if l := rt.cfg.Logger; l != nil {
					l.Debug("router: connect failed; dyno quarantined", "app", a.Name(), "dyno", b.Name, "addr", b.Addr, "err", err)
				}
				if len(tried) >= rt.cfg.MaxAttempts {
					ex.fail(w, lastCode, 0)
					return
				}
				continue
			}
		}
		ex.entry.Dyno = b.Name
		ex.entry.Connect = time.Since(t0)
		retry := ex.roundTrip(w, r, uc, replayable && !staleRetried, upgrade, hasBody)
		rt.release(a, b)
		if !retry {
			return
		}
		staleRetried = true
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitForBackends decides what to do for an app with no web dyno: wait
// (bounded) while dynos are starting, else fail with H10 or H14.
func (rt *Router) waitForBackends(ctx context.Context, a *app) ([]*Backend, Code) {
	var deadline <-chan time.Time
	for {
		ch := a.changed()
		if bs := *a.backends.Load(); len(bs) > 0 {
			return bs, CodeNone
		}
		switch WebState(a.state.Load()) {
		case WebCrashed:
			return nil, H10
		case WebStopped:
			return nil, H14
		case WebSleeping:
			if rt.cfg.Wake == nil {
				return nil, H14
			}
			// One request wakes the app; the others see it starting.
			if a.state.CompareAndSwap(int32(WebSleeping), int32(WebStarting)) {
				go rt.cfg.Wake(a.Name())
			}
		}
		if deadline == nil {
			t := time.NewTimer(rt.cfg.BootWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, H20
		case <-ctx.Done():
			return nil, H27
		}
	}
}

// roundTrip sends r on uc and relays the response. It returns true when the
// request was not seen by the dyno (a stale keep-alive connection) and may be
// resent on a new connection.
func (ex *exchange) roundTrip(w http.ResponseWriter, r *http.Request, uc *upConn, replayable, upgrade, hasBody bool) (retry bool) {
	ctx := r.Context()
	// No write deadline for the head: it fits the socket buffer, and a
	// deadline costs a timer update per request. Bodies set their own.
	ex.writeHead(uc.bw, r, upgrade, hasBody)
	if hasBody {
		if code, status := ex.sendBody(r, w, uc); code != CodeNone {
			uc.nc.Close()
			ex.fail(w, code, status)
			return false
		}
	}
	// A pooled connection just used, with nothing left of the previous
	// response, cannot have anything pending from the dyno (short of a
	// broken dyno writing past its response): its head write can be
	// folded into the wait for the response (rawIO.holdWrite).
	if !hasBody && !upgrade && uc.quickReuse && uc.br.Buffered() == 0 {
		uc.rio.holdWrite()
	}
	err := uc.bw.Flush()
	uc.rio.hold = false
	if err != nil {
		uc.nc.Close()
		if replayable && uc.reused && closedByPeer(err) {
			return true
		}
		ex.entry.Sock = "backend"
		ex.fail(w, H18, 0)
		return false
	}
	sent := time.Now()
	uc.setFirstByteDeadline(sent)
	// A client that goes away aborts the dyno exchange. The front end holds
	// the hook itself (no allocation); net/http's server goes through the
	// request context.
	rw, _ := w.(*respWriter)
	var stopCtx func() bool
	if rw != nil {
		rw.c.onGone(uc)
	} else {
		stopCtx = context.AfterFunc(ctx, uc.abort)
	}
	stop := func() bool {
		if rw != nil {
			return rw.c.offGone()
		}
		return stopCtx()
	}
	keep, handedOff := false, false
	defer func() {
		switch {
		case handedOff: // the tunnel owns and closes uc
		case stop() && keep: // a fired AfterFunc poisoned uc's deadline
			uc.pool.put(uc, time.Now())
		default:
			uc.nc.Close()
		}
	}()

	h := w.Header()
	var head respHead
	for {
		var raw *rawHeader
		if rw != nil {
			raw = &rw.raw
		}
		code, cause, err := readResponseHead(uc, h, &head, raw)
		if code == CodeNone {
			if head.status >= 100 && head.status < 200 && head.status != http.StatusSwitchingProtocols {
				clear(h) // interim response (100 Continue, 103 Early Hints): skip
				continue
			}
			break
		}
		if uc.rio.writeErr {
			// The held head write failed: as a failed Flush above.
			clear(h)
			if replayable && uc.reused && closedByPeer(err) {
				return true
			}
			ex.entry.Sock = "backend"
			ex.fail(w, H18, 0)
			return false
		}
		ex.entry.Service = time.Since(sent)
		switch {
		case ctx.Err() != nil:
			ex.entry.Sock = "client"
			ex.fail(w, H27, 0)
		case code == H13 && head.n == 0 && replayable && uc.reused && closedByPeer(err):
			clear(h)
			return true
		case isTimeout(err):
			ex.fail(w, H12, 0)
		default:
			ex.entry.Cause = cause
			ex.fail(w, code, 0)
		}
		return false
	}
	if head.status == http.StatusSwitchingProtocols {
		if !upgrade {
			ex.entry.Cause = "unexpected 101"
			ex.fail(w, H17, 0)
			return false
		}
		if !stop() {
			ex.entry.Sock = "client"
			ex.fail(w, H27, 0)
			return false
		}
		handedOff = true
		ex.tunnel(w, r, uc, sent)
		return false
	}

	ex.wrote = true
	ex.entry.Status = head.status
	w.WriteHeader(head.status)
	code, sock := ex.copyBody(w, r, uc, &head)
	ex.entry.Service = time.Since(sent)
	if code != CodeNone {
		ex.entry.Sock = sock
		ex.fail(w, code, 0)
		ex.abort = true
		return false
	}
	// Bytes the dyno sent past its response must not become the next
	// request's response.
	keep = !head.close && !head.untilClose && uc.br.Buffered() == 0
	return false
}

// setFirstByteDeadline bounds the wait for the response to a request sent
// at sent. A pooled connection keeps the deadline set for an earlier
// request when it still lies within [FirstByteTimeout, FirstByteTimeout +
// 1/64 of it] after sent: a timer update per request saved, for an H12 at
// most 1.6% late.
func (uc *upConn) setFirstByteDeadline(sent time.Time) {
	t := uc.pool.rt.cfg.FirstByteTimeout
	want := sent.Add(t)
	if dl := uc.readDL; !dl.Before(want) && dl.Sub(want) <= t/64 {
		return
	}
	uc.readDL = want.Add(t / 64)
	uc.nc.SetReadDeadline(uc.readDL)
}

// abort unblocks any I/O on uc (the client went away).
func (uc *upConn) abort() { uc.nc.SetDeadline(aLongTimeAgo) }

// closedByPeer reports an error meaning the dyno closed the connection
// (as opposed to a timeout, where it may still be working on the request).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// skipRequestHeader reports whether client header k must not be copied to
// the dyno: hop-by-hop headers, framing (rewritten by us), and headers the
// router sets itself.
func skipRequestHeader(k string, trusted bool) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding",
		"Upgrade", "Content-Length", "Host", "Expect", "Proxy-Authorization", "Proxy-Authenticate",
		"X-Request-Id", "X-Request-Start", "Via",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port":
		return true
	case "X-Forwarded-Host", "Forwarded":
		return !trusted
	}
	return false
}

// writeHead writes the request line and headers for the dyno into bw.
func (ex *exchange) writeHead(bw *bufio.Writer, r *http.Request, upgrade, hasBody bool) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	uri := r.RequestURI
	if uri == "" || (uri[0] != '/' && uri != "*") {
		uri = r.URL.RequestURI() // absolute-form or HTTP/2 without RequestURI
	}
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	connTokens := r.Header["Connection"]
	for k, vs := range r.Header {
		if skipRequestHeader(k, ex.trusted) {
			continue
		}
		if len(connTokens) > 0 && namedIn(connTokens, k) {
			continue // hop-by-hop by the client's declaration
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Forwarded-For: ")
	bw.WriteString(ex.fwd)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(ex.proto)
	if ex.port != "" {
		bw.WriteString("\r\nX-Forwarded-Port: ")
		bw.WriteString(ex.port)
	}
	bw.WriteString("\r\nX-Request-Start: ")
	ex.scratch = strconv.AppendInt(ex.scratch[:0], ex.start.UnixMilli(), 10)
	bw.Write(ex.scratch)
	bw.WriteString("\r\nX-Request-Id: ")
	bw.WriteString(ex.reqID)
	bw.WriteString("\r\nVia: ")
	for _, v := range r.Header["Via"] {
		bw.WriteString(v)
		bw.WriteString(", ")
	}
	bw.WriteString(ex.rt.via)
	bw.WriteString("\r\n")
	switch {
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		ex.scratch = strconv.AppendInt(ex.scratch[:0], r.ContentLength, 10)
		bw.Write(ex.scratch)
		bw.WriteString("\r\n")
	case hasBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case len(r.Header["Content-Length"]) > 0:
		bw.WriteString("Content-Length: 0\r\n")
	}
	if upgrade {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(r.Header.Get("Upgrade"))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

// namedIn reports whether header name k is listed in the Connection header
// values conn.
func namedIn(conn []string, k string) bool {
	for _, v := range conn {
		if headerHasToken(v, k) {
			return true
		}
	}
	return false
}

// sendBody streams the request body to the dyno. Reads from the client run
// under the rolling idle window (H28); a client that disappears is H27; a
// malformed chunked body is H26; a dyno that stops reading is H18.
func (ex *exchange) sendBody(r *http.Request, w http.ResponseWriter, uc *upConn) (Code, int) {
	rt := ex.rt
	rc := http.NewResponseController(w)
	bufp := rt.bufs.Get().(*[]byte)
	defer rt.bufs.Put(bufp)
	buf := *bufp
	chunked := r.ContentLength <= 0
	defer rc.SetReadDeadline(time.Time{})
	for {
		_ = rc.SetReadDeadline(time.Now().Add(rt.cfg.IdleTimeout))
		n, err := r.Body.Read(buf)
		if n > 0 {
			uc.nc.SetWriteDeadline(time.Now().Add(rt.cfg.IdleTimeout))
			if chunked {
				ex.scratch = strconv.AppendInt(ex.scratch[:0], int64(n), 16)
				ex.scratch = append(ex.scratch, '\r', '\n')
				uc.bw.Write(ex.scratch)
			}
			uc.bw.Write(buf[:n])
			if chunked {
				uc.bw.WriteString("\r\n")
			}
			if uc.bw.Flush() != nil {
				ex.entry.Sock = "backend"
				return H18, 0
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ex.entry.Sock = "client"
			switch {
			case isTimeout(err):
				return H28, 0
			case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
				return H27, 0
			case errors.As(err, new(*http.MaxBytesError)):
				ex.entry.Cause = "body too large"
				return H26, http.StatusRequestEntityTooLarge
			}
			ex.entry.Sock = ""
			ex.entry.Cause = "bad chunk"
			return H26, http.StatusBadRequest
		}
	}
	if chunked {
		uc.bw.WriteString("0\r\n\r\n")
	}
	uc.nc.SetWriteDeadline(time.Time{}) // the connection may be pooled afterwards
	return CodeNone, 0
}
