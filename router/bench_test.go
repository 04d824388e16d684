package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
)

// discardWriter is a minimal http.ResponseWriter so the benchmark measures
// the router, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) Flush()                      {}

type nopSink struct{ n int }

func (s *nopSink) RouterLog(string, time.Time, []byte) { s.n++ }

// fastDyno answers every request on a connection with a fixed response, as
// cheaply as possible, so the benchmark is dominated by the router.
func fastDyno(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// Read a head: lines until the empty one.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sat, 21 Nov 2026 23:00:00 GMT\r\nContent-Length: 6\r\n\r\nhello\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkProxy measures the proxy hot path: route lookup, balancing,
// header rewriting, a pooled upstream round trip over loopback, response
// relay and the log line.
func BenchmarkProxy(b *testing.B) {
	sink := &nopSink{}
	rt := New(Config{LogSink: sink})
	if err := rt.SetBackends("bench", []Dyno{{ID: "d1", Name: "web.1", Addr: fastDyno(b)}}); err != nil {
		b.Fatal(err)
	}
	defer rt.CloseIdleConnections()
	req := httptest.NewRequest("GET", "http://bench.localhost/path?q=1", nil)
	req.RequestURI = "/path?q=1" // as net/http's server sets it (origin-form)
	req.Header.Set("User-Agent", "wrk")
	req.Header.Set("Accept", "*/*")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		rt.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkServer measures the whole plain-HTTP path as run.sh does, in
// one process: keep-alive clients → Server (the router's own front end) →
// pooled connection → fastDyno, 8 connections per GOMAXPROCS. Profile it
// with -cpuprofile; the kernel's share shows with perf or in ns/op.
func BenchmarkServer(b *testing.B) {
	for _, tc := range []struct {
		name         string
		netHTTP, tls bool
	}{{"front", false, false}, {"nethttp", true, false}, {"tls-front", false, true}, {"tls-nethttp", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			rt := New(Config{LogSink: &nopSink{}})
			if err := rt.SetBackends("bench", []Dyno{{ID: "d1", Name: "web.1", Addr: fastDyno(b)}}); err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &Server{Router: rt, Listener: ln, NetHTTP: tc.netHTTP}
			dial := func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }
			if tc.tls {
				tln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				cert := testutil.SelfSigned(b, "bench.localhost", []string{"bench.localhost"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
				srv.TLSListener, srv.GetCertificate = tln, (&CertStore{Default: cert.TLS}).GetCertificate
				dial = func() (net.Conn, error) {
					return tls.Dial("tcp", tln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
				rt.CloseIdleConnections()
			}()
			const req = "GET /path?q=1 HTTP/1.1\r\nHost: bench.localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := dial()
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := io.WriteString(c, req); err != nil {
						b.Error(err)
						return
					}
					if err := readOK(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// readOK reads one response with a Content-Length body and checks its
// status is 200.
func readOK(br *bufio.Reader) error {
	n := int64(-1)
	status := ""
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if status == "" {
			status = string(line)
			continue
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") || n < 0 {
		return fmt.Errorf("response %q, length %d", status, n)
	}
	_, err := br.Discard(int(n))
	return err
}

func BenchmarkAppendLogLine(b *testing.B) {
	e := logLineCases[0].e
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendLogLine(buf[:0], &e)
	}
}

func BenchmarkRequestID(b *testing.B) {
	g := newIDGen()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = g.append(buf[:0])
	}
}

func BenchmarkLookup10kApps(b *testing.B) {
	rt := New(Config{})
	const n = 10000
	hosts := make([]string, n)
	for i := 0; i < n; i++ {
		name := "app" + strconv.Itoa(i)
		hosts[i] = name + ".localhost"
		if err := rt.SetBackends(name, []Dyno{{ID: name, Name: "web.1", Addr: "127.0.0.1:1"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rt.lookup(hosts[i%n]) == nil {
			b.Fatal("miss")
		}
	}
}

func BenchmarkBalancers(b *testing.B) {
	bs := make([]*Backend, 8)
	for i := range bs {
		bs[i] = NewBackend(strconv.Itoa(i), "web", "127.0.0.1:1")
	}
	for _, tc := range []struct {
		name string
		bal  Balancer
	}{{"Random", Random{}}, {"RoundRobin", &RoundRobin{}}, {"LeastConn", LeastConn{}}, {"PowerOfTwo", PowerOfTwo{}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if tc.bal.Pick(nil, bs) == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}

// BenchmarkMetricsHandler10kApps: one Prometheus scrape of 10,000 apps that
// have each served requests.
func BenchmarkMetricsHandler10kApps(b *testing.B) {
	rt := New(Config{})
	for i := 0; i < 10000; i++ {
		name := "app" + strconv.Itoa(i)
		if err := rt.SetBackends(name, nil); err != nil {
			b.Fatal(err)
		}
		a := rt.apps.get(name)
		a.stats.record(200, CodeNone, time.Duration(i%500)*time.Millisecond)
		a.stats.record(503, H12, 30*time.Second)
	}
	h := rt.MetricsHandler()
	req := httptest.NewRequest("GET", "/metrics", nil)
	w := &countingWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(w.n)/float64(b.N)/1e6, "MB/scrape")
}

// countingWriter is a ResponseWriter that only counts what it is given, as
// a socket would take it.
type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
