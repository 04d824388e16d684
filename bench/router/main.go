// Command routerbench serves the two Go processes of bench/router/run.sh: a
// trivial backend ("hello\n") and a dynokit router in front of it.
//
//	routerbench -mode backend -addr 127.0.0.1:9001
//	routerbench -mode router -addr 127.0.0.1:9000 -backend 127.0.0.1:9001 -app bench
//	routerbench -mode router … -tls-addr 127.0.0.1:9443 -cert cert.pem -key key.pem   # and HTTPS
//	routerbench -mode wsecho -addr 127.0.0.1:9002   # raw Upgrade echo dyno
//	routerbench -mode wsclient -target 127.0.0.1:9000 -host bench.localhost -n 20000 -c 16
//	routerbench -mode lookup -apps 10000            # route lookup cost with 10k apps
//	routerbench -mode evloop -addr 127.0.0.1:9003 -backend 127.0.0.1:9001  # see evloop_linux.go
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/router"
)

type countingSink struct{ lines, bytes atomic.Int64 }

func (s *countingSink) RouterLog(_ string, _ time.Time, line []byte) {
	s.lines.Add(1)
	s.bytes.Add(int64(len(line)))
}

func main() {
	mode := flag.String("mode", "router", "backend | router | evloop | wsecho | wsclient | lookup")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	backend := flag.String("backend", "", "backend address (router mode)")
	app := flag.String("app", "bench", "app name (router mode)")
	// Go's default: GC tuning of the bench binary would not carry over to
	// embedders, so it must not count toward the router's figures.
	gogc := flag.Int("gogc", 100, "GC percent for the router process")
	netHTTP := flag.Bool("nethttp", false, "serve clients with net/http's server instead of the router's front end (router mode)")
	target := flag.String("target", "", "router address (wsclient mode)")
	host := flag.String("host", "bench.localhost", "Host header (wsclient mode)")
	n := flag.Int("n", 20000, "round trips in all (wsclient mode)")
	conns := flag.Int("c", 1, "concurrent upgraded connections (wsclient mode)")
	apps := flag.Int("apps", 10000, "apps in the table (lookup mode)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the router process to this file")
	tlsAddr := flag.String("tls-addr", "", "also serve HTTPS here, with -cert and -key (router mode; its address is printed second)")
	certFile := flag.String("cert", "", "PEM certificate for -tls-addr")
	keyFile := flag.String("key", "", "PEM key for -tls-addr")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch *mode {
	case "backend":
		ln := listen(*addr)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/headers" {
				// run.sh shows what each proxy forwards: equivalent
				// proxies send the dyno the same headers.
				names := make([]string, 0, len(r.Header))
				for k := range r.Header {
					names = append(names, k)
				}
				sort.Strings(names)
				fmt.Fprintln(w, strings.Join(names, " "))
				return
			}
			_, _ = io.WriteString(w, "hello\n")
		})}
		go func() { <-ctx.Done(); srv.Close() }()
		_ = srv.Serve(ln)
	case "router":
		debug.SetGCPercent(*gogc)
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		sink := &countingSink{}
		rt := router.New(router.Config{LogSink: sink})
		if err := rt.SetBackends(*app, []router.Dyno{{ID: "d1", Name: "web.1", Addr: *backend}}); err != nil {
			log.Fatal(err)
		}
		s := &router.Server{Router: rt, Listener: listen(*addr), NetHTTP: *netHTTP}
		if *tlsAddr != "" {
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				log.Fatal(err)
			}
			s.TLSListener = listen(*tlsAddr)
			s.GetCertificate = (&router.CertStore{Default: &cert}).GetCertificate
		}
		if err := s.Run(ctx); err != nil {
			log.Print(err)
		}
		fmt.Fprintf(os.Stderr, "router: %d log lines, %d bytes\n", sink.lines.Load(), sink.bytes.Load())
	case "evloop":
		// Its loops never return: end with the signal (run.sh's cleanup),
		// which NotifyContext above keeps from killing the process.
		go evloop(*addr, *backend)
		<-ctx.Done()
	case "wsecho":
		ln := listen(*addr)
		go func() { <-ctx.Done(); ln.Close() }()
		wsEcho(ln)
	case "wsclient":
		wsClient(*target, *host, *n, *conns)
	case "lookup":
		lookup(*apps)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

func listen(addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String()) // run.sh reads the bound address
	return ln
}

// wsEcho answers any Upgrade request with 101 and then echoes bytes: the
// relay cost is what matters, not WebSocket framing.
func wsEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_ = req
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			_, _ = io.Copy(c, br)
		}()
	}
}

// wsClient opens conns upgraded connections and makes n 64-byte round
// trips in all, conns at a time; it prints the aggregate rate and the
// latency percentiles.
func wsClient(target, host string, n, conns int) {
	conns = max(1, min(conns, n))
	lats := make([][]time.Duration, conns)
	ready := make(chan net.Conn, conns)
	for range conns {
		c, err := net.Dial("tcp", target)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", host)
		ready <- c
	}
	close(ready)
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	var cs []conn
	for c := range ready {
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			log.Fatalf("upgrade failed: %v %v", err, resp)
		}
		cs = append(cs, conn{c, br})
	}
	done := make(chan struct{})
	start := time.Now()
	for i, c := range cs {
		each := n / conns
		if i < n%conns {
			each++
		}
		go func() {
			defer func() { done <- struct{}{} }()
			msg, got := make([]byte, 64), make([]byte, 64)
			lat := make([]time.Duration, 0, each)
			for range each {
				t := time.Now()
				if _, err := c.c.Write(msg); err != nil {
					log.Fatal(err)
				}
				if _, err := io.ReadFull(c.br, got); err != nil {
					log.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			lats[i] = lat
		}()
	}
	for range cs {
		<-done
	}
	el := time.Since(start)
	var lat []time.Duration
	for _, l := range lats {
		lat = append(lat, l...)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("%.0f round-trips/s p50=%s p99=%s\n", float64(n)/el.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100])
}

func lookup(apps int) {
	rt := router.New(router.Config{})
	t0 := time.Now()
	for i := 0; i < apps; i++ {
		name := "app" + strconv.Itoa(i)
		if err := rt.SetBackends(name, []router.Dyno{{ID: name + "-1", Name: "web.1", Addr: "127.0.0.1:1"}}); err != nil {
			log.Fatal(err)
		}
	}
	fill := time.Since(t0)
	hosts := make([]string, apps)
	for i := range hosts {
		hosts[i] = "app" + strconv.Itoa(i) + ".localhost"
	}
	res := testingBenchmark(func(i int) {
		if _, ok := rt.Lookup(hosts[i%apps]); !ok {
			log.Fatalf("lookup %s failed", hosts[i%apps])
		}
	})
	fmt.Printf("table of %d apps filled in %s; lookup %s/op\n", apps, fill, res)
}

func testingBenchmark(f func(int)) time.Duration {
	const n = 2_000_000
	t0 := time.Now()
	for i := 0; i < n; i++ {
		f(i)
	}
	return time.Since(t0) / n
}
