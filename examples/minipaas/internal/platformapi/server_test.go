package platformapi

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
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
