package router

import (
	"bufio"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var respHeadCases = []struct {
	name    string
	raw     string
	code    Code
	cause   string
	status  int
	cl      int64
	chunked bool
	close   bool
	header  http.Header
}{
	{name: "simple", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n", status: 200, cl: 5,
		header: http.Header{"Content-Length": {"5"}, "Content-Type": {"text/plain"}}},
	{name: "lowercase names canonicalised", raw: "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-custom-thing: a\r\n\r\n", status: 200, cl: 0,
		header: http.Header{"Content-Length": {"0"}, "X-Custom-Thing": {"a"}}},
	{name: "empty reason ok", raw: "HTTP/1.1 204 \r\n\r\n", status: 204, cl: -1, header: http.Header{}},
	{name: "bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 1\n\n", status: 200, cl: 1, header: http.Header{"Content-Length": {"1"}}},
	{name: "chunked drops content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, cl: -1, chunked: true, header: http.Header{}},
	{name: "equal duplicate lengths merged", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", status: 200, cl: 3, header: http.Header{"Content-Length": {"3"}}},
	{name: "connection close and hop-by-hop stripped", raw: "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
		status: 200, cl: 0, close: true, header: http.Header{"Content-Length": {"0"}}},
	{name: "http/1.0 closes", raw: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0, close: true, header: http.Header{"Content-Length": {"0"}}},
	{name: "http/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0, header: http.Header{"Content-Length": {"0"}}},
	{name: "set-cookie repeated", raw: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n", status: 200, cl: -1, header: http.Header{"Set-Cookie": {"a=1", "b=2"}}},
	{name: "no reason phrase", raw: "HTTP/1.1 200\r\n\r\n", code: H17, cause: "bad status line"},
	{name: "bad version", raw: "HTTP/2.0 200 OK\r\n\r\n", code: H17, cause: "bad status line"},
	{name: "bad status", raw: "HTTP/1.1 2x0 OK\r\n\r\n", code: H17, cause: "bad status line"},
	{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", code: H17, cause: "obsolete line folding"},
	{name: "space in name", raw: "HTTP/1.1 200 OK\r\nX A: a\r\n\r\n", code: H17, cause: "bad header"},
	{name: "no colon", raw: "HTTP/1.1 200 OK\r\nXA\r\n\r\n", code: H17, cause: "bad header"},
	{name: "control byte in value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x01\r\n\r\n", code: H17, cause: "bad header"},
	{name: "conflicting lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", code: H25, cause: "invalid content length"},
	{name: "negative length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", code: H25, cause: "invalid content length"},
	{name: "oversized cookie", raw: "HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("x", 8193) + "\r\n\r\n", code: H25, cause: "oversized cookie"},
	{name: "oversized status line", raw: "HTTP/1.1 200 " + strings.Repeat("x", 9000) + "\r\n\r\n", code: H25, cause: "oversized status line"},
	{name: "status line at the limit", raw: "HTTP/1.1 200 " + strings.Repeat("x", MaxStatusLineBytes-13) + "\r\n\r\n", status: 200, cl: -1, header: http.Header{}},
	{name: "status line one over", raw: "HTTP/1.1 200 " + strings.Repeat("x", MaxStatusLineBytes-12) + "\r\n\r\n", code: H25, cause: "oversized status line"},
	{name: "oversized header", raw: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 600<<10) + "\r\n\r\n", code: H25, cause: "oversized header"},
	{name: "truncated", raw: "HTTP/1.1 200 OK\r\nContent-Len", code: H13},
	{name: "empty", raw: "", code: H13},
}

func newTestConn(raw string) *upConn {
	return &upConn{br: bufio.NewReaderSize(strings.NewReader(raw), 8<<10)}
}

// checkRawMode reads raw again with the front end's raw header lines and
// fails t unless the outcome, head and header (map plus lines, in order
// per name) equal the map-only reading's.
func checkRawMode(t *testing.T, raw string, code Code, h http.Header, hd *respHead) {
	t.Helper()
	h2 := http.Header{}
	var hd2 respHead
	var rh rawHeader
	code2, _, _ := readResponseHead(newTestConn(raw), h2, &hd2, &rh)
	if code2 != code {
		t.Fatalf("raw mode: code %v, map mode %v", code2, code)
	}
	if code != CodeNone {
		return
	}
	if hd2 != *hd {
		t.Fatalf("raw mode: head %+v, map mode %+v", hd2, *hd)
	}
	_, hasDate := h["Date"]
	if rh.date != (hasDate && hd.status != http.StatusSwitchingProtocols) {
		t.Errorf("raw mode: date %v with header %v", rh.date, h)
	}
	for rest := string(rh.lines); rest != ""; {
		line, more, ok := strings.Cut(rest, "\r\n")
		k, v, ok2 := strings.Cut(line, ": ")
		if !ok || !ok2 || !validHeaderName(k) || !validHeaderValue(v) || k != http.CanonicalHeaderKey(k) {
			t.Fatalf("raw mode: bad line %q in %q", line, rh.lines)
		}
		h2[k] = append(h2[k], v)
		rest = more
	}
	if !reflect.DeepEqual(h, h2) {
		t.Fatalf("raw mode: header %q, map mode %q", h2, h)
	}
}

func TestReadResponseHead(t *testing.T) {
	for _, tc := range respHeadCases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			var hd respHead
			code, cause, _ := readResponseHead(newTestConn(tc.raw), h, &hd, nil)
			if code != tc.code || cause != tc.cause {
				t.Fatalf("code %v cause %q, want %v %q", code, cause, tc.code, tc.cause)
			}
			checkRawMode(t, tc.raw, code, h, &hd)
			if code != CodeNone {
				return
			}
			if hd.status != tc.status || hd.contentLength != tc.cl || hd.chunked != tc.chunked || hd.close != tc.close {
				t.Errorf("head %+v, want status %d cl %d chunked %v close %v", hd, tc.status, tc.cl, tc.chunked, tc.close)
			}
			if len(h) != len(tc.header) {
				t.Errorf("header %v, want %v", h, tc.header)
			}
			for k, v := range tc.header {
				if strings.Join(h[k], "|") != strings.Join(v, "|") {
					t.Errorf("header %s = %q, want %q", k, h[k], v)
				}
			}
		})
	}
}

func FuzzReadResponseHead(f *testing.F) {
	for _, tc := range respHeadCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h := http.Header{}
		var hd respHead
		code, _, _ := readResponseHead(newTestConn(raw), h, &hd, nil)
		checkRawMode(t, raw, code, h, &hd)
		if code != CodeNone {
			return
		}
		// An accepted head never forwards framing or hop-by-hop headers,
		// nor anything a client could read as a second header line.
		for _, k := range []string{"Transfer-Encoding", "Connection", "Keep-Alive", "Te", "Trailer"} {
			if _, ok := h[k]; ok && !(k == "Connection" && hd.status == 101) {
				t.Fatalf("%s forwarded in %v", k, h)
			}
		}
		for k, vs := range h {
			if !validHeaderName(k) {
				t.Fatalf("invalid name %q accepted", k)
			}
			for _, v := range vs {
				if !validHeaderValue(v) {
					t.Fatalf("invalid value %q accepted", v)
				}
			}
		}
		if hd.chunked && hd.contentLength >= 0 {
			t.Fatal("both chunked and a length")
		}
		if hd.status < 100 || hd.status > 999 {
			t.Fatalf("status %d", hd.status)
		}
	})
}

var chunkSizeCases = []struct {
	line string
	n    int64
	ok   bool
}{
	{"0", 0, true}, {"a", 10, true}, {"FF", 255, true}, {"10;ext=1", 16, true}, {"5 ", 5, true},
	{"", 0, false}, {"zz", 0, false}, {"-1", 0, false}, {"fffffffffffffffff1", 0, false}, {" 5", 0, false},
}

func TestParseChunkSize(t *testing.T) {
	for _, tc := range chunkSizeCases {
		n, ok := parseChunkSize([]byte(tc.line))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseChunkSize(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

func FuzzParseChunkSize(f *testing.F) {
	for _, tc := range chunkSizeCases {
		f.Add(tc.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n, ok := parseChunkSize([]byte(line))
		if ok && n < 0 {
			t.Fatalf("negative size %d from %q", n, line)
		}
	})
}

func TestParseContentLength(t *testing.T) {
	for _, tc := range []struct {
		v  string
		n  int64
		ok bool
	}{{"0", 0, true}, {"12", 12, true}, {"5, 5", 5, true}, {"5,6", 0, false}, {"", 0, false}, {"+5", 0, false}, {"1234567890123456789", 0, false}} {
		n, ok := parseContentLength([]byte(tc.v))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseContentLength(%q) = %d, %v; want %d, %v", tc.v, n, ok, tc.n, tc.ok)
		}
	}
}
