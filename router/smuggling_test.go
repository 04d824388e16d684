package router_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestSmugglingAndLimits sends raw, hostile requests over TCP. For each it
// checks the router's answer and that no request the router did not see
// (the "smuggled" one, path /smuggled) ever reaches the dyno.
func TestSmugglingAndLimits(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		type seen struct {
			path string
			body string
		}
		got := make(chan seen, 100)
		addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			for {
				b, err := io.ReadAll(req.Body)
				got <- seen{req.URL.Path, string(b)}
				if err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if req, err = http.ReadRequest(br); err != nil {
					return
				}
			}
		})
		mustSet(t, e.rt, "app", addr)
		const host = "Host: app.localhost\r\n"
		smuggled := "GET /smuggled HTTP/1.1\r\n" + host + "\r\n"
		// What the dyno sees behind the router's own front end, where it
		// differs from net/http's.
		ownFront := map[string][]string{"te and cl: chunked wins, re-framed": {"/a"}}
		for _, tc := range []struct {
			name   string
			raw    string
			status string // first response's status line prefix
			// dyno lists the paths the dyno may see, in order ("" = none).
			dyno []string
		}{
			{"conflicting content-length", "POST /a HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello" + smuggled, "HTTP/1.1 400", nil},
			{"content-length list", "POST /a HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\nhello" + smuggled, "HTTP/1.1 400", nil},
			// Both framings: chunked wins and the dyno gets it re-framed.
			// The own front end then closes the connection (RFC 9112
			// §6.1), so what follows is never read; net/http reads on.
			{"te and cl: chunked wins, re-framed", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 ", []string{"/a", "/smuggled"}},
			{"te and empty cl", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length:\r\n\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400", nil},
			{"te and conflicting cl", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400", nil},
			{"unknown transfer-encoding", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 501", nil},
			// net/http unfolds obs-fold into one SP-joined value, which RFC 9112 §5.2
			// allows a proxy to forward: the dyno never sees a continuation line.
			{"obs-fold unfolded", "GET /a HTTP/1.1\r\n" + host + "X-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 200", []string{"/a"}},
			{"space before colon", "GET /a HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400", nil},
			{"invalid header name", "GET /a HTTP/1.1\r\n" + host + "Bad[Name]: x\r\n\r\n", "HTTP/1.1 400", nil},
			{"NUL in header value", "GET /a HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n", "HTTP/1.1 400", nil},
			{"duplicate host", "GET /a HTTP/1.1\r\n" + host + "Host: other.localhost\r\n\r\n", "HTTP/1.1 400", nil},
			{"bare CR in a chunk extension", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;x\rhello\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400", nil},
			{"bad chunk size", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400", nil},
			{"chunk size overflow", "POST /a HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400", nil},
			{"request line too long", "GET /" + strings.Repeat("a", 8200) + " HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 414", nil},
			{"header name too long", "GET /a HTTP/1.1\r\n" + host + "X-" + strings.Repeat("n", 1000) + ": v\r\n\r\n", "HTTP/1.1 431", nil},
			{"header value too long", "GET /a HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("v", 8200) + "\r\n\r\n", "HTTP/1.1 431", nil},
			{"too many headers", "GET /a HTTP/1.1\r\n" + host + strings.Repeat("X-H: v\r\n", 1001) + "\r\n", "HTTP/1.1 431", nil},
			{"unsupported expect", "POST /a HTTP/1.1\r\n" + host + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", "HTTP/1.1 417", nil},
			{"connect method", "CONNECT app.localhost:443 HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 405", nil},
			{"http/1.0 without host", "GET /a HTTP/1.0\r\n\r\n", "HTTP/1.0 404", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.rawRequest(t, tc.raw)
				if !strings.HasPrefix(resp, tc.status) {
					first, _, _ := strings.Cut(resp, "\r\n")
					t.Errorf("answer %q, want prefix %q", first, tc.status)
				}
				var paths []string
				deadline := time.After(100 * time.Millisecond)
			collect:
				for {
					select {
					case s := <-got:
						paths = append(paths, s.path)
					case <-deadline:
						break collect
					}
				}
				want := tc.dyno
				if own, ok := ownFront[tc.name]; ok && !netHTTP(t) {
					want = own
				}
				if strings.Join(paths, ",") != strings.Join(want, ",") {
					t.Errorf("dyno saw %v, want %v", paths, want)
				}
			})
		}
	})
}

// TestConnectionHeaderCannotStripRouterHeaders is go-style.md §4.1's check:
// a client naming our headers in Connection must not delete them.
func TestConnectionHeaderCannotStripRouterHeaders(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		hdrs := make(chan http.Header, 1)
		mustSet(t, e.rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) { hdrs <- r.Header }))
		e.get(t, "app.localhost", "/", "Connection", "X-Request-Id, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Port, X-Request-Start, Via")
		h := <-hdrs
		for _, k := range []string{"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Request-Start", "Via"} {
			if h.Get(k) == "" {
				t.Errorf("%s stripped by the client's Connection header", k)
			}
		}
	})
}

// TestRefusedRequestsLogged: a request the router's own front end refuses
// before routing still gets its H26 line in the app's log, and counts in the
// app's metrics, when it names one app's host. net/http's front end answers
// such requests itself, without a line.
func TestRefusedRequestsLogged(t *testing.T) {
	e := newEnv(t, router.Config{})
	mustSet(t, e.rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {}))
	const host = "Host: app.localhost\r\n"
	n := 0
	for _, tc := range []struct {
		name, raw, status string
		line              string // regexp of the app's next log line; "" = none
	}{
		{"bad header name", "GET /a?b=1 HTTP/1.1\r\n" + host + "Bad[Name]: x\r\n\r\n", "HTTP/1.1 400",
			`^app: at=error code=H26 desc="Request Error" cause="bad header" method=GET path="/a\?b=1" host=app.localhost request_id=[0-9a-f-]{36} fwd="127.0.0.1" dyno= connect= service= status=400 bytes= protocol=` + e.scheme + `$`},
		{"conflicting lengths", "POST /p HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nx", "HTTP/1.1 400",
			`^app: at=error code=H26 desc="Request Error" cause="bad content length" method=POST path="/p" .* status=400 bytes= `},
		{"unknown transfer-encoding", "POST /p HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501",
			`^app: at=error code=H26 desc="Request Error" cause="unsupported transfer encoding" method=POST .* status=501 `},
		{"bad host port", "GET / HTTP/1.1\r\nHost: app.localhost:x/\r\n\r\n", "HTTP/1.1 400",
			`^app: at=error code=H26 desc="Request Error" cause="bad host header" method=GET path="/" host=app.localhost:x/ `},
		{"absolute-form names the host", "GET http://app.localhost/abs HTTP/1.1\r\nHost: app.localhost\r\nX: \x01\r\n\r\n", "HTTP/1.1 400",
			`^app: at=error code=H26 desc="Request Error" cause="bad header" method=GET path="http://app.localhost/abs" host=app.localhost `},
		{"version", "GET / HTTP/2.0\r\n" + host + "\r\n", "HTTP/1.1 505",
			`^app: at=error code=H26 desc="Request Error" cause="unsupported HTTP version" .* status=505 `},
		// Not put down to one app: no line.
		{"two hosts", "GET / HTTP/1.1\r\n" + host + "Host: other.localhost\r\n\r\n", "HTTP/1.1 400", ""},
		{"unknown app", "GET / HTTP/1.1\r\nHost: nosuch.localhost\r\nBad[Name]: x\r\n\r\n", "HTTP/1.1 400", ""},
		{"no host", "GET / HTTP/1.1\r\nBad[Name]: x\r\n\r\n", "HTTP/1.1 400", ""},
		{"garbage request line", "GET\r\n" + host + "\r\n", "HTTP/1.1 400", ""},
	} {
		resp := e.rawRequest(t, tc.raw)
		if !strings.HasPrefix(resp, tc.status) {
			t.Errorf("%s: answer %q, want prefix %q", tc.name, resp, tc.status)
		}
		if tc.line == "" {
			continue
		}
		n++
		if l := e.sink.waitLine(t, n); !regexp.MustCompile(tc.line).MatchString(l) {
			t.Errorf("%s: log line\n%s\ndoes not match\n%s", tc.name, l, tc.line)
		}
	}
	// The unattributed requests added no line: the next one is a request's.
	e.get(t, "app.localhost", "/after")
	if l := e.sink.waitLine(t, n+1); !strings.Contains(l, `at=info method=GET path="/after"`) {
		t.Errorf("line after the refused requests: %s", l)
	}
	st, _ := e.rt.Stats("app")
	if st.Requests != int64(n+1) || st.ByCode["H26"] != int64(n) || st.ByClass[4] != 4 || st.ByClass[5] != 2 {
		t.Errorf("Stats = %+v, want %d requests, %d H26", st, n+1, n)
	}
}
