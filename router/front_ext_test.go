package router_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestKeepAlivePipeliningAndHTTP10 checks connection handling that both
// front ends must share: pipelined requests answered in order on one
// connection, HTTP/1.0 answered as HTTP/1.0 (closed unless keep-alive was
// asked for), bodies of unknown length relayed whole, HEAD without a body.
func TestKeepAlivePipeliningAndHTTP10(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB
		mustSet(t, e.rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/big":
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, big) // chunked by the dyno: no length
			default:
				w.Header().Set("Content-Length", "3")
				io.WriteString(w, r.URL.Path[:3])
			}
		}))
		c := e.dial(t)
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		const h = " HTTP/1.1\r\nHost: app.localhost\r\n\r\n"
		io.WriteString(c, "GET /one"+h+"GET /two"+h+"GET /big"+h+"HEAD /hhh"+h)
		br := bufio.NewReader(c)
		for _, want := range []string{"/on", "/tw", big, ""} {
			resp, err := http.ReadResponse(br, &http.Request{Method: map[bool]string{true: "HEAD", false: "GET"}[want == ""]})
			if err != nil {
				t.Fatalf("response for %.10q: %v", want, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != want || resp.StatusCode != 200 {
				t.Fatalf("got %d %.20q (%d bytes) %v, want %.20q", resp.StatusCode, b, len(b), err, want)
			}
			if want == "" && resp.ContentLength != 3 {
				t.Errorf("HEAD: Content-Length %d, want the dyno's 3", resp.ContentLength)
			}
		}

		for _, tc := range []struct {
			conn      string
			keepAlive bool
		}{{"", false}, {"Connection: keep-alive\r\n", true}} {
			c := e.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET /ten HTTP/1.0\r\nHost: app.localhost\r\n"+tc.conn+"\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.Proto != "HTTP/1.0" || string(b) != "/te" {
				t.Errorf("HTTP/1.0 answer %s %q", resp.Proto, b)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // an open connection times out
			_, err = br.ReadByte()
			c.Close()
			if closed := err == io.EOF; closed == tc.keepAlive {
				t.Errorf("HTTP/1.0 %q: connection closed=%v (%v)", tc.conn, closed, err)
			}
		}
	})
}

// TestShutdownDrainsInFlight: cancelling Run lets a request in flight
// finish (with "Connection: close"), closes idle keep-alive connections,
// and refuses new ones.
func TestShutdownDrainsInFlight(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		plainOnly(t)
		rt := router.New(router.Config{})
		started, finish := make(chan struct{}), make(chan struct{})
		mustSet(t, rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(started)
				<-finish
			}
			io.WriteString(w, "done")
		}))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, ShutdownTimeout: 5 * time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()

		dial := func() (net.Conn, *bufio.Reader) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			return c, bufio.NewReader(c)
		}
		idle, idleBR := dial()
		defer idle.Close()
		io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
		if resp, err := http.ReadResponse(idleBR, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("keep-alive request: %v", err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		busy, busyBR := dial()
		defer busy.Close()
		io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
		<-started
		cancel()
		if _, err := idleBR.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("idle keep-alive connection still open during shutdown: %v", err)
		}
		close(finish)
		resp, err := http.ReadResponse(busyBR, nil)
		if err != nil {
			t.Fatalf("in-flight request cut by shutdown: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "done" || !resp.Close {
			t.Errorf("in-flight answer %q, close=%v", b, resp.Close)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Error("listener still accepting after Run returned")
		}
	})
}

// TestRequestsArrivingMidResponse: a pipelined request, or the client's
// FIN, that reaches the router while it is still answering the previous
// request is read promptly, not after the keep-alive timeout. (The front
// end writes a response inside the read that waits for the next request;
// bytes that came before that read's readiness reset must still be seen.)
func TestRequestsArrivingMidResponse(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		arrived := make(chan struct{}, 1)
		release := make(chan struct{}, 1)
		mustSet(t, e.rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- struct{}{}
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				}
			}
			io.WriteString(w, r.URL.Path)
		}))
		const h = " HTTP/1.1\r\nHost: app.localhost\r\n\r\n"
		for _, then := range []string{"pipelined", "fin"} {
			c := e.dial(t)
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			// A first request warms the connection up, as a client's would.
			io.WriteString(c, "GET /warm"+h)
			if resp, err := http.ReadResponse(br, nil); err != nil {
				t.Fatalf("%s: warm-up: %v", then, err)
			} else {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			io.WriteString(c, "GET /slow"+h)
			<-arrived
			if then == "pipelined" {
				io.WriteString(c, "GET /next"+h)
			} else {
				c.(interface{ CloseWrite() error }).CloseWrite() // TCP or TLS
			}
			release <- struct{}{}
			var bodies []string
			for then == "fin" || len(bodies) < 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("%s: no answer or close after %q", then, bodies)
					}
					break // closed
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies = append(bodies, string(b))
			}
			got := "[" + strings.Join(bodies, " ") + "]"
			switch {
			case then == "pipelined" && got != "[/slow /next]":
				t.Errorf("%s: answers %s, want [/slow /next]", then, got)
			case then == "fin" && len(bodies) > 1:
				// The FIN may also count as the client going away (H27): no
				// answer, or net/http's empty one; either way it must close.
				t.Errorf("%s: answers %q, want at most /slow", then, bodies)
			case then == "fin" && len(bodies) == 1 && bodies[0] != "/slow" && bodies[0] != "":
				t.Errorf("%s: answer %q, want /slow", then, bodies[0])
			}
		}
	})
}
