package router

import (
	"errors"
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
	{"nosuch.localhost", ""},
	{"other.localhost", "other"},
	{"x.app.localhost", ""},
	{"localhost", ""},
	{".localhost", ""},
	{"[::1]:80", ""},
	{"", ""},
	// Wildcards: any depth under the covered name, the closest wins, and
	// exact domains win over both.
	{"a.shop.example", "app"},
	{"A.B.Shop.Example:80", "app"},
	{"shop.example", ""},
	{"www.shop.example", "other"},
	{"x.www.shop.example", "app"},
	{"eu.shop.example", "app"},
	{"de.eu.shop.example", "other"},
	{"a.de.eu.shop.example.", "other"},
	{"ashop.example", ""},
	{".shop.example", "app"},
}

func newLookupRouter(t testing.TB) *Router {
	rt := New(Config{})
	if err := rt.SetBackends("app", nil); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDomains("app", []string{"www.example.com", "*.shop.example"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDomains("other", []string{"www.shop.example", "*.eu.shop.example"}); err != nil {
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
		// is the app's own host, its domain, or under its wildcard and no
		// closer one.
		h := strings.TrimSuffix(strings.ToLower(stripPort(host)), ".")
		want := ""
		switch {
		case h == "app.localhost" || h == "www.example.com":
			want = "app"
		case h == "other.localhost" || h == "www.shop.example" || strings.HasSuffix(h, ".eu.shop.example"):
			want = "other"
		case strings.HasSuffix(h, ".shop.example"):
			want = "app"
		}
		if got != want {
			t.Fatalf("Lookup(%q) = %q via %q, want %q", host, got, h, want)
		}
	})
}

func TestSetDomainsWildcards(t *testing.T) {
	rt := New(Config{BaseDomain: "apps.example.com"})
	for _, tc := range []struct {
		app     string
		domains []string
		err     error  // nil: accepted
		msg     string // in the error
	}{
		{"a", []string{"*.shop.test"}, nil, ""},
		{"b", []string{"*.shop.test"}, ErrDomainTaken, `owned by "a"`},
		{"b", []string{"shop.test", "www.shop.test", "*.eu.shop.test"}, nil, ""},
		{"c", []string{"*.example.com"}, ErrReservedDomain, "covers the base domain"},
		{"c", []string{"*.com"}, nil, "two or more labels"},
		{"c", []string{"*.apps.example.com"}, ErrReservedDomain, ""},
		{"c", []string{"*.x.apps.example.com"}, ErrReservedDomain, ""},
		{"c", []string{"a.*.shop.test"}, nil, "invalid character '*'"},
		{"c", []string{"**.shop.test"}, nil, "invalid character '*'"},
		{"c", []string{"*"}, nil, "invalid character '*'"},
		{"c", []string{"example.com"}, nil, ""}, // exact names above the base are fine
	} {
		err := rt.SetDomains(tc.app, tc.domains)
		switch {
		case tc.err == nil && tc.msg == "" && err != nil:
			t.Errorf("SetDomains(%s, %q): %v", tc.app, tc.domains, err)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("SetDomains(%s, %q): %v, want %v", tc.app, tc.domains, err, tc.err)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("SetDomains(%s, %q): %v, want an error with %q", tc.app, tc.domains, err, tc.msg)
		}
	}
	for host, want := range map[string]string{
		"www.shop.test":           "b",
		"x.shop.test":             "a",
		"x.eu.shop.test":          "b",
		"shop.test":               "b",
		"a.apps.example.com":      "a",
		"nosuch.apps.example.com": "",
		"a.b.apps.example.com":    "",
		"example.com":             "c",
	} {
		if got, _ := rt.Lookup(host); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", host, got, want)
		}
	}
	// Dropping and removing release wildcards, and the count that lets
	// lookups skip the walk follows.
	if err := rt.SetDomains("b", []string{"www.shop.test"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.Lookup("x.eu.shop.test"); got != "a" {
		t.Errorf("after b dropped its wildcard: x.eu.shop.test routes to %q, want a", got)
	}
	if n := rt.wildcardCount.Load(); n != 1 {
		t.Errorf("wildcardCount = %d, want 1", n)
	}
	rt.RemoveApp("a")
	if got, ok := rt.Lookup("x.shop.test"); ok {
		t.Errorf("after RemoveApp(a): x.shop.test routes to %q", got)
	}
	if n := rt.wildcardCount.Load(); n != 0 {
		t.Errorf("wildcardCount = %d, want 0", n)
	}
	if err := rt.SetDomains("b", []string{"*.shop.test"}); err != nil {
		t.Errorf("wildcard released by RemoveApp: %v", err)
	}
}
