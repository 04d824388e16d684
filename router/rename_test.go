package router_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynokit/dynokit/router"
)

// hostDyno is a keep-alive dyno that answers every request with "dyno
// <Host>" and counts the connections it accepted, so a test can tell a kept
// upstream pool from a new one.
func hostDyno(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	addr, _ = rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		conns.Add(1)
		for {
			body := "dyno " + req.Host
			if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
				return
			}
			var err error
			if req, err = http.ReadRequest(br); err != nil {
				return
			}
		}
	})
	return addr, conns
}

// expect sends GET / for host and checks the status and body.
func (e *env) expect(t *testing.T, host string, status int, body string) {
	t.Helper()
	resp, got := e.get(t, host, "/")
	if resp.StatusCode != status || (body != "" && got != body) {
		t.Errorf("GET %s: %d %q, want %d %q", host, resp.StatusCode, got, status, body)
	}
}

// expectNoSuchApp checks that host gets the router's "no such app" answer.
func (e *env) expectNoSuchApp(t *testing.T, host string) {
	t.Helper()
	resp, body := e.get(t, host, "/")
	if resp.StatusCode != 404 || !strings.Contains(body, "No such app") {
		t.Errorf("GET %s: %d %q, want 404 No such app", host, resp.StatusCode, body)
	}
}

// TestRenameAppMovesRouting: after RenameApp the new host and the custom
// domains reach the same dyno over the same pooled connection, the old
// host answers "no such app", log lines name the new app, and the old name
// is free for another app.
func TestRenameAppMovesRouting(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		addr, conns := hostDyno(t)
		mustSet(t, e.rt, "alpha", addr)
		if err := e.rt.SetDomains("alpha", []string{"www.example.com"}); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "alpha.localhost", 200, "dyno alpha.localhost")
		backends := e.rt.Backends("alpha")

		if err := e.rt.RenameApp("alpha", "omega"); err != nil {
			t.Fatal(err)
		}
		e.expectNoSuchApp(t, "alpha.localhost")
		e.expect(t, "omega.localhost", 200, "dyno omega.localhost")
		e.expect(t, "www.example.com", 200, "dyno www.example.com")
		if n := conns.Load(); n != 1 {
			t.Errorf("dyno saw %d connections, want the one pooled before the rename", n)
		}
		if got := e.rt.Backends("omega"); len(got) != 1 || got[0] != backends[0] {
			t.Errorf("Backends(omega) = %v, want the Backend alpha had (%v)", got, backends)
		}
		if got := e.rt.Backends("alpha"); got != nil {
			t.Errorf("Backends(alpha) = %v after the rename, want nil", got)
		}
		for host, want := range map[string]string{"www.example.com": "omega", "OMEGA.localhost:80": "omega", "alpha.localhost": ""} {
			if got, ok := e.rt.Lookup(host); got != want || ok != (want != "") {
				t.Errorf("Lookup(%q) = %q, %v; want %q", host, got, ok, want)
			}
		}
		// Line 1 is alpha's request; the 404 has no app and no line.
		for n, host := range map[int]string{2: "omega.localhost", 3: "www.example.com"} {
			if l := e.sink.waitLine(t, n); !strings.HasPrefix(l, "omega: ") || !strings.Contains(l, "host="+host+" ") {
				t.Errorf("log line %d: %s; want it for omega, host=%s", n, l, host)
			}
		}

		// The old name is free: using it makes another app, and omega
		// keeps its domain (a domain belongs to one app).
		other := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") })
		mustSet(t, e.rt, "alpha", other)
		e.expect(t, "alpha.localhost", 200, "other")
		e.expect(t, "www.example.com", 200, "dyno www.example.com")
		if err := e.rt.SetDomains("alpha", []string{"www.example.com"}); !errors.Is(err, router.ErrDomainTaken) || !strings.Contains(err.Error(), `owned by "omega"`) {
			t.Errorf("SetDomains(alpha, omega's domain): %v, want ErrDomainTaken naming omega", err)
		}
	})
}

// TestRenameAppCarriesStats: the counters go on under the new name; the
// old name reports unknown, in Stats and in the Prometheus exposition.
func TestRenameAppCarriesStats(t *testing.T) {
	e := newEnv(t, router.Config{})
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, "ok")
	})
	mustSet(t, e.rt, "web-app", addr)
	for _, path := range []string{"/", "/", "/boom"} {
		e.get(t, "web-app.localhost", path)
	}
	before, ok := e.rt.Stats("web-app")
	if !ok || before.Requests != 3 {
		t.Fatalf("Stats(web-app) = %+v, %v; want 3 requests", before, ok)
	}
	if err := e.rt.RenameApp("web-app", "shop"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.rt.Stats("web-app"); ok {
		t.Error("Stats(web-app) still known after the rename")
	}
	got, ok := e.rt.Stats("shop")
	if diff := cmp.Diff(before, got); !ok || diff != "" {
		t.Errorf("Stats(shop) right after the rename (ok %v), -web-app's +shop's:\n%s", ok, diff)
	}
	e.get(t, "shop.localhost", "/")
	e.get(t, "shop.localhost", "/boom")
	after, _ := e.rt.Stats("shop")
	if after.Requests != 5 || after.ByClass[2] != 3 || after.ByClass[5] != 2 || after.Timed() != 5 {
		t.Errorf("Stats(shop) after 2 more: %d requests, %d 2xx, %d 5xx, %d timed; want 5, 3, 2, 5",
			after.Requests, after.ByClass[2], after.ByClass[5], after.Timed())
	}
	rec := httptest.NewRecorder()
	e.rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `dynokit_router_requests_total{app="shop",class="2xx"} 3`+"\n") ||
		!strings.Contains(body, `dynokit_router_service_seconds_count{app="shop"} 5`+"\n") {
		t.Errorf("exposition lacks shop's continued counters:\n%s", body)
	}
	if strings.Contains(body, `app="web-app"`) {
		t.Errorf("exposition still has the old name:\n%s", body)
	}
}

// TestRenameAppCarriesStateAndPages: maintenance mode, error pages and the
// web state answer for the new name as they did for the old; a sleeping
// app's Wake is called with the new name.
func TestRenameAppCarriesStateAndPages(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		wakes := make(chan string, 1)
		e := newEnv(t, router.Config{BootWait: 2 * time.Second, Wake: func(app string) { wakes <- app }})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })

		mustSet(t, e.rt, "maint", addr)
		if err := e.rt.SetMaintenance("maint", true); err != nil {
			t.Fatal(err)
		}
		if err := e.rt.SetErrorPages("maint", router.ErrorPages{Maintenance: router.Page{Body: []byte("brb"), ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.rt.RenameApp("maint", "maint2"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "maint2.localhost", 503, "brb")
		if l := e.sink.waitLine(t, 1); !strings.HasPrefix(l, `maint2: at=info code=H80 `) {
			t.Errorf("maintenance line: %s", l)
		}
		if err := e.rt.SetMaintenance("maint2", false); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "maint2.localhost", 200, "up")

		if err := e.rt.SetWebState("crashy", router.WebCrashed); err != nil {
			t.Fatal(err)
		}
		if err := e.rt.RenameApp("crashy", "crashy2"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, "crashy2.localhost", 503, "")
		if l := e.sink.waitLine(t, 3); !strings.HasPrefix(l, "crashy2: ") || !strings.Contains(l, "code=H10 ") {
			t.Errorf("crashed app line: %s", l)
		}

		if err := e.rt.SetWebState("sleepy", router.WebSleeping); err != nil {
			t.Fatal(err)
		}
		if err := e.rt.RenameApp("sleepy", "awake"); err != nil {
			t.Fatal(err)
		}
		woken := make(chan string, 1)
		go func() {
			app := <-wakes // the platform boots the app it is told to wake
			woken <- app
			e.rt.SetBackends(app, []router.Dyno{{ID: "w1", Name: "web.1", Addr: addr}})
		}()
		e.expect(t, "awake.localhost", 200, "up")
		if app := <-woken; app != "awake" {
			t.Errorf("Wake(%q), want the new name", app)
		}
	})
}

// TestRenameAppInFlight: a slow request under way, requests waiting for a
// sleeping app to boot, and an upgraded tunnel all outlive a rename; their
// log lines, written when they end, name the new app.
func TestRenameAppInFlight(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		waking := make(chan string, 1)
		e := newEnv(t, router.Config{BootWait: 5 * time.Second, IdleTimeout: 5 * time.Second, Wake: func(app string) { waking <- app }})
		started, finish := make(chan struct{}), make(chan struct{})
		slow := backend(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(started)
				<-finish
			}
			io.WriteString(w, "done "+r.URL.Path)
		})
		mustSet(t, e.rt, "slow", slow)
		ws, _ := rawDyno(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			io.Copy(c, br) // echo
		})
		mustSet(t, e.rt, "ws", ws)
		if err := e.rt.SetWebState("sleepy", router.WebSleeping); err != nil {
			t.Fatal(err)
		}

		// Start everything under the old names.
		type result struct{ status, body string }
		getAsync := func(host, path string) <-chan result {
			ch := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest("GET", e.url(path), nil)
				req.Host = host
				resp, err := e.client.Do(req)
				if err != nil {
					ch <- result{"error", err.Error()}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ch <- result{strconv.Itoa(resp.StatusCode), string(b)}
			}()
			return ch
		}
		slowRes := getAsync("slow.localhost", "/slow")
		<-started
		bootRes := getAsync("sleepy.localhost", "/")
		if app := <-waking; app != "sleepy" { // the request is waiting for the boot
			t.Errorf("Wake(%q)", app)
		}
		c := e.dial(t)
		defer c.Close()
		io.WriteString(c, "GET /socket HTTP/1.1\r\nHost: ws.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		echo := func(msg string) {
			t.Helper()
			io.WriteString(c, msg)
			buf := make([]byte, len(msg))
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
				t.Fatalf("tunnel echo of %q: %q, %v", msg, buf, err)
			}
		}
		echo("before")

		for _, r := range [][2]string{{"slow", "slow2"}, {"sleepy", "booted"}, {"ws", "ws2"}} {
			if err := e.rt.RenameApp(r[0], r[1]); err != nil {
				t.Fatal(err)
			}
		}

		echo("after")
		e.expect(t, "slow2.localhost", 200, "done /")
		e.expectNoSuchApp(t, "slow.localhost")
		close(finish)
		if r := <-slowRes; r != (result{"200", "done /slow"}) {
			t.Errorf("slow request started before the rename: %v", r)
		}
		// The app boots (under its new name): the waiting request and one
		// sent to the new host after the rename are both served.
		bootRes2 := getAsync("booted.localhost", "/")
		if err := e.rt.SetBackends("booted", []router.Dyno{{ID: "b1", Name: "web.1", Addr: slow}}); err != nil {
			t.Fatal(err)
		}
		for i, ch := range []<-chan result{bootRes, bootRes2} {
			if r := <-ch; r != (result{"200", "done /"}) {
				t.Errorf("request %d waiting for the boot: %v", i+1, r)
			}
		}
		c.Close()

		// Lines: slow2 "/", then in any order the slow request, the two
		// boot waiters and the tunnel, all under the new names.
		want := map[string]string{`path="/slow" host=slow.localhost`: "slow2", `path="/socket" host=ws.localhost`: "ws2", "host=sleepy.localhost": "booted", "host=booted.localhost": "booted"}
		for n := 1; n <= 5; n++ {
			l := e.sink.waitLine(t, n)
			for key, app := range want {
				if strings.Contains(l, key) {
					if !strings.HasPrefix(l, app+": ") {
						t.Errorf("line for %s: %s; want it under %s", key, l, app)
					}
					delete(want, key)
				}
			}
		}
		if len(want) > 0 {
			t.Errorf("no log lines for %v", want)
		}
	})
}

// TestRenameAppCustomDomainNoGap: requests to a custom domain, looping
// while the app is renamed back and forth, are all served by its dyno.
func TestRenameAppCustomDomainNoGap(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		mustSet(t, e.rt, "ping", addr)
		if err := e.rt.SetDomains("ping", []string{"www.example.com"}); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var served atomic.Int64
		var mu sync.Mutex
		var bad []string
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", e.url("/"), nil)
					req.Host = "www.example.com"
					resp, err := e.client.Do(req)
					got := ""
					if err != nil {
						got = err.Error()
					} else {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || string(b) != "ok" {
							got = fmt.Sprintf("%d %.40q", resp.StatusCode, b)
						}
					}
					if got != "" {
						mu.Lock()
						bad = append(bad, got)
						mu.Unlock()
						continue
					}
					served.Add(1)
				}
			})
		}
		names := [2]string{"ping", "pong"}
		const renames = 1000
		for i := range renames {
			if err := e.rt.RenameApp(names[i%2], names[(i+1)%2]); err != nil {
				t.Fatal(err)
			}
			// Let requests run between renames, however loaded the box.
			for n := served.Load(); served.Load() == n && i%10 == 0; {
				time.Sleep(100 * time.Microsecond)
			}
		}
		close(stop)
		wg.Wait()
		if len(bad) > 0 {
			t.Errorf("%d of %d requests to the custom domain failed during %d renames, e.g. %v", len(bad), int(served.Load())+len(bad), renames, bad[0])
		}
		if served.Load() < renames/10 {
			t.Errorf("only %d requests ran during the renames", served.Load())
		}
	})
}

// TestRenameAppIsAtomic: for lookups that overlap one rename of x to y,
// there is a single instant at which y starts and x stops routing: a
// lookup of the new name that routes is never followed by one of the old
// name that routes (both hosts would route at once), nor one of the old
// name that does not by one of the new name that does not (neither
// would). The table is large so that each shard copy takes a while.
func TestRenameAppIsAtomic(t *testing.T) {
	rt := router.New(router.Config{})
	for i := range 10000 {
		if err := rt.SetBackends("filler"+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	names := [2]string{"xname", "yname"}
	if err := rt.SetBackends(names[0], nil); err != nil {
		t.Fatal(err)
	}
	var begun, completed atomic.Int64
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			begun.Add(1) // rename number i+1: odd ones go x to y
			if err := rt.RenameApp(names[i%2], names[(i+1)%2]); err != nil {
				writerDone <- err
				return
			}
			completed.Add(1)
		}
	}()
	routes := func(name string) bool {
		_, ok := rt.Lookup(name + ".localhost")
		return ok
	}
	var samples, both, neither int
	deadline := time.Now().Add(5 * time.Second)
	for (samples < 20000 || completed.Load() < 500) && time.Now().Before(deadline) {
		b0 := begun.Load()
		c0 := completed.Load()
		if b0 != c0+1 {
			continue // between renames
		}
		from, to := names[(b0+1)%2], names[b0%2]
		// Alternate the order of the two lookups: new then old catches a
		// window where both route, old then new one where neither does.
		newFirst := samples%2 == 0
		var r1, r2 bool
		if newFirst {
			r1, r2 = routes(to), routes(from)
		} else {
			r1, r2 = routes(from), routes(to)
		}
		if begun.Load() != b0 {
			continue // another rename began: the sample spans two
		}
		samples++
		switch {
		case newFirst && r1 && r2:
			both++
		case !newFirst && !r1 && !r2:
			neither++
		}
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if both > 0 || neither > 0 {
		t.Errorf("in %d pairs of lookups during a rename, %d saw both names route and %d neither", samples, both, neither)
	}
	if samples < 1000 {
		t.Errorf("only %d pairs of lookups overlapped a rename", samples)
	}
	t.Logf("%d pairs of lookups during %d renames", samples, completed.Load())
}

// TestRenameAppErrors: each refusal names the apps and the rule, and
// changes nothing.
func TestRenameAppErrors(t *testing.T) {
	e := newEnv(t, router.Config{})
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "alpha") })
	mustSet(t, e.rt, "alpha", addr)
	if err := e.rt.SetBackends("beta", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		old, new string
		is       error
		want     []string // in the message
	}{
		{"ghost", "spirit", router.ErrUnknownApp, []string{`"ghost"`, `"spirit"`, "no such app"}},
		{"alpha", "beta", router.ErrAppExists, []string{`"alpha"`, `"beta"`, "already"}},
		{"alpha", "alpha", nil, []string{`"alpha"`, "differ"}},
		{"alpha", "", nil, []string{`"alpha"`, `""`, "1-63 characters"}},
		{"alpha", strings.Repeat("a", 64), nil, []string{`"alpha"`, strings.Repeat("a", 64), "1-63 characters"}},
		{"alpha", "Gamma", nil, []string{`"alpha"`, `"Gamma"`, "start with a lowercase letter"}},
		{"alpha", "9lives", nil, []string{`"9lives"`, "start with a lowercase letter"}},
		{"alpha", "gam.ma", nil, []string{`"gam.ma"`, "invalid character '.'", "a-z 0-9 -"}},
		{"alpha", "gam_ma", nil, []string{`"gam_ma"`, "invalid character '_'"}},
		{"ghost", "Bad", nil, []string{`"Bad"`, "start with a lowercase letter"}},
	} {
		err := e.rt.RenameApp(tc.old, tc.new)
		if err == nil {
			t.Errorf("RenameApp(%q, %q) succeeded", tc.old, tc.new)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "router: ") {
			t.Errorf("RenameApp(%q, %q): %q lacks the package prefix", tc.old, tc.new, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("RenameApp(%q, %q): %q lacks %q", tc.old, tc.new, msg, w)
			}
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("RenameApp(%q, %q): %v is not %v", tc.old, tc.new, err, tc.is)
		}
	}
	e.expect(t, "alpha.localhost", 200, "alpha")
	for _, name := range []string{"alpha", "beta"} {
		if got, ok := e.rt.Lookup(name + ".localhost"); !ok || got != name {
			t.Errorf("Lookup(%s.localhost) = %q, %v after the refused renames", name, got, ok)
		}
	}
	if _, ok := e.rt.Stats("spirit"); ok {
		t.Error("a refused rename created spirit")
	}
	// A name given up by one rename can be taken by the next.
	if err := e.rt.RenameApp("alpha", "gamma"); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.RenameApp("gamma", "alpha"); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "alpha.localhost", 200, "alpha")
	e.expectNoSuchApp(t, "gamma.localhost")
}
