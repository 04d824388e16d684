package router_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/dynokit/dynokit/router"
)

type printSink struct{}

func (printSink) RouterLog(app string, _ time.Time, line []byte) {
	// Durations and ids vary per run; print only what is stable.
	fmt.Printf("%s: %.27s…\n", app, line)
}

// A platform creates a Router, tells it where each app's web dynos listen,
// and serves it.
func Example() {
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host)
	}))
	defer dyno.Close()

	rt := router.New(router.Config{LogSink: printSink{}})
	err := rt.SetBackends("myapp", []router.Dyno{{ID: "d-1", Name: "web.1", Addr: dyno.Listener.Addr().String()}})
	if err != nil {
		panic(err)
	}
	front := httptest.NewServer(rt)
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	req.Host = "myapp.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// myapp: at=info method=GET path="/"…
	// 200 hello from myapp.localhost
}

// With no web dyno running the router answers with Heroku's H14 page.
func ExampleRouter_SetBackends_noDynos() {
	rt := router.New(router.Config{})
	_ = rt.SetBackends("idle", nil)
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://idle.localhost/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 503 text/html; charset=utf-8
}

func ExampleAppendLogLine() {
	line := router.AppendLogLine(nil, &router.LogEntry{
		Code: router.H12, Method: "GET", Path: "/", Host: "myapp.localhost", RequestID: "f9ed4675f1c53513c61a",
		Fwd: "17.17.17.17", Dyno: "web.1", Connect: 6 * time.Millisecond, Service: 30001 * time.Millisecond,
		Status: 503, Bytes: 0, Protocol: "http",
	})
	fmt.Println(string(line))
	// Output: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.localhost request_id=f9ed4675f1c53513c61a fwd="17.17.17.17" dyno=web.1 connect=6ms service=30001ms status=503 bytes=0 protocol=http
}

func ExampleValidRequestID() {
	fmt.Println(router.ValidRequestID("too-short"), router.ValidRequestID("0123456789abcdefghijKLMN"))
	// Output: false true
}

// An autoscaler reads an app's metrics at intervals and acts on their
// difference: the requests of the interval and their percentiles.
func ExampleAppStats_Sub() {
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(30 * time.Millisecond)
		}
	}))
	defer dyno.Close()
	rt := router.New(router.Config{})
	if err := rt.SetBackends("myapp", []router.Dyno{{ID: "d-1", Name: "web.1", Addr: dyno.Listener.Addr().String()}}); err != nil {
		panic(err)
	}
	front := httptest.NewServer(rt)
	defer front.Close()
	get := func(path string) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Host = "myapp.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}

	for range 10 {
		get("/")
	}
	prev, _ := rt.Stats("myapp")
	for range 3 {
		get("/slow")
	}
	cur, _ := rt.Stats("myapp")

	const target = 20 * time.Millisecond
	win := cur.Sub(prev)
	fmt.Printf("interval: %d requests, p95 over %v: %v\n", win.Requests, target, win.P95 > target)
	fmt.Printf("since added: %d requests, p50 over %v: %v\n", cur.Requests, target, cur.P50 > target)
	// Output:
	// interval: 3 requests, p95 over 20ms: true
	// since added: 13 requests, p50 over 20ms: false
}

// The router's metrics for a Prometheus server: mount the handler where
// it scrapes (minipaas serves it at /metrics on its API listener).
func ExampleRouter_MetricsHandler() {
	rt := router.New(router.Config{})
	_ = rt.SetBackends("idle", nil)
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://idle.localhost/", nil)) // H14

	rec := httptest.NewRecorder()
	rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasSuffix(line, "_total{app=\"idle\",class=\"5xx\"} 1") || strings.Contains(line, "errors_total{") {
			fmt.Println(line)
		}
	}
	// Output:
	// dynokit_router_requests_total{app="idle",class="5xx"} 1
	// dynokit_router_errors_total{app="idle",code="H14"} 1
}
