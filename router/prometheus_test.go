package router_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestMetricsHandler: the exposition has every app's counters, and its
// histogram is cumulative, ends at +Inf with the count, and has the sum.
func TestMetricsHandler(t *testing.T) {
	e := newEnv(t, router.Config{})
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(100 * time.Millisecond)
		}
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, "ok")
	})
	mustSet(t, e.rt, "web-app", addr)
	if err := e.rt.SetBackends("idle", nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/slow", "/slow", "/boom"} {
		e.get(t, "web-app.localhost", path)
	}
	e.get(t, "idle.localhost", "/") // H14

	rec := httptest.NewRecorder()
	e.rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE dynokit_router_requests_total counter\n",
		`dynokit_router_requests_total{app="idle",class="5xx"} 1` + "\n",
		`dynokit_router_requests_total{app="web-app",class="2xx"} 3` + "\n",
		`dynokit_router_requests_total{app="web-app",class="5xx"} 1` + "\n",
		"# TYPE dynokit_router_errors_total counter\n",
		`dynokit_router_errors_total{app="idle",code="H14"} 1` + "\n",
		"# TYPE dynokit_router_service_seconds histogram\n",
		`dynokit_router_service_seconds_bucket{app="idle",le="+Inf"} 0` + "\n",
		`dynokit_router_service_seconds_count{app="web-app"} 4` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Index(body, `{app="idle"`) > strings.Index(body, `{app="web-app"`) {
		t.Error("apps are not in name order")
	}

	// Every line is a comment or a well-formed sample; web-app's buckets
	// grow, reach the count at +Inf, and hold the two slow requests above
	// 64 ms only.
	sample := regexp.MustCompile(`^([a-z_]+)\{app="([a-z-]+)"(?:,([a-z]+)="([^"]*)")?\} ([0-9.e+-]+)$`)
	var prev int64 = -1
	var le64, inf, sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed line %q", line)
		}
		v, err := strconv.ParseFloat(m[5], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		if m[2] != "web-app" {
			continue
		}
		switch m[1] {
		case "dynokit_router_service_seconds_bucket":
			if int64(v) < prev {
				t.Errorf("bucket le=%s: %v, below the previous %d", m[4], v, prev)
			}
			prev = int64(v)
			switch m[4] {
			case "0.064":
				le64 = v
			case "+Inf":
				inf = v
			}
		case "dynokit_router_service_seconds_sum":
			sum = v
		}
	}
	if le64 != 2 || inf != 4 {
		t.Errorf("web-app: %v requests under 64 ms and %v in all, want 2 and 4", le64, inf)
	}
	if sum < 0.200 || sum > 10 {
		t.Errorf("web-app: service time sum %vs, want at least the two 100 ms sleeps", sum)
	}
}
