package router

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
