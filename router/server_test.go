package router_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestSlowlorisHeadBounded: a client that trickles its request head is cut
// off after ReadHeaderTimeout, and nothing reaches the dyno.
func TestSlowlorisHeadBounded(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		rt := router.New(router.Config{})
		hits := make(chan struct{}, 1)
		mustSet(t, rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) { hits <- struct{}{} }))
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, ReadHeaderTimeout: 200 * time.Millisecond}
		dial := func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }
		if overTLS(t) {
			tln, _ := net.Listen("tcp", "127.0.0.1:0")
			cert, _ := selfSigned(t, "*.localhost")
			srv.TLSListener, srv.GetCertificate = tln, (&router.CertStore{Default: cert}).GetCertificate
			dial = func() (net.Conn, error) {
				return tls.Dial("tcp", tln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		defer func() { cancel(); <-done }()

		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		t0 := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.localhost\r\n")
		for i := 0; i < 20; i++ {
			if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		io.ReadAll(c)
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("slow head held the connection for %s", d)
		}
		select {
		case <-hits:
			t.Error("a trickled head reached the dyno")
		default:
		}
	})
}

// TestSlogLogger: the router log line also goes to the slog.Logger, at
// warn level for errors.
func TestSlogLogger(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	rt := router.New(router.Config{Logger: logger})
	rt.SetBackends("app", nil)
	rec := &discardRecorder{h: http.Header{}}
	req, _ := http.NewRequest("GET", "http://app.localhost/x", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	rt.ServeHTTP(rec, req)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, `code=H14`) || !strings.Contains(out, "app=app") || !strings.Contains(out, `fwd=\"192.0.2.1\"`) {
		t.Errorf("slog output %q", out)
	}
}

// TestExpectContinue: a client waiting for 100 Continue gets it and its
// body reaches the dyno.
func TestExpectContinue(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		mustSet(t, e.rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(b)+" expect="+r.Header.Get("Expect"))
		}))
		req, _ := http.NewRequest("PUT", e.url("/"), strings.NewReader("payload"))
		req.Host = "app.localhost"
		req.Header.Set("Expect", "100-continue")
		resp, body := e.do(t, req)
		if resp.StatusCode != 200 || body != "got payload expect=" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type discardRecorder struct {
	h    http.Header
	code int
}

func (d *discardRecorder) Header() http.Header         { return d.h }
func (d *discardRecorder) WriteHeader(c int)           { d.code = c }
func (d *discardRecorder) Write(p []byte) (int, error) { return len(p), nil }

// TestShutdownClosesTunnels: cancelling Run closes upgraded connections,
// which http.Server.Shutdown alone would leave open.
func TestShutdownClosesTunnels(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		plainOnly(t)
		rt := router.New(router.Config{})
		addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			io.Copy(c, br)
		})
		mustSet(t, rt, "app", addr)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, ShutdownTimeout: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("tunnel still open after shutdown: %v", err)
		}
	})
}

// A context cancelled before the serving goroutines run must still stop
// Run: the shutdown may find no listener registered yet.
func TestRunCancelledAtOnce(t *testing.T) {
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() {
			srv := &router.Server{Router: router.New(router.Config{}), Listener: ln, ShutdownTimeout: time.Second}
			if i%2 == 1 { // and a TLS listener, split between the front ends
				tln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Error(err)
					done <- nil
					return
				}
				cert, _ := selfSigned(t, "*.localhost")
				srv.TLSListener, srv.GetCertificate = tln, (&router.CertStore{Default: cert}).GetCertificate
			}
			done <- srv.Run(ctx)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d: Run did not return 10 s after its context was cancelled", i)
		}
	}
}
