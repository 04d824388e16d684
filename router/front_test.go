package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeConn feeds raw bytes to a front-end connection; writes are discarded.
type fakeConn struct {
	net.Conn // nil: any other method would panic the test
	r        io.Reader
}

func (c *fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{Port: 80} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234} }

// parseFront runs the front end's head parser and body reader on raw. status
// is 0 when the head was accepted, the answer's status otherwise (-1: the
// connection would just be closed).
func parseFront(t testing.TB, raw []byte) (req *http.Request, body []byte, status int, bodyErr error) {
	t.Helper()
	f := newFront(New(Config{}), time.Second, time.Second, 1<<20, nil)
	c := f.newConn(&fakeConn{r: bytes.NewReader(raw)})
	t.Cleanup(func() { c.cancel(); f.connWG.Done() })
	c.br = bufio.NewReaderSize(&c.cr, 4<<10)
	c.bw = bufio.NewWriter(io.Discard)
	if _, err := c.br.Peek(1); err != nil {
		return nil, nil, -1, nil
	}
	head, st := c.readHead()
	if st != 0 {
		return nil, nil, st, nil
	}
	if st, _ := c.parse(head); st != 0 {
		return nil, nil, st, nil
	}
	body, bodyErr = io.ReadAll(c.req.Body)
	return c.req, body, 0, bodyErr
}

// checkAgainstNetHTTP fails t when the front end accepted raw but net/http's
// request reader disagrees: it rejects the request, or reads another method,
// target, host, header map, length or body.
func checkAgainstNetHTTP(t *testing.T, raw []byte) {
	t.Helper()
	req, body, st, bodyErr := parseFront(t, raw)
	if st != 0 {
		return
	}
	std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("front end accepted what net/http rejects (%v): %q", err, raw)
	}
	if req.Method != std.Method || req.RequestURI != std.RequestURI || req.Host != std.Host ||
		req.ContentLength != std.ContentLength || req.ProtoMinor != std.ProtoMinor {
		t.Fatalf("%q:\nfront   %s %s %s host=%q len=%d\nnethttp %s %s %s host=%q len=%d", raw,
			req.Method, req.RequestURI, req.Proto, req.Host, req.ContentLength,
			std.Method, std.RequestURI, std.Proto, std.Host, std.ContentLength)
	}
	if req.URL.String() != std.URL.String() {
		t.Fatalf("%q: URL %q, net/http %q", raw, req.URL, std.URL)
	}
	if !reflect.DeepEqual(req.Header, std.Header) && !(len(req.Header) == 0 && len(std.Header) == 0) {
		t.Fatalf("%q: headers\nfront   %q\nnethttp %q", raw, req.Header, std.Header)
	}
	if bodyErr == nil {
		stdBody, err := io.ReadAll(std.Body)
		if err != nil || !bytes.Equal(body, stdBody) {
			t.Fatalf("%q: body %q, net/http %q (%v)", raw, body, stdBody, err)
		}
	}
}

var validRequests = []string{
	"GET / HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
	"GET /path/to?q=1&r=%zz HTTP/1.1\r\nHost: app.localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
	"GET /a%20b?x HTTP/1.1\r\nHost: app.localhost:8080\r\n\r\n",
	"GET http://other.example/x?y HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a.localhost\r\n\r\n",
	"GET / HTTP/1.1\nHost: app.localhost\nx-lower-case: v\n\n",
	"POST /p HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\n, w\r\n0\r\nTrailer-A: x\r\n\r\n",
	"PUT /p HTTP/1.1\r\nHost: a.localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	"GET / HTTP/1.1\r\nHost: a.localhost\r\nX-Empty:\r\nX-Spaces: \t a  b \t\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a.localhost\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
	"CONNECT app.localhost:443 HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
}

func TestFrontParseAgreesWithNetHTTP(t *testing.T) {
	for _, raw := range validRequests {
		if _, _, st, _ := parseFront(t, []byte(raw)); st != 0 {
			t.Errorf("front end refused a valid request (%d): %q", st, raw)
			continue
		}
		checkAgainstNetHTTP(t, []byte(raw))
	}
}

// TestFrontParseRejects: hostile or malformed heads are refused by the
// parser itself, with the status net/http's server would use. (Limits
// checked by the router on the parsed request — line, name and value
// lengths, header count — are covered by TestSmugglingAndLimits.)
func TestFrontParseRejects(t *testing.T) {
	const host = "Host: a.localhost\r\n"
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"conflicting content-length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400},
		{"content-length list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\nhello", 400},
		{"signed content-length", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", 400},
		{"unknown transfer-encoding", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"two transfer-encodings", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"transfer-encoding in HTTP/1.0", "POST / HTTP/1.0\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n", 400},
		{"invalid header name", "GET / HTTP/1.1\r\n" + host + "Bad[Name]: x\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\rb\r\n\r\n", 400},
		{"fold without a header", "GET / HTTP/1.1\r\n X: y\r\n" + host + "\r\n", 400},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"duplicate host", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400},
		{"invalid host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"garbage version", "GET / FOO/1.1\r\n" + host + "\r\n", 400},
		{"no version", "GET /\r\n" + host + "\r\n", 400},
		{"empty request line", "\r\n" + "GET / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"invalid method", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"control byte in target", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X-Big: "+strings.Repeat("v", 1000)+"\r\n", 1100) + "\r\n", 431},
		{"truncated head", "GET / HTTP/1.1\r\n" + host, -1},
	} {
		if _, _, st, _ := parseFront(t, []byte(tc.raw)); st != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, st, tc.status)
		}
	}
}

// TestFrontChunkedBodyErrors: malformed chunked framing fails the body read
// with errMalformedChunk (the router answers 400, H26); a truncated body
// with io.ErrUnexpectedEOF (H27).
func TestFrontChunkedBodyErrors(t *testing.T) {
	const head = "POST / HTTP/1.1\r\nHost: a.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		body string
		want error
	}{
		{"zz\r\nhello\r\n0\r\n\r\n", errMalformedChunk},
		{"fffffffffffffffff1\r\nhello\r\n0\r\n\r\n", errMalformedChunk},
		{"5\r\nhelloXX0\r\n\r\n", errMalformedChunk},
		{"-5\r\nhello\r\n0\r\n\r\n", errMalformedChunk},
		{strings.Repeat("1", 5000) + "\r\n", errMalformedChunk},
		{"5\nhello\r\n0\r\n\r\n", errMalformedChunk},
		{"5;ext\r\r\nhello\r\n0\r\n\r\n", errMalformedChunk}, // a CR in the extension
		{"5\r\nhello\r\n0;\r\r\n\r\n", errMalformedChunk},    // found by FuzzFrontParse
		{"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", errMalformedChunk},
		{"5\r\nhel", io.ErrUnexpectedEOF},
		{"5\r\nhello\r\n", io.ErrUnexpectedEOF},
	} {
		_, _, st, err := parseFront(t, []byte(head+tc.body))
		if st != 0 || !errors.Is(err, tc.want) {
			t.Errorf("body %.40q: status %d, err %v, want %v", tc.body, st, err, tc.want)
		}
	}
	_, _, _, err := parseFront(t, []byte("POST / HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 10\r\n\r\nshort"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short Content-Length body: %v", err)
	}
}

// TestSimpleOrigin: the hand-split fast path gives what url.ParseRequestURI
// gives.
func TestSimpleOrigin(t *testing.T) {
	for _, target := range []string{"/", "/a/b", "/a?b=c", "/a?b=%zz&c=d?e", "/~user/x.y;p=1", "/a:b@c$&+,=;x-_"} {
		if !simpleOrigin(target) {
			t.Errorf("%q not on the fast path", target)
			continue
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatal(err)
		}
		path, query, _ := strings.Cut(target, "?")
		if want.Path != path || want.RawQuery != query || want.RawPath != "" || want.Host != "" {
			t.Errorf("%q: url.ParseRequestURI gives path %q query %q raw %q", target, want.Path, want.RawQuery, want.RawPath)
		}
	}
	for _, target := range []string{"", "*", "//x", "/a%20b", "/a b", "/a#f", "http://x/", "/\x7f", "/a!b", "/(x)"} {
		if simpleOrigin(target) {
			t.Errorf("%q wrongly on the fast path", target)
		}
	}
}

// FuzzFrontParse: the parser never panics, never accepts a request that
// net/http's reader rejects or reads differently, and always refuses the
// framing attacks of TestFrontParseRejects.
func FuzzFrontParse(f *testing.F) {
	for _, raw := range validRequests {
		f.Add([]byte(raw))
	}
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkAgainstNetHTTP(t, raw)
		req, _, st, _ := parseFront(t, raw)
		if st != 0 {
			return
		}
		// Framing the dyno will get is unambiguous: a chunked request has
		// no Content-Length left, and a length is never negative unless
		// chunked.
		if req.ContentLength < 0 && (req.TransferEncoding == nil || req.Header["Content-Length"] != nil) {
			t.Fatalf("ambiguous framing for %q", raw)
		}
		if len(req.Header["Transfer-Encoding"]) > 0 {
			t.Fatalf("Transfer-Encoding left in the header map for %q", raw)
		}
	})
}
