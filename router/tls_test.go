package router_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/router"
)

func selfSigned(t *testing.T, names ...string) (*tls.Certificate, *x509.Certificate) {
	c := testutil.SelfSigned(t, names[0], names, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	return c.TLS, c.Leaf
}

// TestHTTP2OverTLSWithSNI serves two apps over TLS, each with its own
// certificate picked by SNI, and checks clients speak HTTP/2 to the router
// while the dyno gets HTTP/1.1 with X-Forwarded-Proto https.
func TestHTTP2OverTLSWithSNI(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		plainOnly(t)
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink})
		seen := make(chan string, 4)
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Proto + " " + r.Header.Get("X-Forwarded-Proto")
			io.WriteString(w, "secure "+r.Host)
		})
		mustSet(t, rt, "app", addr)
		if err := rt.SetDomains("app", []string{"www.example.test"}); err != nil {
			t.Fatal(err)
		}
		var certs router.CertStore
		appCert, appLeaf := selfSigned(t, "*.localhost")
		wwwCert, wwwLeaf := selfSigned(t, "www.example.test")
		if err := certs.Set("*.localhost", appCert); err != nil {
			t.Fatal(err)
		}
		if err := certs.Set("www.example.test", wwwCert); err != nil {
			t.Fatal(err)
		}
		if err := certs.Set("bad name!", wwwCert); err == nil {
			t.Error("CertStore.Set accepted an invalid domain")
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tln, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, TLSListener: tln, GetCertificate: certs.GetCertificate}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()

		for _, tc := range []struct {
			host string
			leaf *x509.Certificate
		}{{"app.localhost", appLeaf}, {"www.example.test", wwwLeaf}} {
			pool := x509.NewCertPool()
			pool.AddCert(tc.leaf)
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: tc.host},
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, tln.Addr().String())
				},
			}
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := c.Get("https://" + tc.host + "/")
			if err != nil {
				t.Fatalf("%s: %v", tc.host, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()
			if resp.ProtoMajor != 2 || string(body) != "secure "+tc.host {
				t.Errorf("%s: %s %q, want HTTP/2 and the dyno's body", tc.host, resp.Proto, body)
			}
			if s := <-seen; s != "HTTP/1.1 https" {
				t.Errorf("dyno saw %q, want HTTP/1.1 https", s)
			}
		}
		if l := sink.waitLine(t, 2); !regexpMatch(`protocol=https$`, l) {
			t.Errorf("log line %s, want protocol=https", l)
		}
		if _, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: "unknown.test"}); err == nil {
			t.Error("GetCertificate served an unknown name")
		}
	})
}

// TestTLSHandshakesBounded: on the TLS listener a client that never
// finishes its handshake is cut off after ReadHeaderTimeout without holding
// up anyone else's, one that speaks plain HTTP to it is closed, HTTP/1.1
// over TLS is served by the router's own front end, and a shutdown does not
// wait for handshakes in flight.
func TestTLSHandshakesBounded(t *testing.T) {
	rt := router.New(router.Config{})
	mustSet(t, rt, "app", backend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+r.Header.Get("X-Forwarded-Proto"))
	}))
	cert, _ := selfSigned(t, "*.localhost")
	run := func(timeout time.Duration) (tlsAddr string, stop func() time.Duration) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tln, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &router.Server{Router: rt, Listener: ln, TLSListener: tln, ReadHeaderTimeout: timeout,
			GetCertificate: (&router.CertStore{Default: cert}).GetCertificate}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		return tln.Addr().String(), func() time.Duration {
			t0 := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			return time.Since(t0)
		}
	}
	addr, stop := run(300 * time.Millisecond)
	defer stop()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	t0 := time.Now()
	// Served while the silent client's handshake is pending.
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// Conflicting framing: the own front end answers, then closes (net/http
	// kept such connections open).
	io.WriteString(tc, "POST / HTTP/1.1\r\nHost: app.localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(tc)
	if err != nil || !strings.HasPrefix(string(all), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(all), "\r\n\r\nHTTP/1.1 https") {
		t.Errorf("HTTP/1.1 over TLS: %q, %v; want the dyno's answer, then the connection closed", all, err)
	}

	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("silent client: read %d, %v; want EOF", n, err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("silent client held for %s, want about ReadHeaderTimeout", d)
	}

	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	io.WriteString(plain, "GET / HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(plain); strings.Contains(string(b), "HTTP/1.1") {
		t.Errorf("plain HTTP on the TLS listener answered %q", b)
	}

	addr2, stop2 := run(time.Minute)
	pending, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	time.Sleep(50 * time.Millisecond) // accepted, handshake started
	if d := stop2(); d > 2*time.Second {
		t.Errorf("shutdown waited %s for a pending handshake", d)
	}
}

// TestShutdownDoesNotWaitOnGetCertificate: a handshake blocked in
// GetCertificate (as while an ACME order runs) holds a shutdown no longer
// than ShutdownTimeout, and its connection is closed once the callback
// returns.
func TestShutdownDoesNotWaitOnGetCertificate(t *testing.T) {
	cert, _ := selfSigned(t, "*.localhost")
	entered, release := make(chan struct{}, 1), make(chan struct{})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	tln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &router.Server{Router: router.New(router.Config{}), Listener: ln, TLSListener: tln, ShutdownTimeout: 300 * time.Millisecond,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			entered <- struct{}{}
			<-release
			return cert, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	client := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", tln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "app.localhost"})
		if err == nil {
			c.Close()
		}
		client <- err
	}()
	<-entered
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Run returned after %s; want about ShutdownTimeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still waits on a GetCertificate callback")
	}
	close(release)
	select {
	case err := <-client:
		if err == nil {
			t.Error("the handshake finished after the shutdown: its connection should be closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's handshake never ended")
	}
}
