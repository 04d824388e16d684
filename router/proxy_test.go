package router_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

func TestRoutesByHostAndDomain(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		a := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "A "+r.Host+" "+r.URL.String()) })
		b := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "B") })
		mustSet(t, e.rt, "alpha", a)
		mustSet(t, e.rt, "beta", b)
		if err := e.rt.SetDomains("beta", []string{"www.Example.com"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ host, path, want string }{
			{"alpha.localhost", "/x?q=1", "A alpha.localhost /x?q=1"},
			{"ALPHA.localhost:8080", "/", "A ALPHA.localhost:8080 /"},
			{"beta.localhost", "/", "B"},
			{"www.example.com", "/", "B"},
			{"www.example.com.", "/", "B"},
		} {
			resp, body := e.get(t, tc.host, tc.path)
			if resp.StatusCode != 200 || body != tc.want {
				t.Errorf("host %s: got %d %q, want 200 %q", tc.host, resp.StatusCode, body, tc.want)
			}
		}
		for _, host := range []string{"gamma.localhost", "x.alpha.localhost", "localhost", "example.com"} {
			if resp, _ := e.get(t, host, "/"); resp.StatusCode != 404 {
				t.Errorf("host %s: status %d, want 404", host, resp.StatusCode)
			}
		}
		if err := e.rt.SetDomains("alpha", []string{"www.example.com"}); err == nil {
			t.Error("SetDomains stole another app's domain")
		}
		if err := e.rt.SetDomains("alpha", []string{"bad domain"}); err == nil || !strings.Contains(err.Error(), "bad domain") {
			t.Errorf("invalid domain: err = %v", err)
		}
		// Another app's host, or anything at or under the base domain, is
		// no custom domain: custom domains are looked up first.
		for _, d := range []string{"beta.localhost", "Beta.LOCALHOST.", "gamma.localhost", "x.beta.localhost", "localhost"} {
			if err := e.rt.SetDomains("alpha", []string{"www.alpha.example", d}); !errors.Is(err, router.ErrReservedDomain) {
				t.Errorf("domain %q: err = %v, want ErrReservedDomain", d, err)
			}
		}
		if resp, body := e.get(t, "beta.localhost", "/"); resp.StatusCode != 200 || body != "B" {
			t.Errorf("beta.localhost after refused domains: %d %q", resp.StatusCode, body)
		}
		if resp, _ := e.get(t, "www.alpha.example", "/"); resp.StatusCode != 404 {
			t.Errorf("a refused SetDomains changed the domains: %d", resp.StatusCode)
		}
		// A wildcard domain routes the names under it that nothing closer
		// claims, with the Host the client sent.
		if err := e.rt.SetDomains("alpha", []string{"*.example.com"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ host, want string }{
			{"shop.example.com", "A shop.example.com /"},
			{"a.b.Example.com:8080", "A a.b.Example.com:8080 /"},
			{"www.example.com", "B"},
		} {
			if resp, body := e.get(t, tc.host, "/"); resp.StatusCode != 200 || body != tc.want {
				t.Errorf("host %s under alpha's wildcard: got %d %q, want 200 %q", tc.host, resp.StatusCode, body, tc.want)
			}
		}
		if resp, _ := e.get(t, "example.com", "/"); resp.StatusCode != 404 {
			t.Errorf("example.com routed by *.example.com: %d", resp.StatusCode)
		}
		e.rt.RemoveApp("beta")
		if resp, body := e.get(t, "www.example.com", "/"); resp.StatusCode != 200 || body != "A www.example.com /" {
			t.Errorf("www.example.com after its owner left: %d %q, want alpha's wildcard", resp.StatusCode, body)
		}
		if err := e.rt.SetDomains("alpha", nil); err != nil {
			t.Fatal(err)
		}
		if resp, _ := e.get(t, "www.example.com", "/"); resp.StatusCode != 404 {
			t.Errorf("removed app still routed: %d", resp.StatusCode)
		}
	})
}

func TestSetBackendsValidation(t *testing.T) {
	rt := router.New(router.Config{})
	for _, tc := range []struct {
		app   string
		dynos []router.Dyno
		want  string
	}{
		{"Bad", nil, "lowercase"},
		{"", nil, "1-63"},
		{"ok", []router.Dyno{{ID: "", Addr: "127.0.0.1:1"}}, "empty ID"},
		{"ok", []router.Dyno{{ID: "a", Addr: "127.0.0.1"}}, "host:port"},
		{"ok", []router.Dyno{{ID: "a", Addr: "127.0.0.1:0"}}, "1-65535"},
		{"ok", []router.Dyno{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1:2"}}, "duplicate"},
	} {
		err := rt.SetBackends(tc.app, tc.dynos)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetBackends(%q, %v) = %v, want error containing %q", tc.app, tc.dynos, err, tc.want)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestForwardingHeaders(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		seen := make(chan http.Header, 10)
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Clone()
			h.Set("X-Seen-Host", r.Host)
			seen <- h
		})
		trusted := newEnv(t, router.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		untrusted := newEnv(t, router.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		mustSet(t, trusted.rt, "app", addr)
		mustSet(t, untrusted.rt, "app", addr)

		before := time.Now().UnixMilli()
		untrusted.get(t, "app.localhost", "/", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https",
			"X-Forwarded-Port", "1", "Via", "1.0 corp", "X-Request-Id", "short", "Forwarded", "for=6.6.6.6",
			"Connection", "X-Request-Id, X-Forwarded-For, Via, X-Drop", "X-Drop", "gone", "X-Keep", "kept")
		h := <-seen
		_, port, _ := net.SplitHostPort(untrusted.addr)
		checks := map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": untrusted.scheme, "X-Forwarded-Port": port,
			"Via": "1.0 corp, 1.1 dynokit", "Forwarded": "", "X-Drop": "", "X-Keep": "kept",
			"X-Seen-Host": "app.localhost", "Connection": "",
		}
		for k, want := range checks {
			if got := strings.Join(h.Values(k), ","); got != want {
				t.Errorf("untrusted peer: %s = %q, want %q", k, got, want)
			}
		}
		if id := h.Get("X-Request-Id"); !uuidRE.MatchString(id) {
			t.Errorf("generated X-Request-Id %q is not UUID-shaped", id)
		}
		start, err := strconv.ParseInt(h.Get("X-Request-Start"), 10, 64)
		if err != nil || start < before || start > time.Now().UnixMilli() {
			t.Errorf("X-Request-Start = %q, want ms since epoch around now (%d)", h.Get("X-Request-Start"), before)
		}

		clientID := "abcdefghijklmnopqrstuvwxyz0123456789+/=-"
		trusted.get(t, "app.localhost", "/", "X-Forwarded-For", "6.6.6.6, 7.7.7.7", "X-Forwarded-Proto", "https",
			"X-Forwarded-Port", "443", "X-Request-Id", clientID)
		h = <-seen
		for k, want := range map[string]string{
			"X-Forwarded-For": "6.6.6.6, 7.7.7.7, 127.0.0.1", "X-Forwarded-Proto": "https",
			"X-Forwarded-Port": "443", "X-Request-Id": clientID,
		} {
			if got := h.Get(k); got != want {
				t.Errorf("trusted peer: %s = %q, want %q", k, got, want)
			}
		}
		line := trusted.sink.waitLine(t, 1)
		if !strings.Contains(line, `request_id=`+clientID+` fwd="6.6.6.6, 7.7.7.7, 127.0.0.1"`) {
			t.Errorf("log line %q lacks the kept request id and fwd", line)
		}
	})
}

func TestLogLineForProxiedRequest(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
		mustSet(t, e.rt, "app", addr)
		e.get(t, "app.localhost", "/p?q=1", "X-Request-Id", "0123456789abcdefghij")
		line := e.sink.waitLine(t, 1)
		re := regexp.MustCompile(`^app: at=info method=GET path="/p\?q=1" host=app.localhost request_id=0123456789abcdefghij fwd="127.0.0.1" dyno=web.1 connect=\d+ms service=\d+ms status=200 bytes=5 protocol=` + e.scheme + `$`)
		if !re.MatchString(line) {
			t.Errorf("log line\n%s\ndoes not match\n%s", line, re)
		}
		st, ok := e.rt.Stats("app")
		if !ok || st.Requests != 1 || st.ByClass[2] != 1 || st.P99 <= 0 {
			t.Errorf("Stats = %+v, %v", st, ok)
		}
	})
}

func TestNoWebDynos(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{BootWait: 200 * time.Millisecond})
		if err := e.rt.SetBackends("app", nil); err != nil {
			t.Fatal(err)
		}
		resp, body := e.get(t, "app.localhost", "/")
		if resp.StatusCode != 503 || !strings.Contains(body, "Application error") {
			t.Errorf("H14: got %d %q", resp.StatusCode, body)
		}
		if l := e.sink.waitLine(t, 1); !strings.Contains(l, `at=error code=H14 desc="No web processes running"`) || !strings.Contains(l, "dyno= connect= service= status=503 bytes= ") {
			t.Errorf("H14 line: %s", l)
		}
		e.rt.SetWebState("app", router.WebCrashed)
		e.get(t, "app.localhost", "/")
		if l := e.sink.waitLine(t, 2); !strings.Contains(l, `code=H10 desc="App crashed"`) {
			t.Errorf("H10 line: %s", l)
		}
		e.rt.SetWebState("app", router.WebStarting)
		t0 := time.Now()
		resp, _ = e.get(t, "app.localhost", "/")
		if resp.StatusCode != 503 || time.Since(t0) < 200*time.Millisecond {
			t.Errorf("H20: status %d after %s", resp.StatusCode, time.Since(t0))
		}
		if l := e.sink.waitLine(t, 3); !strings.Contains(l, `code=H20 desc="App boot timeout"`) {
			t.Errorf("H20 line: %s", l)
		}
	})
}

func TestRequestWaitsForBootingDyno(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{BootWait: 5 * time.Second})
		e.rt.SetWebState("app", router.WebStarting)
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })
		go func() {
			time.Sleep(100 * time.Millisecond)
			e.rt.SetBackends("app", []router.Dyno{{ID: "d1", Name: "web.1", Addr: addr}})
		}()
		resp, body := e.get(t, "app.localhost", "/")
		if resp.StatusCode != 200 || body != "up" {
			t.Fatalf("got %d %q, want the request served once the dyno is up", resp.StatusCode, body)
		}
	})
}

func TestMaintenanceAndErrorPages(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
		mustSet(t, e.rt, "app", addr)
		e.rt.SetMaintenance("app", true)
		resp, body := e.get(t, "app.localhost", "/")
		if resp.StatusCode != 503 || !strings.Contains(body, "Offline for Maintenance") {
			t.Errorf("maintenance: %d %q", resp.StatusCode, body)
		}
		if l := e.sink.waitLine(t, 1); !strings.HasPrefix(l, `app: at=info code=H80 desc="Maintenance mode"`) || !strings.Contains(l, " dyno= connect= service= status=503 bytes= ") {
			t.Errorf("H80 line: %s", l)
		}
		if err := e.rt.SetErrorPages("app", router.ErrorPages{Maintenance: router.Page{Body: []byte("brb"), ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
		resp, body = e.get(t, "app.localhost", "/")
		if resp.StatusCode != 503 || body != "brb" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("custom maintenance page: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
		e.rt.SetMaintenance("app", false)
		if _, body = e.get(t, "app.localhost", "/"); body != "app" {
			t.Errorf("after maintenance off: %q", body)
		}
		e.rt.SetErrorPages("app", router.ErrorPages{Error: router.Page{URL: "https://pages.example.com/err.html"}})
		e.rt.SetBackends("app", nil)
		resp, body = e.get(t, "app.localhost", "/")
		if resp.StatusCode != 503 || !strings.Contains(body, `<iframe src="https://pages.example.com/err.html">`) {
			t.Errorf("error page URL: %d %q", resp.StatusCode, body)
		}
		if err := e.rt.SetErrorPages("app", router.ErrorPages{Error: router.Page{URL: "ftp://x"}}); err == nil {
			t.Error("SetErrorPages accepted a non-http URL")
		}
	})
}

func TestFirstByteTimeoutH12(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{FirstByteTimeout: 150 * time.Millisecond})
		release := make(chan struct{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		mustSet(t, e.rt, "app", addr)
		resp, _ := e.get(t, "app.localhost", "/slow")
		if resp.StatusCode != 503 {
			t.Errorf("status %d, want 503", resp.StatusCode)
		}
		l := e.sink.waitLine(t, 1)
		if !regexp.MustCompile(`at=error code=H12 desc="Request timeout" method=GET path="/slow" .* dyno=web.1 connect=\d+ms service=1\d\dms status=503 bytes=0 `).MatchString(l) {
			t.Errorf("H12 line: %s", l)
		}
	})
}

func TestBackendFailuresH13H15H17H18H25(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{IdleTimeout: 150 * time.Millisecond})
		for i, tc := range []struct {
			name, code string
			status     int
			reply      func(c net.Conn)
		}{
			{"closed without response", "H13", 503, func(c net.Conn) {}},
			{"no reason phrase", "H17", 503, func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") }},
			{"obs-fold", "H17", 503, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n")
			}},
			{"conflicting lengths", "H25", 502, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
			}},
			{"oversized cookie", "H25", 502, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nSet-Cookie: "+strings.Repeat("c", 9000)+"\r\nContent-Length: 0\r\n\r\n")
			}},
			{"closed mid-body", "H18", 200, func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") }},
			{"idle mid-body", "H15", 200, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
				time.Sleep(time.Second)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				addr, _ := rawDyno(t, func(c net.Conn, _ *bufio.Reader, _ *http.Request) { tc.reply(c) })
				mustSet(t, e.rt, "app", addr)
				req, _ := http.NewRequest("GET", e.url("/"), nil)
				req.Host = "app.localhost"
				resp, err := e.client.Do(req)
				if tc.status == 200 {
					// The status was already relayed; the body must be cut short.
					if err != nil {
						t.Fatal(err)
					}
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil {
						t.Error("truncated response read without error")
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.status {
						t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
					}
				}
				l := e.sink.waitLine(t, i+1)
				if !strings.Contains(l, "code="+tc.code+" ") || !strings.Contains(l, fmt.Sprintf("status=%d ", tc.status)) {
					t.Errorf("log line %s, want code=%s status=%d", l, tc.code, tc.status)
				}
			})
		}
	})
}

func TestConnectFailureQuarantinesAndRetries(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{Balancer: &router.RoundRobin{}, QuarantineFor: time.Hour})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close() // connection refused from now on
		var hits atomic.Int64
		live := backend(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); io.WriteString(w, "ok") })
		e.rt.SetBackends("app", []router.Dyno{{ID: "dead", Name: "web.1", Addr: dead}, {ID: "live", Name: "web.2", Addr: live}})
		for i := 0; i < 4; i++ {
			if resp, body := e.get(t, "app.localhost", "/"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
			}
		}
		if hits.Load() != 4 {
			t.Errorf("live dyno got %d requests, want 4", hits.Load())
		}
		for _, b := range e.rt.Backends("app") {
			if b.ID == "dead" && b.Available() {
				t.Error("dead dyno not quarantined")
			}
		}
		// Only dead dynos: H21 after the attempts, then H99 while all are
		// quarantined.
		e2 := newEnv(t, router.Config{QuarantineFor: time.Hour, QuarantineWait: 100 * time.Millisecond})
		e2.rt.SetBackends("app", []router.Dyno{{ID: "dead", Name: "web.1", Addr: dead}})
		if resp, _ := e2.get(t, "app.localhost", "/"); resp.StatusCode != 503 {
			t.Errorf("H21: status %d", resp.StatusCode)
		}
		if l := e2.sink.waitLine(t, 1); !strings.Contains(l, `code=H21 desc="Backend connection refused"`) {
			t.Errorf("H21 line: %s", l)
		}
		e2.get(t, "app.localhost", "/")
		if l := e2.sink.waitLine(t, 2); !strings.Contains(l, `code=H99 desc="Platform error"`) {
			t.Errorf("H99 line: %s", l)
		}
	})
}

func TestConnectTimeoutH19(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{ConnectTimeout: 100 * time.Millisecond, MaxAttempts: 1})
		addr := unresponsiveAddr(t)
		e.rt.SetBackends("app", []router.Dyno{{ID: "d", Name: "web.1", Addr: addr}})
		t0 := time.Now()
		if resp, _ := e.get(t, "app.localhost", "/"); resp.StatusCode != 503 {
			t.Errorf("status %d", resp.StatusCode)
		}
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("connect timeout took %s", d)
		}
		if l := e.sink.waitLine(t, 1); !strings.Contains(l, `code=H19 desc="Backend connection timeout"`) {
			t.Errorf("H19 line: %s", l)
		}
	})
}

func TestKeepAliveReuse(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		var conns atomic.Int64
		addr, reqs := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			conns.Add(1)
			for {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
			}
		})
		go func() {
			for range reqs {
			}
		}()
		e := newEnv(t, router.Config{})
		mustSet(t, e.rt, "app", addr)
		for i := 0; i < 20; i++ {
			if resp, body := e.get(t, "app.localhost", "/"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("dyno saw %d connections for 20 sequential requests, want 1", n)
		}
	})
}

// TestBytesPastResponseNotRelayed: a dyno that sends more than its
// response's length must not have the excess read as the next request's
// response on a pooled connection.
func TestBytesPastResponseNotRelayed(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		var conns atomic.Int64
		addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			if conns.Add(1) == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
			} else {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
			}
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
			}
		})
		e := newEnv(t, router.Config{})
		mustSet(t, e.rt, "app", addr)
		if resp, body := e.get(t, "app.localhost", "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("first: %d %q", resp.StatusCode, body)
		}
		if resp, body := e.get(t, "app.localhost", "/"); resp.StatusCode != 200 || body != "fresh" {
			t.Fatalf("second: %d %q, want the dyno's answer to it", resp.StatusCode, body)
		}
	})
}

// TestStaleKeepAliveNeverReplayed: a request a dyno may have seen is never
// sent twice by default. A pooled connection the dyno closed while idle is
// noticed before reuse and replaced; one closed right after a response
// (without "Connection: close") fails the next request with H13, whatever
// its method, unless Config.ReplayIdempotent allows one resend of an
// idempotent, bodiless request.
func TestStaleKeepAliveNeverReplayed(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		// The dyno answers one request per connection and closes it without
		// saying so, like a server whose keep-alive timer fired.
		var served atomic.Int64
		addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			served.Add(1)
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		})
		e := newEnv(t, router.Config{})
		mustSet(t, e.rt, "app", addr)
		// Idle for a while: the close is seen before reuse, a fresh
		// connection carries the request, and the dyno sees it once.
		for i := 0; i < 3; i++ {
			if resp, _ := e.get(t, "app.localhost", "/"); resp.StatusCode != 200 {
				t.Fatalf("GET %d after the dyno closed the idle connection: %d", i, resp.StatusCode)
			}
			time.Sleep(300 * time.Millisecond)
		}
		if n := served.Load(); n != 3 {
			t.Errorf("the dyno served %d requests for 3", n)
		}
		// Reused at once: the request went out on the closed connection,
		// and is not resent (GET or POST).
		for i, method := range []string{"GET", "POST"} {
			e.get(t, "app.localhost", "/") // pools a connection the dyno closes at once
			before := served.Load()
			req, _ := http.NewRequest(method, e.url("/"), strings.NewReader("data"))
			req.Host = "app.localhost"
			if resp, _ := e.do(t, req); resp.StatusCode != 503 {
				t.Errorf("%s on a connection closed at once: status %d, want 503 (H13, never replayed)", method, resp.StatusCode)
			}
			if l := e.sink.waitLine(t, 5+2*i); !strings.Contains(l, "code=H13") || !regexp.MustCompile(` dyno=web\.1 connect=\d+ms service=\d+ms status=503 bytes=0 `).MatchString(l) {
				t.Errorf("%s line: %s", method, l)
			}
			if n := served.Load() - before; n != 0 {
				t.Errorf("%s: the dyno saw %d requests on the closed connection", method, n)
			}
		}
		// With ReplayIdempotent, a GET is resent once on a fresh connection.
		lax := newEnv(t, router.Config{ReplayIdempotent: true})
		mustSet(t, lax.rt, "app", addr)
		lax.get(t, "app.localhost", "/")
		if resp, _ := lax.get(t, "app.localhost", "/"); resp.StatusCode != 200 {
			t.Errorf("ReplayIdempotent: GET on a closed connection got %d, want 200", resp.StatusCode)
		}
	})
}

// TestReadThenCrashNotReplayed: a dyno that read a GET and then died is
// not sent the request again (Heroku's router never replays a request a
// dyno may have seen; a GET can have side effects too).
func TestReadThenCrashNotReplayed(t *testing.T) {
	var seen atomic.Int64
	addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		if req.URL.Path == "/charge" {
			seen.Add(1)
			return // read it, then the connection closes: a crash
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		for {
			if req, err := http.ReadRequest(br); err != nil {
				return
			} else if req.URL.Path == "/charge" {
				seen.Add(1)
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	e := newEnv(t, router.Config{})
	mustSet(t, e.rt, "app", addr)
	e.get(t, "app.localhost", "/warm") // a pooled connection for the next
	if resp, _ := e.get(t, "app.localhost", "/charge"); resp.StatusCode != 503 {
		t.Errorf("GET /charge to a dyno that died reading it: %d, want 503 (H13)", resp.StatusCode)
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("the dyno read GET /charge %d times, want once", n)
	}
}

func TestInFlightRequestSurvivesTableChange(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		started := make(chan struct{})
		finish := make(chan struct{})
		old := backend(t, func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-finish
			io.WriteString(w, "old")
		})
		mustSet(t, e.rt, "app", old)
		got := make(chan string, 1)
		go func() {
			req, _ := http.NewRequest("GET", e.url("/"), nil)
			req.Host = "app.localhost"
			resp, err := e.client.Do(req)
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- fmt.Sprint(resp.StatusCode, " ", string(b))
		}()
		<-started
		next := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
		e.rt.SetBackends("app", []router.Dyno{{ID: "n", Name: "web.2", Addr: next}})
		if _, body := e.get(t, "app.localhost", "/"); body != "new" {
			t.Errorf("new request went to %q", body)
		}
		close(finish)
		if r := <-got; r != "200 old" {
			t.Errorf("in-flight request: %s, want 200 old", r)
		}
	})
}

func TestStreamingBothWays(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		// Each side proves the router forwards bytes before the body is
		// complete: the next piece is only sent once the previous one arrived.
		e := newEnv(t, router.Config{})
		gotFirst := make(chan string, 1)
		sendSecond := make(chan struct{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			br := bufio.NewReader(r.Body)
			line, _ := br.ReadString('\n')
			gotFirst <- line
			rest, _ := io.ReadAll(br)
			io.WriteString(w, "first:"+line)
			w.(http.Flusher).Flush()
			<-sendSecond
			io.WriteString(w, "second:"+string(rest))
		})
		mustSet(t, e.rt, "app", addr)
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", e.url("/"), pr)
		req.Host = "app.localhost"
		respc := make(chan *http.Response, 1)
		go func() {
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
			}
			respc <- resp
		}()
		io.WriteString(pw, "one\n")
		select {
		case l := <-gotFirst:
			if l != "one\n" {
				t.Fatalf("dyno got %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("request body not streamed: the dyno never saw the first line")
		}
		io.WriteString(pw, "two\n")
		pw.Close()
		resp := <-respc
		if resp == nil {
			close(sendSecond)
			return
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		close(sendSecond)
		if err != nil || line != "first:one\n" {
			t.Fatalf("first response piece %q, %v", line, err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "second:two\n" {
			t.Errorf("rest %q", rest)
		}
	})
}

func TestWebSocketUpgrade(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{IdleTimeout: 500 * time.Millisecond})
		addr, reqs := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
			io.Copy(c, br)
		})
		mustSet(t, e.rt, "app", addr)
		c := e.dial(t)
		defer c.Close()
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: app.localhost\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("upgrade: %v %+v", err, resp)
		}
		if r := <-reqs; r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Sec-Websocket-Key") != "k" {
			t.Errorf("dyno got headers %v", r.Header)
		}
		// Activity within the idle window keeps the tunnel open past it.
		buf := make([]byte, 5)
		for i := 0; i < 8; i++ { // 8 × 100 ms: longer than the 500 ms window
			io.WriteString(c, "ping"+strconv.Itoa(i))
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping"+strconv.Itoa(i) {
				t.Fatalf("echo %d: %q %v", i, buf, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Silence for the idle window closes it.
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("tunnel not closed after the idle window")
		}
		l := e.sink.waitLine(t, 1)
		if !strings.Contains(l, "code=H15") || !strings.Contains(l, "status=101 bytes=40") {
			t.Errorf("tunnel line: %s", l)
		}
		// Counted as a request, but a tunnel's time is no response time.
		st, _ := e.rt.Stats("app")
		if st.Requests != 1 || st.ByClass[1] != 1 || st.Timed() != 0 {
			t.Errorf("Stats: %d requests, %d 1xx, %d timed; want 1, 1, 0", st.Requests, st.ByClass[1], st.Timed())
		}
	})
}

// A client that half-closes an upgraded connection: the dyno sees the end
// of its input and can still answer through the tunnel.
func TestTunnelHalfClose(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		addr, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			got, err := io.ReadAll(br) // until the client's half-close
			if err != nil {
				return
			}
			io.WriteString(c, "got "+string(got)+", bye")
		})
		mustSet(t, e.rt, "app", addr)
		c := e.dial(t)
		defer c.Close()
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: app.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %+v", err, resp)
		}
		io.WriteString(c, "all my data")
		c.(interface{ CloseWrite() error }).CloseWrite() // TCP or TLS
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "got all my data, bye" {
			t.Fatalf("after half-close: %q, %v", rest, err)
		}
		if l := e.sink.waitLine(t, 1); !strings.Contains(l, "status=101 bytes=") || strings.Contains(l, "code=") {
			t.Errorf("tunnel line: %s", l)
		}
	})
}

func TestClientGoneWhileWaitingH27(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		release := make(chan struct{})
		defer close(release)
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		mustSet(t, e.rt, "app", addr)
		c := e.dial(t)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
		time.Sleep(100 * time.Millisecond)
		c.Close()
		l := e.sink.waitLine(t, 1)
		if !strings.HasPrefix(l, `app: sock=client at=warning code=H27 desc="Client Request Interrupted"`) || !strings.Contains(l, "status=499") {
			t.Errorf("H27 line: %s", l)
		}
	})
}

func TestClientIdleSendingBodyH28(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{IdleTimeout: 150 * time.Millisecond})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
		mustSet(t, e.rt, "app", addr)
		c := e.dial(t)
		defer c.Close()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 100\r\n\r\npartial")
		l := e.sink.waitLine(t, 1)
		if !strings.Contains(l, `sock=client at=warning code=H28 desc="Client Connection Idle"`) {
			t.Errorf("H28 line: %s", l)
		}
	})
}
