package router

import (
	"strings"
	"testing"
)

var lookupCases = []struct {
	host, app string
}{
	{"app.localhost", "app"},
	{"APP.LocalHost:8080", "app"},
	{"app.localhost.", "app"},
	{"www.example.com", "app"},
	{"WWW.Example.com:443", "app"},
	{"other.localhost", ""},
	{"x.app.localhost", ""},
	{"localhost", ""},
	{".localhost", ""},
	{"[::1]:80", ""},
	{"", ""},
}

func newLookupRouter(t testing.TB) *Router {
	rt := New(Config{})
	if err := rt.SetBackends("app", nil); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDomains("app", []string{"www.example.com"}); err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestLookup(t *testing.T) {
	rt := newLookupRouter(t)
	for _, tc := range lookupCases {
		got, _ := rt.Lookup(tc.host)
		if got != tc.app {
			t.Errorf("Lookup(%q) = %q, want %q", tc.host, got, tc.app)
		}
	}
}

func FuzzLookup(f *testing.F) {
	for _, tc := range lookupCases {
		f.Add(tc.host)
	}
	rt := newLookupRouter(f)
	f.Fuzz(func(t *testing.T, host string) {
		got, ok := rt.Lookup(host)
		if !ok {
			return
		}
		// A match must be explainable: the host, without port and case,
		// is the app's own host or its domain.
		h := strings.TrimSuffix(strings.ToLower(stripPort(host)), ".")
		if got != "app" || (h != "app.localhost" && h != "www.example.com") {
			t.Fatalf("Lookup(%q) = %q via %q", host, got, h)
		}
	})
}
