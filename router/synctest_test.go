package router_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestBootWaitDefaultsTo75s runs the H20 wait with Heroku's real default
// under a fake clock.
func TestBootWaitDefaultsTo75s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink})
		rt.SetWebState("app", router.WebStarting)
		req := httptest.NewRequest("GET", "http://app.localhost/", nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		rt.ServeHTTP(rec, req)
		if waited := time.Since(start); waited != 75*time.Second {
			t.Errorf("waited %s, want 75s", waited)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d", rec.Code)
		}
		if l := sink.waitLine(t, 1); !strings.Contains(l, `code=H20 desc="App boot timeout"`) {
			t.Errorf("line %s", l)
		}
	})
}

// TestQuarantineWaitThenH99 checks the back-off loop for an app whose only
// dyno is quarantined: bounded by QuarantineWait, then H99.
func TestQuarantineWaitThenH99(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink, QuarantineWait: 10 * time.Second})
		rt.SetBackends("app", []router.Dyno{{ID: "d", Name: "web.1", Addr: "127.0.0.1:9"}})
		rt.Backends("app")[0].Quarantine(time.Hour)
		rec := httptest.NewRecorder()
		start := time.Now()
		rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://app.localhost/", nil))
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("waited %s, want 10s", waited)
		}
		if l := sink.waitLine(t, 1); rec.Code != 503 || !strings.Contains(l, "code=H99") {
			t.Errorf("status %d line %s", rec.Code, l)
		}
	})
}

// TestWakeSleepingApp: the first request for a sleeping app calls Wake,
// once however many arrive; they all wait for the dyno Wake starts. A
// sleeping app without Wake answers H14.
func TestWakeSleepingApp(t *testing.T) {
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("awake")) }))
	defer dyno.Close()
	var rt *router.Router
	wakes := make(chan string, 10)
	rt = router.New(router.Config{Wake: func(app string) {
		wakes <- app
		time.Sleep(50 * time.Millisecond) // a boot
		rt.SetBackends(app, []router.Dyno{{ID: "d1", Name: "web.1", Addr: dyno.Listener.Addr().String()}})
	}})
	rt.SetWebState("app", router.WebSleeping)
	srv := httptest.NewServer(rt)
	defer srv.Close()
	done := make(chan string, 5)
	for range 5 {
		go func() {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Host = "app.localhost"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	for range 5 {
		if got := <-done; got != "200 awake" {
			t.Errorf("a request to the sleeping app: %s", got)
		}
	}
	if len(wakes) != 1 || <-wakes != "app" {
		t.Errorf("Wake called %d more times, want once for app", len(wakes)+1)
	}

	plain := router.New(router.Config{})
	plain.SetWebState("app", router.WebSleeping)
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, httptest.NewRequest("GET", "http://app.localhost/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("sleeping without Wake: %d, want 503 (H14)", rec.Code)
	}
	if err := plain.SetWebState("app", router.WebSleeping+1); err == nil {
		t.Error("SetWebState accepted an unknown state")
	}
}

// TestStatsWaitingAndInFlight: a request held while its app wakes counts
// in AppStats.Waiting until it ends, including while the woken dyno
// answers it, and in InFlight while the dyno has it; neither is in
// Requests until it ends. A platform that idles apps relies on this.
func TestStatsWaitingAndInFlight(t *testing.T) {
	answering, finish := make(chan struct{}), make(chan struct{})
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(answering)
		<-finish
		w.Write([]byte("awake"))
	}))
	defer dyno.Close()
	var rt *router.Router
	booting := make(chan struct{})
	rt = router.New(router.Config{Wake: func(app string) {
		<-booting
		rt.SetBackends(app, []router.Dyno{{ID: "d1", Name: "web.1", Addr: dyno.Listener.Addr().String()}})
	}})
	rt.SetWebState("app", router.WebSleeping)
	srv := httptest.NewServer(rt)
	defer srv.Close()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Host = "app.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	stats := func() router.AppStats {
		st, _ := rt.Stats("app")
		return st
	}
	deadline := time.Now().Add(10 * time.Second)
	for stats().Waiting != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := stats(); st.Waiting != 1 || st.InFlight != 0 || st.Requests != 0 {
		t.Errorf("while the app wakes: waiting %d, in flight %d, requests %d; want 1, 0, 0", st.Waiting, st.InFlight, st.Requests)
	}
	close(booting)
	<-answering
	if st := stats(); st.Waiting != 1 || st.InFlight != 1 || st.Requests != 0 {
		t.Errorf("while the woken dyno answers: waiting %d, in flight %d, requests %d; want 1, 1, 0", st.Waiting, st.InFlight, st.Requests)
	}
	close(finish)
	if code := <-done; code != 200 {
		t.Fatalf("request: %d", code)
	}
	for stats().Requests != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := stats(); st.Waiting != 0 || st.InFlight != 0 || st.Requests != 1 {
		t.Errorf("after: waiting %d, in flight %d, requests %d; want 0, 0, 1", st.Waiting, st.InFlight, st.Requests)
	}
}
