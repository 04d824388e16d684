package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// Response limits (§6.5 of the reference).
const (
	MaxStatusLineBytes     = 8 << 10
	MaxResponseHeaderBytes = 512 << 10 // per header line
	MaxSetCookieBytes      = 8192
	MaxResponseHeaders     = 1000
	maxChunkLineBytes      = 4096
)

// respHead is what the router needs to know about a response head.
type respHead struct {
	status        int
	n             int   // bytes of head read
	contentLength int64 // -1 when absent
	chunked       bool
	untilClose    bool // body delimited by connection close
	close         bool // dyno will close the connection after this response
	noBody        bool
}

// errLineTooLong reports a head line over its limit.
var errLineTooLong = errors.New("router: line too long")

// readLine returns the next line without its line ending. The slice is
// valid until the next read on uc. Lines longer than limit fail.
func (uc *upConn) readLine(limit int) ([]byte, error) {
	line, err := uc.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		uc.line = append(uc.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(uc.line) > limit+2 {
				return nil, errLineTooLong
			}
			line, err = uc.br.ReadSlice('\n')
			uc.line = append(uc.line, line...)
		}
		line = uc.line
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > limit {
		return nil, errLineTooLong
	}
	return line, nil
}

// rawHeader holds response header lines relayed as they are checked, for
// the front end's respWriter: building a header map only to iterate it
// again cost a tenth of the router's own CPU per request.
type rawHeader struct {
	lines []byte // "Name: value\r\n"…, names canonical, values trimmed
	date  bool   // lines has a Date
	cl    [1]string
}

func (rh *rawHeader) reset() {
	rh.lines = rh.lines[:0]
	rh.date = false
}

// drop removes the lines whose name is listed in the Connection header
// value v.
func (rh *rawHeader) drop(v string) {
	out := rh.lines[:0]
	for rest := rh.lines; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n') + 1
		line := rest[:i]
		rest = rest[i:]
		name := line[:bytes.IndexByte(line, ':')]
		if headerHasToken(v, string(name)) {
			if string(name) == "Date" {
				rh.date = false
			}
			continue
		}
		out = append(out, line...) // never overtakes the read position
	}
	rh.lines = out
}

// readResponseHead parses a response head from uc into h (which must be
// empty) and hd. With raw non-nil and a status other than 101, header
// lines other than Content-Length go to raw instead of h. On failure it returns the H-code (H13 when the dyno closed
// without a byte, H12-able timeouts come back as H13 with a timeout error,
// H17 for malformed heads, H25 for limits) and the log cause.
func readResponseHead(uc *upConn, h http.Header, hd *respHead, raw *rawHeader) (Code, string, error) {
	*hd = respHead{contentLength: -1}
	if raw != nil {
		raw.reset()
	}
	line, err := uc.readLine(MaxStatusLineBytes)
	if err != nil {
		if err == errLineTooLong {
			return H25, "oversized status line", err
		}
		if len(line) > 0 || uc.br.Buffered() > 0 {
			hd.n = 1
		}
		return H13, "", err
	}
	hd.n += len(line) + 2
	// HTTP/1.x SP 3DIGIT SP [reason]
	if len(line) < 13 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '1' && line[7] != '0') ||
		line[8] != ' ' || line[12] != ' ' {
		return H17, "bad status line", nil
	}
	st := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return H17, "bad status line", nil
		}
		st = st*10 + int(c-'0')
	}
	if st < 100 {
		return H17, "bad status line", nil
	}
	hd.status = st
	if st == http.StatusSwitchingProtocols {
		raw = nil // the tunnel relays h
	}
	http10 := line[7] == '0'
	hd.close = http10

	var vals []string
	var connTokens []string
	count := 0
	for {
		line, err = uc.readLine(MaxResponseHeaderBytes)
		if err != nil {
			if err == errLineTooLong {
				return H25, "oversized header", err
			}
			return H13, "", err
		}
		hd.n += len(line) + 2
		if len(line) == 0 {
			break
		}
		if count++; count > MaxResponseHeaders {
			return H25, "too many headers", nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return H17, "obsolete line folding", nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return H17, "bad header", nil
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenByte(c) {
				return H17, "bad header", nil
			}
		}
		value := bytes.TrimRight(bytes.TrimLeft(line[colon+1:], " \t"), " \t")
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return H17, "bad header", nil
			}
		}
		key := canonicalKey(name, uc)
		switch key {
		case "Content-Length":
			n, ok := parseContentLength(value)
			if !ok || (hd.contentLength >= 0 && n != hd.contentLength) {
				return H25, "invalid content length", nil
			}
			if hd.contentLength >= 0 {
				continue // an equal duplicate: merged
			}
			hd.contentLength = n
		case "Transfer-Encoding":
			hd.chunked = bytes.EqualFold(lastToken(value), []byte("chunked"))
			hd.untilClose = !hd.chunked
			continue
		case "Connection":
			v := string(value)
			if headerHasToken(v, "close") {
				hd.close = true
			}
			if http10 && headerHasToken(v, "keep-alive") {
				hd.close = false
			}
			connTokens = append(connTokens, v)
			continue
		case "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Proxy-Authenticate":
			continue
		case "Upgrade":
			if hd.status != http.StatusSwitchingProtocols {
				continue
			}
		case "Set-Cookie":
			if len(value) > MaxSetCookieBytes {
				return H25, "oversized cookie", nil
			}
		}
		if raw != nil && key != "Content-Length" {
			raw.lines = append(raw.lines, key...)
			raw.lines = append(raw.lines, ": "...)
			raw.lines = append(raw.lines, value...)
			raw.lines = append(raw.lines, "\r\n"...)
			if key == "Date" {
				raw.date = true
			}
			continue
		}
		if raw != nil { // key is Content-Length, the only one kept in h
			raw.cl[0] = uc.internValue(key, value)
			h[key] = raw.cl[:1:1]
			continue
		}
		if len(vals) == cap(vals) {
			vals = make([]string, 0, 8)
		}
		vals = append(vals, uc.internValue(key, value))
		if old, ok := h[key]; ok {
			h[key] = append(old, vals[len(vals)-1])
		} else {
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	for _, v := range connTokens {
		for k := range h {
			if k != "Upgrade" && headerHasToken(v, k) {
				delete(h, k)
			}
		}
		if raw != nil {
			raw.drop(v) // never holds Upgrade: not kept without a 101
		}
	}
	if hd.chunked {
		delete(h, "Content-Length") // chunked wins; the client gets our own framing
		hd.contentLength = -1
	}
	if hd.status == http.StatusSwitchingProtocols {
		h["Connection"] = []string{"Upgrade"}
	}
	switch {
	case hd.status < 200, hd.status == http.StatusNoContent, hd.status == http.StatusNotModified:
		hd.noBody = true
	case hd.contentLength < 0 && !hd.chunked:
		hd.untilClose = true
	}
	return CodeNone, "", nil
}

func lastToken(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return bytes.TrimSpace(v)
}

// parseContentLength accepts digits, or a list of equal values ("5, 5").
func parseContentLength(v []byte) (int64, bool) {
	n := int64(-1)
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = bytes.TrimSpace(v[:i]), v[i+1:]
		} else {
			part, v = bytes.TrimSpace(v), nil
		}
		if len(part) == 0 || len(part) > 18 {
			return 0, false
		}
		var x int64
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && x != n {
			return 0, false
		}
		n = x
	}
	if n < 0 {
		return 0, false
	}
	return n, true
}

// copyBody relays the response body to the client, flushing whenever the
// dyno pauses so streamed responses (SSE, long polling) reach the client
// promptly. Reads from the dyno run under the rolling idle window (H15).
func (ex *exchange) copyBody(w http.ResponseWriter, r *http.Request, uc *upConn, hd *respHead) (Code, string) {
	if hd.noBody || r.Method == http.MethodHead {
		if hd.untilClose {
			hd.untilClose = false
			hd.close = true
		}
		if ex.entry.Bytes < 0 {
			ex.entry.Bytes = 0
		}
		return CodeNone, ""
	}
	ex.entry.Bytes = 0
	bc := bodyCopier{ex: ex, w: w, r: r, uc: uc}
	defer bc.release()
	switch {
	case hd.chunked:
		for {
			if code, sock := bc.beforeBlockingRead(); code != CodeNone {
				return code, sock
			}
			line, err := uc.readLine(maxChunkLineBytes)
			if err != nil {
				return bc.readErr(err)
			}
			size, ok := parseChunkSize(line)
			if !ok {
				ex.entry.Cause = "bad chunk"
				return H17, "backend"
			}
			if size == 0 {
				for { // trailers are not forwarded
					line, err := uc.readLine(MaxResponseHeaderBytes)
					if err != nil {
						return bc.readErr(err)
					}
					if len(line) == 0 {
						return CodeNone, ""
					}
				}
			}
			if code, sock := bc.copyN(size); code != CodeNone {
				return code, sock
			}
			line, err = uc.readLine(2)
			if err != nil {
				return bc.readErr(err)
			}
			if len(line) != 0 {
				ex.entry.Cause = "bad chunk"
				return H17, "backend"
			}
		}
	case hd.untilClose:
		hd.close = true
		return bc.copyN(-1)
	default:
		return bc.copyN(hd.contentLength)
	}
}

func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

type bodyCopier struct {
	ex      *exchange
	w       http.ResponseWriter
	r       *http.Request
	uc      *upConn
	bufp    *[]byte
	pending bool // bytes written to w since the last flush
	rc      *http.ResponseController
}

func (bc *bodyCopier) release() {
	if bc.rc != nil {
		// net/http keeps a write deadline across keep-alive requests when
		// the server has no WriteTimeout: drop ours.
		_ = bc.rc.SetWriteDeadline(time.Time{})
	}
	if bc.bufp != nil {
		bc.ex.rt.bufs.Put(bc.bufp)
	}
}

func (bc *bodyCopier) readErr(err error) (Code, string) {
	switch {
	case bc.r.Context().Err() != nil:
		return H27, "client"
	case isTimeout(err):
		return H15, "backend"
	case err == errLineTooLong:
		bc.ex.entry.Cause = "bad chunk"
		return H17, "backend"
	}
	return H18, "backend"
}

// copyN copies n bytes (n < 0: until EOF) from the dyno to the client.
func (bc *bodyCopier) copyN(n int64) (Code, string) {
	uc, ex := bc.uc, bc.ex
	for n != 0 {
		if b := uc.br.Buffered(); b > 0 {
			k := b
			if n > 0 && int64(k) > n {
				k = int(n)
			}
			p, _ := uc.br.Peek(k)
			m, err := bc.w.Write(p)
			uc.br.Discard(k)
			ex.entry.Bytes += int64(m)
			if err != nil {
				return H27, "client"
			}
			bc.pending = true
			if n > 0 {
				n -= int64(k)
			}
			continue
		}
		if code, sock := bc.beforeBlockingRead(); code != CodeNone {
			return code, sock
		}
		if bc.bufp == nil {
			bc.bufp = ex.rt.bufs.Get().(*[]byte)
		}
		buf := *bc.bufp
		if n > 0 && int64(len(buf)) > n {
			buf = buf[:n]
		}
		m, err := uc.br.Read(buf)
		if m > 0 {
			w, werr := bc.w.Write(buf[:m])
			ex.entry.Bytes += int64(w)
			if werr != nil {
				return H27, "client"
			}
			bc.pending = true
			if n > 0 {
				n -= int64(m)
			}
		}
		if err != nil {
			if err == io.EOF && n < 0 {
				return CodeNone, ""
			}
			if n != 0 {
				return bc.readErr(err)
			}
		}
	}
	return CodeNone, ""
}

// beforeBlockingRead prepares a read from the dyno that may block: what the
// client has not seen yet is flushed first (so streams stay live), and the
// idle window restarts.
func (bc *bodyCopier) beforeBlockingRead() (Code, string) {
	if bc.uc.br.Buffered() > 0 {
		return CodeNone, ""
	}
	if bc.pending {
		if code, sock := bc.flush(); code != CodeNone {
			return code, sock
		}
	}
	bc.uc.readDL = time.Now().Add(bc.ex.rt.cfg.IdleTimeout)
	bc.uc.nc.SetReadDeadline(bc.uc.readDL)
	if bc.r.Context().Err() != nil {
		return H27, "client"
	}
	return CodeNone, ""
}

func (bc *bodyCopier) flush() (Code, string) {
	if bc.rc == nil {
		bc.rc = http.NewResponseController(bc.w)
	}
	_ = bc.rc.SetWriteDeadline(time.Now().Add(bc.ex.rt.cfg.IdleTimeout))
	bc.pending = false
	if err := bc.rc.Flush(); err != nil {
		return H27, "client"
	}
	return CodeNone, ""
}
