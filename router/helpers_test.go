package router_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/router"
)

// memSink records router log lines as "app: line".
type memSink struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newMemSink() *memSink { return &memSink{added: make(chan struct{}, 1000)} }

func (s *memSink) RouterLog(app string, _ time.Time, line []byte) {
	s.mu.Lock()
	s.lines = append(s.lines, app+": "+string(line))
	s.mu.Unlock()
	select {
	case s.added <- struct{}{}:
	default:
	}
}

// waitLine waits for the n-th (1-based) line.
func (s *memSink) waitLine(t *testing.T, n int) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		if len(s.lines) >= n {
			l := s.lines[n-1]
			s.mu.Unlock()
			return l
		}
		s.mu.Unlock()
		select {
		case <-s.added:
		case <-deadline:
			t.Fatalf("no router log line %d", n)
		}
	}
}

type env struct {
	rt     *router.Router
	sink   *memSink
	addr   string // the listener clients use: the TLS one in the "tls" case
	scheme string // "http" or "https"
	client *http.Client
}

// url is the router's URL for path.
func (e *env) url(path string) string { return e.scheme + "://" + e.addr + path }

// dial opens a client connection to the router (over TLS in the "tls"
// case, HTTP/1.1 negotiated).
func (e *env) dial(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if e.scheme == "https" {
		c, err = tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", e.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newEnv runs a Router behind router.Server on a loopback port.
func newEnv(t *testing.T, cfg router.Config) *env {
	t.Helper()
	sink := newMemSink()
	cfg.LogSink = sink
	rt := router.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, ShutdownTimeout: 2 * time.Second}
	e := &env{rt: rt, sink: sink, addr: ln.Addr().String(), scheme: "http"}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	if overTLS(t) {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := selfSigned(t, "*.localhost")
		srv.TLSListener = tln
		srv.GetCertificate = (&router.CertStore{Default: cert}).GetCertificate
		e.addr, e.scheme = tln.Addr().String(), "https"
		// No ForceAttemptHTTP2: the client offers HTTP/1.1 only.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Server.Run: %v", err)
		}
	})
	e.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return e
}

func (e *env) get(t *testing.T, host, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", e.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return e.do(t, req)
}

func (e *env) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// backend starts a dyno stand-in and returns its address.
func backend(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func mustSet(t *testing.T, rt *router.Router, app string, addrs ...string) {
	t.Helper()
	var ds []router.Dyno
	for i, a := range addrs {
		ds = append(ds, router.Dyno{ID: app + "-" + string(rune('a'+i)), Name: "web." + string(rune('1'+i)), Addr: a})
	}
	if err := rt.SetBackends(app, ds); err != nil {
		t.Fatal(err)
	}
}

// rawDyno is a TCP dyno stand-in scripted per connection: handle gets the
// connection with the request head already read.
func rawDyno(t *testing.T, handle func(c net.Conn, br *bufio.Reader, req *http.Request)) (addr string, requests <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan *http.Request, 100)
	testutil.ServeConns(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		select {
		case reqs <- req:
		default:
		}
		handle(c, br, req)
	})
	return ln.Addr().String(), reqs
}

// rawRequest sends raw bytes to the router and returns the head of its
// first answer (status line and headers).
func (e *env) rawRequest(t *testing.T, raw string) string {
	t.Helper()
	c := e.dial(t)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var b strings.Builder
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// forEachFront runs test against the client-side front ends of
// router.Server: the router's own HTTP/1.1 server ("fast", the default),
// net/http's ("nethttp"), and the own front end behind TLS ("tls": newEnv's
// clients then speak HTTP/1.1 over TLS).
func forEachFront(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	t.Run("fast", test)
	t.Run("nethttp", test)
	t.Run("tls", test)
}

// netHTTP reports whether t (or its parent) is forEachFront's "nethttp"
// case.
func netHTTP(t *testing.T) bool { return strings.Contains(t.Name()+"/", "/nethttp/") }

// overTLS reports whether t (or its parent) is forEachFront's "tls" case.
func overTLS(t *testing.T) bool { return strings.Contains(t.Name()+"/", "/tls/") }

// plainOnly skips forEachFront's "tls" case for a test that sets up its own
// listeners (it would repeat the "fast" case).
func plainOnly(t *testing.T) {
	t.Helper()
	if overTLS(t) {
		t.Skip("sets up its own plain listener")
	}
}
