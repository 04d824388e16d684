package platformapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestErrorGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"not_found", NotFound("app", "demo")},
		{"invalid_params", InvalidParams("Name must start with a letter, end with a letter or digit and can only contain lowercase letters, digits, and dashes.")},
		{"conflict", Conflict("Name %s is already taken", "demo")},
		{"forbidden", Forbidden("You do not have access to the app %s.", "demo")},
		{"precondition_failed", PreconditionFailed("%s has changed since the ETag in If-Match was read: GET it again and retry.", "/apps/demo")},
		{"wrapped", fmt.Errorf("loading app: %w", NotFound("app", "ghost"))},
		{"internal", errors.New("db: connection refused to 10.0.0.3 with password hunter2")},
		{"range", func() error { _, err := ParseRange("id ..; max=0", "id"); return err }()},
		{"with_url", &Error{Status: 402, ID: IDDelinquent, Message: "This account is delinquent.", URL: "https://example.com/billing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, nil, tc.err)
			got := fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			golden(t, filepath.Join("testdata", "errors", tc.name+".golden"), got)
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	testutil.Golden(t, path, []byte(got), *update)
}

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		ok     bool
	}{
		{[]string{"application/vnd.heroku+json; version=3"}, true},
		{[]string{"application/vnd.heroku+json; version=3.sdk"}, true},
		{[]string{"application/vnd.heroku+json;version=3.docker-releases"}, true},
		{[]string{"application/json, application/vnd.heroku+json; version=3"}, true},
		{[]string{"text/plain", "application/vnd.heroku+json; version=\"3\""}, true},
		{nil, false},
		{[]string{"application/json"}, false},
		{[]string{"application/vnd.heroku+json"}, false},
		{[]string{"application/vnd.heroku+json; version=2"}, false},
		{[]string{"application/vnd.heroku+json; version=30"}, false},
		{[]string{"application/vnd.heroku+json; version=3."}, false},
		{[]string{"application/vnd.heroku+json; version=3.a b"}, false},
	} {
		r := httptest.NewRequest("GET", "/apps", nil)
		for _, a := range tc.accept {
			r.Header.Add("Accept", a)
		}
		err := CheckVersion(r)
		if (err == nil) != tc.ok {
			t.Errorf("CheckVersion(%q) = %v, want ok=%v", tc.accept, err, tc.ok)
		}
		if err != nil && err.(*Error).Status != 406 {
			t.Errorf("CheckVersion(%q) status = %d, want 406", tc.accept, err.(*Error).Status)
		}
	}
}

func TestBearerOrBasic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*http.Request)
		want   string
		wantOK bool
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, "abc", true},
		{"bearer lower", func(r *http.Request) { r.Header.Set("Authorization", "bearer abc") }, "abc", true},
		{"basic password", func(r *http.Request) { r.SetBasicAuth("me@example.com", "abc") }, "abc", true},
		{"basic no user", func(r *http.Request) { r.SetBasicAuth("", "abc") }, "abc", true},
		{"basic empty password", func(r *http.Request) { r.SetBasicAuth("abc", "") }, "", false},
		{"empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, "", false},
		{"none", func(*http.Request) {}, "", false},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Token abc") }, "", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		tc.set(r)
		got, ok := BearerOrBasic(r)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
	if !TokenMatches("abc", "abc") || TokenMatches("abd", "abc") || TokenMatches("ab", "abc") || TokenMatches("", "") {
		t.Error("TokenMatches is wrong")
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		echo bool
	}{
		{"2b8e6a4c-1f0d-4c55-9f5e-6d2b8f1d3a77", true},
		{"2b8e6a4c-1f0d-4c55-9f5e-6d2b8f1d3a77,9a3c5e1f-0b2d-4e6f-8a1c-3d5e7f9b1c2d", true},
		{"short", false},
		{"has spaces in it which is not allowed", false},
		{"line\nbreak-injection-attempt-xx", false},
		{strings.Repeat("a", 201), false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Request-Id", tc.in)
		got := RequestID(r)
		if tc.echo && got != tc.in {
			t.Errorf("RequestID(%q) = %q, want it echoed", tc.in, got)
		}
		if !tc.echo && !uuidRE.MatchString(got) {
			t.Errorf("RequestID(%q) = %q, want a new UUID", tc.in, got)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if seen[id] || !uuidRE.MatchString(id) {
			t.Fatalf("NewUUID = %q: repeated or not a v4 UUID", id)
		}
		seen[id] = true
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &RateLimiter{Capacity: 3, PerMinute: 60, Now: func() time.Time { return now }}
	for i, want := range []int{2, 1, 0} {
		if rem, ok := l.Take("a"); !ok || rem != want {
			t.Fatalf("take %d: %d, %v; want %d, true", i, rem, ok, want)
		}
	}
	if rem, ok := l.Take("a"); ok || rem != 0 {
		t.Errorf("empty bucket: %d, %v", rem, ok)
	}
	if _, ok := l.Take("b"); !ok {
		t.Error("buckets are not per key")
	}
	now = now.Add(2 * time.Second) // 2 tokens back
	if rem, ok := l.Take("a"); !ok || rem != 1 {
		t.Errorf("after refill: %d, %v; want 1, true", rem, ok)
	}
	now = now.Add(time.Hour)
	if rem, _ := l.Take("a"); rem != 2 {
		t.Errorf("refill exceeds capacity: %d remaining", rem)
	}
	var zero RateLimiter
	if rem, ok := zero.Take("x"); !ok || rem != 4499 {
		t.Errorf("zero RateLimiter: %d, %v; want 4499, true", rem, ok)
	}
}

func newTestServer() *Server {
	s := &Server{Token: "secret-token", RateLimit: &RateLimiter{Capacity: 2, PerMinute: 1}}
	s.Handle("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("app") != "demo" {
			return NotFound("app", r.PathValue("app"))
		}
		WriteJSON(w, http.StatusOK, map[string]string{"name": "demo"})
		return nil
	})
	s.Handle("POST /apps", func(w http.ResponseWriter, r *http.Request) error {
		var body struct{ Name string }
		if err := DecodeJSON(r, 0, &body); err != nil {
			return err
		}
		return errors.New("internal detail that must not leak")
	})
	return s
}

func do(t *testing.T, h http.Handler, method, path, body string, set func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	r.Header.Set("Authorization", "Bearer secret-token")
	if set != nil {
		set(r)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestServer(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		set                      func(*http.Request)
		status                   int
		wantBody                 string
	}{
		{"ok", "GET", "/apps/demo", "", nil, 200, `{"name":"demo"}`},
		{"not found", "GET", "/apps/ghost", "", nil, 404, `{"id":"not_found","message":"Couldn't find that app: ghost."}`},
		{"unknown path", "GET", "/nope", "", nil, 404, `"id":"not_found"`},
		{"wrong method", "DELETE", "/apps/demo", "", nil, 405, `{"id":"method_not_allowed","message":"Method DELETE is not allowed on /apps/demo."}`},
		{"no version", "GET", "/apps/demo", "", func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406, `"id":"not_acceptable"`},
		{"no auth", "GET", "/apps/demo", "", func(r *http.Request) { r.Header.Del("Authorization") }, 401, `{"id":"unauthorized","message":"Invalid credentials provided."}`},
		{"wrong token", "GET", "/apps/demo", "", func(r *http.Request) { r.Header.Set("Authorization", "Bearer secret-tokeN") }, 401, `"id":"unauthorized"`},
		{"basic", "GET", "/apps/demo", "", func(r *http.Request) { r.Header.Del("Authorization"); r.SetBasicAuth("", "secret-token") }, 200, `{"name":"demo"}`},
		{"bad json", "POST", "/apps", "{", nil, 400, `"id":"bad_request"`},
		{"internal", "POST", "/apps", `{"name":"x"}`, nil, 500, `{"id":"internal_server_error","message":"Internal server error."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, newTestServer(), tc.method, tc.path, tc.body, tc.set)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body, tc.status, tc.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !uuidRE.MatchString(rec.Header().Get("Request-Id")) {
				t.Errorf("Request-Id %q is not a generated UUID", rec.Header().Get("Request-Id"))
			}
			if strings.Contains(rec.Body.String(), "secret-token") || strings.Contains(rec.Body.String(), "internal detail") {
				t.Errorf("body leaks: %s", rec.Body)
			}
			if tc.name == "wrong method" && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}

	s := newTestServer()
	id := "0f9a6c1e-7d3b-4a52-9e8f-1c2d3e4f5a6b"
	var remaining []string
	var codes []int
	for range 3 {
		rec := do(t, s, "GET", "/apps/demo", "", func(r *http.Request) { r.Header.Set("Request-Id", id) })
		if rec.Header().Get("Request-Id") != id {
			t.Errorf("Request-Id %q not echoed", rec.Header().Get("Request-Id"))
		}
		remaining = append(remaining, rec.Header().Get("RateLimit-Remaining"))
		codes = append(codes, rec.Code)
	}
	if fmt.Sprint(remaining, codes) != "[1 0 0] [200 200 429]" {
		t.Errorf("RateLimit-Remaining %v, statuses %v; want [1 0 0] [200 200 429]", remaining, codes)
	}
	var zero Server
	if rec := do(t, &zero, "GET", "/apps/demo", "", nil); rec.Code != 401 {
		t.Errorf("zero Server answered %d, want 401", rec.Code)
	}
	authed := &Server{Authenticate: func(ctx context.Context, tok string) (string, bool) { return "acct-" + tok, tok == "secret-token" }}
	authed.Handle("GET /account", func(w http.ResponseWriter, r *http.Request) error { WriteJSON(w, 200, map[string]any{}); return nil })
	if rec := do(t, authed, "GET", "/account", "", nil); rec.Code != 200 || !bytes.Equal(bytes.TrimSpace(rec.Body.Bytes()), []byte("{}")) {
		t.Errorf("Authenticate: %d %s", rec.Code, rec.Body)
	}
}

func TestRateLimiterRemaining(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &RateLimiter{Capacity: 3, PerMinute: 60, Now: func() time.Time { return now }}
	steps := []struct {
		name string
		act  func()
		want int
	}{
		{"new key is full", func() {}, 3},
		{"peeking is free", func() { l.Remaining("a"); l.Remaining("a") }, 3},
		{"take spends", func() { l.Take("a"); l.Take("a"); l.Take("a") }, 0},
		{"refill shows on peek", func() { now = now.Add(2 * time.Second) }, 2},
		{"refill stops at capacity", func() { now = now.Add(time.Hour) }, 3},
	}
	for _, step := range steps {
		step.act()
		if got := l.Remaining("a"); got != step.want {
			t.Errorf("%s: Remaining = %d, want %d", step.name, got, step.want)
		}
	}
}

func TestRateLimitsEndpoint(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestServer()
	s.RateLimit.Now = func() time.Time { return now } // Capacity 2, 1 a minute
	for _, step := range []struct {
		name, method, path string
		set                func(*http.Request)
		before             func()
		status             int
		remaining          string // RateLimit-Remaining
		wantBody           string
	}{
		{"full and free", "GET", "/account/rate-limits", nil, nil, 200, "2", `{"remaining":2}`},
		{"still free", "GET", "/account/rate-limits", nil, nil, 200, "2", `{"remaining":2}`},
		{"HEAD like GET", "HEAD", "/account/rate-limits", nil, nil, 200, "2", ``},
		{"another call costs", "GET", "/apps/demo", nil, nil, 200, "1", `{"name":"demo"}`},
		{"shows the cost", "GET", "/account/rate-limits", nil, nil, 200, "1", `{"remaining":1}`},
		{"empty bucket", "GET", "/apps/demo", nil, nil, 200, "0", `{"name":"demo"}`},
		{"limited", "GET", "/apps/demo", nil, nil, 429, "0", `"id":"rate_limit"`},
		{"answers when limited", "GET", "/account/rate-limits", nil, nil, 200, "0", `{"remaining":0}`},
		{"refilled", "GET", "/account/rate-limits", nil, func() { now = now.Add(time.Minute) }, 200, "1", `{"remaining":1}`},
		{"other methods", "POST", "/account/rate-limits", nil, nil, 405, "0", `"id":"method_not_allowed"`},
		{"needs auth", "GET", "/account/rate-limits", func(r *http.Request) { r.Header.Del("Authorization") }, nil, 401, "", `"id":"unauthorized"`},
		{"needs the version", "GET", "/account/rate-limits", func(r *http.Request) { r.Header.Set("Accept", "application/json") }, nil, 406, "", `"id":"not_acceptable"`},
	} {
		if step.before != nil {
			step.before()
		}
		rec := do(t, s, step.method, step.path, "", step.set)
		body := strings.TrimSpace(rec.Body.String())
		if rec.Code != step.status || rec.Header().Get("RateLimit-Remaining") != step.remaining || !strings.Contains(body, step.wantBody) || step.wantBody == "" && body != "" {
			t.Errorf("%s: %d RateLimit-Remaining %q %s; want %d %q %s", step.name, rec.Code, rec.Header().Get("RateLimit-Remaining"), body, step.status, step.remaining, step.wantBody)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Handle of RateLimitsPattern did not panic: Server answers it")
			}
		}()
		newTestServer().Handle(RateLimitsPattern, func(http.ResponseWriter, *http.Request) error { return nil })
	}()
}

// testApps is a small store of app versions behind a Server, for the tests
// of method override and conditional requests.
type testApps struct {
	mu       sync.Mutex
	versions map[string]int
}

func (a *testApps) version(app string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.versions[app]
	return v, ok
}

func newAppsServer() (*Server, *testApps) {
	apps := &testApps{versions: map[string]int{"demo": 1}}
	s := &Server{Token: "secret-token"}
	s.Handle("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("app")
		v, ok := apps.version(name)
		if !ok {
			return NotFound("app", name)
		}
		WriteJSON(w, http.StatusOK, map[string]any{"name": name, "version": v})
		return nil
	})
	write := func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("app")
		apps.mu.Lock()
		defer apps.mu.Unlock()
		v, ok := apps.versions[name]
		if !ok {
			return NotFound("app", name)
		}
		if r.Method == http.MethodDelete {
			delete(apps.versions, name)
		} else {
			apps.versions[name] = v + 1
		}
		WriteJSON(w, http.StatusOK, map[string]any{"method": r.Method, "name": name})
		return nil
	}
	for _, method := range []string{"PATCH", "PUT", "DELETE"} {
		s.Handle(method+" /apps/{app}", write)
	}
	s.Handle("POST /apps/{app}/actions/restart", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusAccepted, map[string]string{})
		return nil
	})
	s.Handle("GET /own-etag", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("ETag", `W/"v1"`)
		WriteJSON(w, http.StatusOK, map[string]string{})
		return nil
	})
	s.Handle("PATCH /own-etag", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]string{"method": r.Method})
		return nil
	})
	return s, apps
}

// demoBody is what GET /apps/demo answers at version 1; tests compute its
// ETag with etagFor rather than with the code under test.
const demoBody = `{"name":"demo","version":1}` + "\n"

func etagFor(body string) string {
	sum := sha256.Sum256([]byte(body))
	return `"` + hex.EncodeToString(sum[:])[:32] + `"`
}

func TestMethodOverride(t *testing.T) {
	for _, tc := range []struct {
		name, method, override string
		status                 int
		wantBody               string
		wantVersion            int // of demo afterwards; 0: deleted
	}{
		{"POST as PATCH", "POST", "PATCH", 200, `"method":"PATCH"`, 2},
		{"POST as PUT", "POST", "Put", 200, `"method":"PUT"`, 2},
		{"POST as DELETE", "POST", "delete", 200, `"method":"DELETE"`, 0},
		{"spaces", "POST", " PATCH ", 200, `"method":"PATCH"`, 2},
		{"not as GET", "POST", "GET", 400, `{"id":"bad_request","message":"X-Http-Method-Override \"GET\" is not allowed: use PATCH, DELETE or PUT."}`, 1},
		{"not as anything", "POST", "TRACE", 400, `"id":"bad_request"`, 1},
		{"plain POST", "POST", "", 405, `"id":"method_not_allowed"`, 1},
		{"ignored on PATCH", "PATCH", "DELETE", 200, `"method":"PATCH"`, 2},
		{"ignored on GET", "GET", "DELETE", 200, demoBody, 1},
		{"ignored on DELETE", "DELETE", "bogus", 200, `"method":"DELETE"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, apps := newAppsServer()
			rec := do(t, s, tc.method, "/apps/demo", "", func(r *http.Request) {
				if tc.override != "" {
					r.Header.Set("X-Http-Method-Override", tc.override)
				}
			})
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body, tc.status, tc.wantBody)
			}
			if v, _ := apps.version("demo"); v != tc.wantVersion {
				t.Errorf("demo is at version %d, want %d", v, tc.wantVersion)
			}
		})
	}
}

func TestETag(t *testing.T) {
	demoETag := etagFor(demoBody)
	const anyBody = "<any>"
	for _, tc := range []struct {
		name, method, path, ifNoneMatch string
		status                          int
		etag                            string // "" must be absent
		wantBody                        string // exactly, unless anyBody
	}{
		{"GET", "GET", "/apps/demo", "", 200, demoETag, demoBody},
		{"HEAD", "HEAD", "/apps/demo", "", 200, demoETag, ""},
		{"not modified", "GET", "/apps/demo", demoETag, 304, demoETag, ""},
		{"HEAD not modified", "HEAD", "/apps/demo", demoETag, 304, demoETag, ""},
		{"weak comparison", "GET", "/apps/demo", "W/" + demoETag, 304, demoETag, ""},
		{"in a list", "GET", "/apps/demo", `"a", W/"b",` + demoETag, 304, demoETag, ""},
		{"comma in a tag", "GET", "/apps/demo", `"a,b",` + demoETag, 304, demoETag, ""},
		{"any", "GET", "/apps/demo", "*", 304, demoETag, ""},
		{"changed", "GET", "/apps/demo", `"0123", W/"4567"`, 200, demoETag, demoBody},
		{"unquoted", "GET", "/apps/demo", strings.Trim(demoETag, `"`), 200, demoETag, demoBody},
		{"malformed list", "GET", "/apps/demo", `"0123", junk, ` + demoETag, 200, demoETag, demoBody},
		{"handler's own", "GET", "/own-etag", "", 200, `W/"v1"`, "{}\n"},
		{"handler's own matched", "GET", "/own-etag", `"v1"`, 304, `W/"v1"`, ""},
		{"error", "GET", "/apps/ghost", "*", 404, "", `{"id":"not_found","message":"Couldn't find that app: ghost."}` + "\n"},
		{"unknown path", "GET", "/nope", "", 404, "", anyBody},
		{"wrong method", "DELETE", "/own-etag", "", 405, "", anyBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newAppsServer()
			rec := do(t, s, tc.method, tc.path, "", func(r *http.Request) {
				if tc.ifNoneMatch != "" {
					r.Header.Set("If-None-Match", tc.ifNoneMatch)
				}
			})
			h := rec.Header()
			if rec.Code != tc.status || h.Get("ETag") != tc.etag {
				t.Errorf("got %d ETag %q, want %d ETag %q", rec.Code, h.Get("ETag"), tc.status, tc.etag)
			}
			if tc.wantBody != anyBody && rec.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
			}
			if h.Get("Request-Id") == "" || h.Get("RateLimit-Remaining") == "" {
				t.Errorf("Request-Id %q, RateLimit-Remaining %q: want both", h.Get("Request-Id"), h.Get("RateLimit-Remaining"))
			}
			switch {
			case tc.status == 304 && (h.Get("Content-Type") != "" || h.Get("Content-Length") != ""):
				t.Errorf("304 with Content-Type %q, Content-Length %q", h.Get("Content-Type"), h.Get("Content-Length"))
			case tc.status == 200 && h.Get("Content-Length") != strconv.Itoa(len(tc.wantBody)) && tc.method == "GET":
				t.Errorf("Content-Length %q, want %d", h.Get("Content-Length"), len(tc.wantBody))
			case tc.status == 200 && h.Get("Content-Length") != strconv.Itoa(len(demoBody)) && tc.method == "HEAD":
				t.Errorf("HEAD Content-Length %q, want the GET's %d", h.Get("Content-Length"), len(demoBody))
			}
		})
	}
}

func TestStreamingGET(t *testing.T) {
	s, _ := newAppsServer()
	var afterFlush []error
	s.Handle("GET /stream", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "first ")
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		afterFlush = append(afterFlush, r.Context().Err())
		fmt.Fprint(w, "second")
		return nil
	})
	s.Handle("PUT /stream", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]string{})
		return nil
	})
	rec := do(t, s, "GET", "/stream", "", nil)
	if rec.Code != 200 || rec.Body.String() != "first second" || !rec.Flushed || rec.Header().Get("ETag") != "" || rec.Header().Get("Content-Length") != "" {
		t.Errorf("got %d %q flushed=%v ETag %q Content-Length %q; want 200, streamed, no ETag or length",
			rec.Code, rec.Body, rec.Flushed, rec.Header().Get("ETag"), rec.Header().Get("Content-Length"))
	}
	if rec.Header().Get("Content-Type") != "text/plain" || rec.Header().Get("Request-Id") == "" {
		t.Errorf("header %v lost the handler's or Server's fields", rec.Header())
	}
	// If-Match cannot compare with a stream: 412, and the probe's GET is
	// cancelled once it starts streaming.
	rec = do(t, s, "PUT", "/stream", "", func(r *http.Request) { r.Header.Set("If-Match", "*") })
	if rec.Code != 412 {
		t.Errorf("PUT If-Match * on a stream: %d %s, want 412", rec.Code, rec.Body)
	}
	if len(afterFlush) != 2 || afterFlush[0] != nil || afterFlush[1] != context.Canceled {
		t.Errorf("context after Flush: %v; want [nil (GET) context.Canceled (If-Match's probe)]", afterFlush)
	}
}

func TestIfMatch(t *testing.T) {
	demoETag := etagFor(demoBody)
	stale := etagFor(`{"name":"demo","version":0}` + "\n")
	for _, tc := range []struct {
		name, method, path, ifMatch, override string
		status                                int
		wantBody                              string
		wantVersion                           int // of demo afterwards; 0: deleted
	}{
		{"PATCH current", "PATCH", "/apps/demo", demoETag, "", 200, `"method":"PATCH"`, 2},
		{"PUT current", "PUT", "/apps/demo", demoETag, "", 200, `"method":"PUT"`, 2},
		{"DELETE current", "DELETE", "/apps/demo", demoETag, "", 200, `"method":"DELETE"`, 0},
		{"in a list", "PATCH", "/apps/demo", stale + ", " + demoETag, "", 200, `"method":"PATCH"`, 2},
		{"any", "PATCH", "/apps/demo", "*", "", 200, `"method":"PATCH"`, 2},
		{"overridden POST", "POST", "/apps/demo", demoETag, "PATCH", 200, `"method":"PATCH"`, 2},
		{"PATCH stale", "PATCH", "/apps/demo", stale, "", 412, `{"id":"precondition_failed","message":"/apps/demo has changed since the ETag in If-Match was read: GET it again and retry."}`, 1},
		{"DELETE stale", "DELETE", "/apps/demo", stale, "", 412, `"id":"precondition_failed"`, 1},
		{"overridden POST stale", "POST", "/apps/demo", stale, "DELETE", 412, `"id":"precondition_failed"`, 1},
		{"strong comparison", "PATCH", "/apps/demo", "W/" + demoETag, "", 412, `"id":"precondition_failed"`, 1},
		{"unquoted", "PATCH", "/apps/demo", strings.Trim(demoETag, `"`), "", 412, `"id":"precondition_failed"`, 1},
		{"missing resource", "PATCH", "/apps/ghost", "*", "", 404, `{"id":"not_found","message":"Couldn't find that app: ghost."}`, 1},
		{"no GET endpoint", "POST", "/apps/demo/actions/restart", "*", "", 412, `"id":"precondition_failed"`, 1},
		{"weak ETag", "PATCH", "/own-etag", `W/"v1"`, "", 412, `"id":"precondition_failed"`, 1},
		{"weak ETag, strong tag", "PATCH", "/own-etag", `"v1"`, "", 412, `"id":"precondition_failed"`, 1},
		{"weak ETag, any", "PATCH", "/own-etag", "*", "", 200, `"method":"PATCH"`, 1},
		{"without If-Match", "PATCH", "/apps/demo", "", "", 200, `"method":"PATCH"`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, apps := newAppsServer()
			rec := do(t, s, tc.method, tc.path, "", func(r *http.Request) {
				if tc.ifMatch != "" {
					r.Header.Set("If-Match", tc.ifMatch)
				}
				if tc.override != "" {
					r.Header.Set("X-Http-Method-Override", tc.override)
				}
			})
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body, tc.status, tc.wantBody)
			}
			if rec.Header().Get("ETag") != "" {
				t.Errorf("a write answered with ETag %q", rec.Header().Get("ETag"))
			}
			if v, _ := apps.version("demo"); v != tc.wantVersion {
				t.Errorf("demo is at version %d, want %d", v, tc.wantVersion)
			}
		})
	}
}

// TestIfMatchIsAtomic checks that conditional writes to a path are checked
// and done one at a time (of two with the same ETag, one wins), and that
// nothing else waits for them: GETs, unconditional writes and conditional
// writes to other paths.
func TestIfMatchIsAtomic(t *testing.T) {
	s, apps := newAppsServer()
	entered, release := make(chan struct{}), make(chan struct{})
	s.Handle("PATCH /slow/{app}", func(w http.ResponseWriter, r *http.Request) error {
		entered <- struct{}{}
		<-release
		apps.mu.Lock()
		apps.versions[r.PathValue("app")]++
		apps.mu.Unlock()
		WriteJSON(w, http.StatusOK, map[string]string{})
		return nil
	})
	// GET /slow/{app} is what If-Match compares with.
	s.Handle("GET /slow/{app}", func(w http.ResponseWriter, r *http.Request) error {
		v, _ := apps.version(r.PathValue("app"))
		WriteJSON(w, http.StatusOK, map[string]int{"version": v})
		return nil
	})
	start := func(method, path, ifMatch string) <-chan *httptest.ResponseRecorder {
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			done <- do(t, s, method, path, "", func(r *http.Request) {
				if ifMatch != "" {
					r.Header.Set("If-Match", ifMatch)
				}
			})
		}()
		return done
	}
	waitFor := func(what string, done <-chan *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		t.Helper()
		select {
		case rec := <-done:
			return rec
		case <-time.After(5 * time.Second):
			t.Fatalf("%s does not finish", what)
			return nil
		}
	}
	notYet := func(what string, done <-chan *httptest.ResponseRecorder) {
		t.Helper()
		select {
		case rec := <-done:
			t.Fatalf("%s finished (%d %s) while a conditional write to its path was in flight", what, rec.Code, rec.Body)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Two clients read the same ETag and write with it: the second waits
	// for the first, then finds its change.
	etag := waitFor("GET", start("GET", "/slow/demo", "")).Header().Get("ETag")
	first := start("PATCH", "/slow/demo", etag)
	<-entered
	second := start("PATCH", "/slow/demo", etag)
	notYet("the second conditional write", second)
	// Meanwhile the rest of the API goes on.
	if rec := waitFor("a GET", start("GET", "/slow/demo", "")); rec.Code != 200 {
		t.Errorf("GET during a conditional write: %d %s", rec.Code, rec.Body)
	}
	if rec := waitFor("an unconditional write", start("PATCH", "/apps/demo", "")); rec.Code != 200 {
		t.Errorf("unconditional write during a conditional one: %d %s", rec.Code, rec.Body)
	}
	appsETag := waitFor("GET", start("GET", "/apps/demo", "")).Header().Get("ETag")
	if rec := waitFor("a conditional write to another path", start("PATCH", "/apps/demo", appsETag)); rec.Code != 200 {
		t.Errorf("conditional write to another path: %d %s", rec.Code, rec.Body)
	}
	close(release)
	if rec := waitFor("the first conditional write", first); rec.Code != 200 {
		t.Errorf("first conditional write: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := waitFor("the second conditional write", second); rec.Code != 412 {
		t.Errorf("second conditional write with the same ETag: %d %s, want 412", rec.Code, rec.Body)
	}
	if v, _ := apps.version("demo"); v != 4 {
		t.Errorf("demo is at version %d, want 4 (one slow write, two plain)", v)
	}
	s.conditionalMu.Lock()
	defer s.conditionalMu.Unlock()
	if len(s.conditional) != 0 {
		t.Errorf("%d path locks left after the writes", len(s.conditional))
	}
}

func TestCORS(t *testing.T) {
	origin := func(r *http.Request) { r.Header.Set("Origin", "https://console.example") }
	preflight := func(requestHeaders string) func(*http.Request) {
		return func(r *http.Request) {
			origin(r)
			r.Header.Del("Accept")
			r.Header.Del("Authorization")
			r.Header.Set("Access-Control-Request-Method", "PATCH")
			if requestHeaders != "" {
				r.Header.Set("Access-Control-Request-Headers", requestHeaders)
			}
		}
	}
	const absent = "<absent>"
	exposed := "Request-Id, RateLimit-Remaining, ETag, Content-Range, Next-Range, Accept-Ranges, Allow, Warning-Message, X-Heroku-Warning"
	fixedList := "Accept, Authorization, Content-Type, Range, If-None-Match, If-Match, X-Http-Method-Override, Request-Id, Heroku-Two-Factor-Code"
	for _, tc := range []struct {
		name, method, path string
		set                func(*http.Request)
		status             int
		want               map[string]string // header: value, or absent
	}{
		{"GET", "GET", "/apps/demo", origin, 200, map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": exposed, "Vary": "Origin",
			"Access-Control-Allow-Credentials": absent, "Access-Control-Allow-Methods": absent}},
		{"no Origin", "GET", "/apps/demo", nil, 200, map[string]string{
			"Access-Control-Allow-Origin": absent, "Access-Control-Expose-Headers": absent, "Vary": "Origin"}},
		{"401", "GET", "/apps/demo", func(r *http.Request) { origin(r); r.Header.Del("Authorization") }, 401, map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": exposed}},
		{"406", "GET", "/apps/demo", func(r *http.Request) { origin(r); r.Header.Set("Accept", "application/json") }, 406, map[string]string{
			"Access-Control-Allow-Origin": "*"}},
		{"404", "GET", "/nope", origin, 404, map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"400", "POST", "/apps", origin, 400, map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"OPTIONS without Access-Control-Request-Method", "OPTIONS", "/apps/demo", origin, 405, map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": absent}},
		{"preflight", "OPTIONS", "/apps/demo", preflight("authorization,if-match, x-custom"), 204, map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS",
			"Access-Control-Allow-Headers": "authorization,if-match, x-custom",
			"Access-Control-Max-Age":       "600",
			"Vary":                         "Origin, Access-Control-Request-Headers",
			"RateLimit-Remaining":          absent, "Access-Control-Allow-Credentials": absent}},
		{"preflight of an unknown path", "OPTIONS", "/nope", preflight(""), 204, map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": fixedList}},
		{"preflight with a malformed list", "OPTIONS", "/apps/demo", preflight("x-a, bad header"), 204, map[string]string{
			"Access-Control-Allow-Headers": fixedList}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer()
			rec := do(t, s, tc.method, tc.path, "", tc.set)
			if rec.Code != tc.status {
				t.Errorf("status %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			for k, want := range tc.want {
				got := strings.Join(rec.Header().Values(k), ", ")
				if want == absent && got != "" || want != absent && got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if rec.Header().Get("Request-Id") == "" {
				t.Error("no Request-Id")
			}
			if tc.status == 204 {
				if rec.Body.Len() != 0 {
					t.Errorf("preflight body %q", rec.Body)
				}
				// A preflight is not charged.
				if rem := do(t, s, "GET", "/apps/demo", "", nil).Header().Get("RateLimit-Remaining"); rem != "1" {
					t.Errorf("RateLimit-Remaining after a preflight: %s, want 1", rem)
				}
			}
		})
	}

	s := newTestServer()
	for range 2 {
		do(t, s, "GET", "/apps/demo", "", nil)
	}
	if rec := do(t, s, "GET", "/apps/demo", "", origin); rec.Code != 429 || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("429 from a browser: %d Access-Control-Allow-Origin %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}
