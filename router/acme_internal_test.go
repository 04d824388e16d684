package router

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestACMERefusesOrdersForUnroutedHosts checks the guard in front of the
// CA: autocert's renewals order without consulting the host policy, so
// the transport must refuse a new order for a domain the router dropped.
func TestACMERefusesOrdersForUnroutedHosts(t *testing.T) {
	rt := New(Config{})
	if err := rt.SetDomains("app", []string{"kept.example.test", "dropped.example.test"}); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer ca.Close()
	a := &ACME{Router: rt, DirectoryURL: ca.URL, CacheDir: t.TempDir()}
	if err := a.init(); err != nil {
		t.Fatal(err)
	}
	tr := a.mgr.Client.HTTPClient.Transport
	if err := rt.SetDomains("app", []string{"kept.example.test"}); err != nil {
		t.Fatal(err)
	}
	order := func(host string) error {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"identifiers":[{"type":"dns","value":"` + host + `"}]}`))
		body := []byte(`{"protected":"e30","payload":"` + payload + `","signature":"c2ln"}`)
		req, _ := http.NewRequest("POST", ca.URL+"/new-order", bytes.NewReader(body))
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := order("dropped.example.test"); !errors.Is(err, ErrACMEHostNotAllowed) {
		t.Errorf("order for a dropped domain: %v; want ErrACMEHostNotAllowed", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("CA received %d requests for a dropped domain", n)
	}
	if err := order("kept.example.test"); err != nil {
		t.Errorf("order for a routed domain: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("CA received %d requests for a routed domain, want 1", n)
	}
}

// TestACMEIgnoresWildcardDomains checks that a wildcard domain, which routes
// every name under it, lets no such name order a certificate: any client
// could otherwise spend the CA's limits one made-up SNI name at a time.
func TestACMEIgnoresWildcardDomains(t *testing.T) {
	rt := New(Config{})
	if err := rt.SetDomains("app", []string{"*.example.test", "www.example.test"}); err != nil {
		t.Fatal(err)
	}
	a := &ACME{Router: rt, AppHosts: true}
	for host, want := range map[string]bool{
		"www.example.test": true,
		"app.localhost":    true,
		"x.example.test":   false,
		"*.example.test":   false,
		"a.b.example.test": false,
		"other.localhost":  false,
	} {
		if got := a.allowed(host); got != want {
			t.Errorf("allowed(%q) = %v, want %v", host, got, want)
		}
	}
	if got, _ := rt.Lookup("x.example.test"); got != "app" {
		t.Errorf("x.example.test routes to %q, want app", got)
	}
}
