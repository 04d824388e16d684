package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func serve(t *testing.T, rt *Router, host string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://"+host+"/", nil)
	req.RequestURI = "/"
	rt.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestPoolsArePerBackendNotPerAddress: when a dyno address is reused by
// another app, that app never gets a connection pooled for the first one,
// and a removed dyno's idle connections are closed.
func TestPoolsArePerBackendNotPerAddress(t *testing.T) {
	var conns []string
	dyno := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	}))
	dyno.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns = append(conns, c.RemoteAddr().String())
		}
	}
	dyno.Start()
	defer dyno.Close()
	addr := strings.TrimPrefix(dyno.URL, "http://")

	rt := New(Config{})
	defer rt.CloseIdleConnections()
	if err := rt.SetBackends("first", []Dyno{{ID: "f1", Name: "web.1", Addr: addr}}); err != nil {
		t.Fatal(err)
	}
	if code, body := serve(t, rt, "first.localhost"); code != 200 || body != "first.localhost" {
		t.Fatalf("first: %d %q", code, body)
	}
	first := rt.Backends("first")[0]
	if n := first.pool.idleCount(); n != 1 {
		t.Fatalf("first app pooled %d connections, want 1", n)
	}
	// The dyno stops; another app's dyno gets the same address.
	if err := rt.SetBackends("first", nil); err != nil {
		t.Fatal(err)
	}
	if n := first.pool.idleCount(); n != 0 {
		t.Errorf("removed dyno kept %d idle connections", n)
	}
	if err := rt.SetBackends("second", []Dyno{{ID: "s1", Name: "web.1", Addr: addr}}); err != nil {
		t.Fatal(err)
	}
	if code, body := serve(t, rt, "second.localhost"); code != 200 || body != "second.localhost" {
		t.Fatalf("second: %d %q", code, body)
	}
	if len(conns) != 2 {
		t.Errorf("dyno saw %d connections, want a fresh one for the second app", len(conns))
	}
	if code, _ := serve(t, rt, "first.localhost"); code != 503 {
		t.Errorf("first app after its dyno stopped: %d, want 503 (H14)", code)
	}
}

// TestDynoIdentityVerified: with Config.VerifyDyno, a new connection to an
// address that no longer belongs to the dyno (another app's dyno took it
// before the router heard of the stop) is dropped before any request is
// written to it: the dyno is quarantined and the request goes to another,
// or fails with H21 when there is none.
func TestDynoIdentityVerified(t *testing.T) {
	var strays atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strays.Add(1)
		io.WriteString(w, "another app's dyno")
	}))
	defer other.Close()
	mine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "first") }))
	defer mine.Close()
	verify := func(_ context.Context, d Dyno) error {
		if d.ID == "f1" {
			return errors.New("another process listens there")
		}
		return nil
	}
	sink := &collectSink{}
	rt := New(Config{LogSink: sink, QuarantineFor: 50 * time.Millisecond, VerifyDyno: verify})
	defer rt.CloseIdleConnections()
	if err := rt.SetBackends("first", []Dyno{
		{ID: "f1", Name: "web.1", Addr: strings.TrimPrefix(other.URL, "http://")},
		{ID: "f2", Name: "web.2", Addr: strings.TrimPrefix(mine.URL, "http://")},
	}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if code, body := serve(t, rt, "first.localhost"); code != 200 || body != "first" {
			t.Fatalf("first: %d %q", code, body)
		}
	}
	if err := rt.SetBackends("first", []Dyno{{ID: "f1", Name: "web.1", Addr: strings.TrimPrefix(other.URL, "http://")}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := serve(t, rt, "first.localhost"); code != 503 {
		t.Errorf("only a dyno whose address was taken: %d, want 503", code)
	}
	if l := sink.last(); !strings.Contains(l, "code=H21") {
		t.Errorf("log line %q, want H21", l)
	}
	if n := strays.Load(); n != 0 {
		t.Errorf("the other app's dyno got %d of first's requests", n)
	}
}

type collectSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *collectSink) RouterLog(app string, _ time.Time, line []byte) {
	s.mu.Lock()
	s.lines = append(s.lines, string(line))
	s.mu.Unlock()
}

func (s *collectSink) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) == 0 {
		return ""
	}
	return s.lines[len(s.lines)-1]
}
