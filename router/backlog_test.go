package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynokit/dynokit/router"
)

// holdingDyno answers each request only when release gets a token (or the
// request ends), after reporting its path on arrived. With early set, the
// response head goes out first, so the request holds its slot without
// running into the first-byte timeout.
func holdingDyno(t *testing.T, early bool) (addr string, arrived chan string, release chan struct{}) {
	arrived, release = make(chan string, 20), make(chan struct{}, 20)
	addr = backend(t, func(w http.ResponseWriter, r *http.Request) {
		if early {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		arrived <- r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, r.URL.Path)
	})
	return addr, arrived, release
}

type answer struct {
	path, body string
	status     int
	err        error
}

// sendAsync sends GET path to app.localhost and reports the answer.
func (e *env) sendAsync(ctx context.Context, path string, answers chan<- answer) {
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url(path), nil)
		req.Host = "app.localhost"
		resp, err := e.client.Do(req)
		if err != nil {
			answers <- answer{path: path, err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers <- answer{path, string(b), resp.StatusCode, err}
	}()
}

func (e *env) waitBacklog(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := e.rt.Stats("app")
		if st.Backlog == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %d, want %d", st.Backlog, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func expectArrival(t *testing.T, arrived <-chan string, want string) {
	t.Helper()
	select {
	case p := <-arrived:
		if p != want {
			t.Fatalf("dyno got %s, want %s", p, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s never reached the dyno", want)
	}
}

// TestBacklog: with MaxDynoRequests, a dyno never has more requests in
// flight than the cap; the others wait in the app's backlog and reach the
// dyno first in, first out as slots free; past the cap times the dynos,
// H11 at once.
func TestBacklog(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		e := newEnv(t, router.Config{MaxDynoRequests: 2})
		addr, arrived, release := holdingDyno(t, false)
		mustSet(t, e.rt, "app", addr)
		answers := make(chan answer, 10)
		e.sendAsync(t.Context(), "/1", answers)
		e.sendAsync(t.Context(), "/2", answers)
		for range 2 {
			<-arrived
		}
		e.sendAsync(t.Context(), "/3", answers)
		e.waitBacklog(t, 1)
		e.sendAsync(t.Context(), "/4", answers)
		e.waitBacklog(t, 2)
		rec := httptest.NewRecorder()
		e.rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if m := rec.Body.String(); !strings.Contains(m, "# TYPE dynokit_router_backlog gauge\n"+`dynokit_router_backlog{app="app"} 2`+"\n") {
			t.Errorf("metrics without the backlog gauge:\n%s", m)
		}

		resp, _ := e.get(t, "app.localhost", "/5")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("full backlog: status %d, want 503", resp.StatusCode)
		}
		re := regexp.MustCompile(`^app: at=error code=H11 desc="Backlog too deep" method=GET path="/5" .* dyno= connect= service= status=503 bytes= protocol=` + e.scheme + `$`)
		if l := e.sink.waitLine(t, 1); !re.MatchString(l) {
			t.Errorf("H11 line:\n%s\nwant\n%s", l, re)
		}
		select {
		case p := <-arrived:
			t.Fatalf("dyno got %s beyond the cap", p)
		case <-time.After(50 * time.Millisecond):
		}

		release <- struct{}{}
		expectArrival(t, arrived, "/3")
		release <- struct{}{}
		expectArrival(t, arrived, "/4")
		for range 2 {
			release <- struct{}{}
		}
		for range 4 {
			a := <-answers
			if a.err != nil || a.status != http.StatusOK || a.body != a.path {
				t.Errorf("%s: %d %q %v", a.path, a.status, a.body, a.err)
			}
		}
		st, _ := e.rt.Stats("app")
		if st.ByCode["H11"] != 1 || st.Backlog != 0 || st.Requests != 5 {
			t.Errorf("Stats: %d H11, backlog %d, %d requests; want 1, 0, 5", st.ByCode["H11"], st.Backlog, st.Requests)
		}
		if n := e.rt.Backends("app")[0].InFlight(); n != 0 {
			t.Errorf("in flight after all answered: %d", n)
		}
	})
}

// TestBacklogEnds: a queued request whose client leaves is H27 and frees
// its place; one that waits past FirstByteTimeout is H12 without a dyno;
// a dyno added while requests wait takes them at once.
func TestBacklogEnds(t *testing.T) {
	e := newEnv(t, router.Config{MaxDynoRequests: 1, FirstByteTimeout: 300 * time.Millisecond})
	addr, arrived, release := holdingDyno(t, true)
	mustSet(t, e.rt, "app", addr)
	answers := make(chan answer, 10)
	e.sendAsync(t.Context(), "/hold", answers) // holds the only slot, streaming
	expectArrival(t, arrived, "/hold")

	ctx, cancel := context.WithCancel(t.Context())
	e.sendAsync(ctx, "/gone", answers)
	e.waitBacklog(t, 1)
	cancel()
	if a := <-answers; a.path != "/gone" || a.err == nil {
		t.Fatalf("cancelled request: %+v", a)
	}
	e.waitBacklog(t, 0)
	re := regexp.MustCompile(`^app: sock=client at=warning code=H27 desc="Client Request Interrupted" method=GET path="/gone" .* dyno= connect= service= status=499 bytes= `)
	if l := e.sink.waitLine(t, 1); !re.MatchString(l) {
		t.Errorf("H27 line:\n%s\nwant\n%s", l, re)
	}

	start := time.Now()
	resp, _ := e.get(t, "app.localhost", "/late")
	if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) < 250*time.Millisecond {
		t.Errorf("request left in the backlog: status %d after %v, want 503 after the first-byte timeout", resp.StatusCode, time.Since(start))
	}
	re = regexp.MustCompile(`^app: at=error code=H12 desc="Request timeout" method=GET path="/late" .* dyno= connect= service= status=503 bytes= `)
	if l := e.sink.waitLine(t, 2); !re.MatchString(l) {
		t.Errorf("H12 line:\n%s\nwant\n%s", l, re)
	}

	e.sendAsync(t.Context(), "/waits", answers)
	e.waitBacklog(t, 1)
	fast := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	mustSet(t, e.rt, "app", addr, fast)
	if a := <-answers; a.path != "/waits" || a.status != http.StatusOK || a.body != "fast" {
		t.Errorf("queued request after a dyno was added: %+v", a)
	}
	release <- struct{}{}
	if a := <-answers; a.path != "/hold" || a.status != http.StatusOK {
		t.Errorf("streaming request: %+v", a)
	}
}

// TestBacklogUnderLoad: sixteen clients on two dynos capped at 4 each
// fill the dynos and the backlog (8 places) without ever overflowing it:
// no dyno sees more than 4 requests at once, no request is refused, and
// none is left waiting (a lost wake-up would leave one to time out).
func TestBacklogUnderLoad(t *testing.T) {
	e := newEnv(t, router.Config{MaxDynoRequests: 4, FirstByteTimeout: 10 * time.Second})
	var addrs []string
	var peaks [2]*atomic.Int64
	for i := range peaks {
		var cur, peak atomic.Int64
		peaks[i] = &peak
		addrs = append(addrs, backend(t, func(w http.ResponseWriter, r *http.Request) {
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			cur.Add(-1)
		}))
	}
	mustSet(t, e.rt, "app", addrs...)
	var g errgroup.Group
	for range 16 {
		g.Go(func() error {
			for range 25 {
				req, _ := http.NewRequest("GET", e.url("/"), nil)
				req.Host = "app.localhost"
				resp, err := e.client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, p := range peaks {
		if p.Load() > 4 {
			t.Errorf("dyno %d had %d requests at once, cap 4", i+1, p.Load())
		}
	}
	if peaks[0].Load() < 4 && peaks[1].Load() < 4 {
		t.Errorf("peaks %d and %d: the cap was never reached", peaks[0].Load(), peaks[1].Load())
	}
	if st, _ := e.rt.Stats("app"); st.Requests != 400 || st.ByClass[2] != 400 || st.Backlog != 0 {
		t.Errorf("Stats: %d requests, %d 2xx, backlog %d", st.Requests, st.ByClass[2], st.Backlog)
	}
}
