package router

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// TestACMEPolicyFollowsRename: after RenameApp the app's custom domains
// stay allowed by autocert's host policy (so their certificates keep being
// served and renewed), Allow is asked with the new name, and with AppHosts
// the new app host is allowed and the old one no longer is.
func TestACMEPolicyFollowsRename(t *testing.T) {
	rt := New(Config{BaseDomain: "apps.test"})
	if err := rt.SetBackends("shop", nil); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDomains("shop", []string{"shop.example.test", "www.shop.example.test"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []string
	a := &ACME{Router: rt, AppHosts: true, Allow: func(app, host string) bool {
		mu.Lock()
		asked = append(asked, app+" "+host)
		mu.Unlock()
		return true
	}}
	policy := func(host string) error { return a.hostPolicy(context.Background(), host) }
	if err := policy("shop.example.test"); err != nil {
		t.Fatalf("before the rename: %v", err)
	}
	if err := rt.RenameApp("shop", "store"); err != nil {
		t.Fatal(err)
	}
	asked = nil
	for _, host := range []string{"shop.example.test", "WWW.shop.example.test:443", "store.apps.test"} {
		if err := policy(host); err != nil {
			t.Errorf("policy(%q) after the rename: %v", host, err)
		}
	}
	if err := policy("shop.apps.test"); !errors.Is(err, ErrACMEHostNotAllowed) {
		t.Errorf("policy(shop.apps.test) after the rename: %v, want ErrACMEHostNotAllowed", err)
	}
	want := []string{"store shop.example.test", "store www.shop.example.test", "store store.apps.test"}
	if !slices.Equal(asked, want) {
		t.Errorf("Allow was asked %q, want %q", asked, want)
	}
}
