package router_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/dynokit/dynokit/internal/pebbletest"
	"github.com/dynokit/dynokit/router"
)

// TestACMEHostPolicy checks, without a CA, which names ACME would try to
// issue for and the order in which certificates are picked.
func TestACMEHostPolicy(t *testing.T) {
	rt := router.New(router.Config{BaseDomain: "apps.test"})
	mustSet(t, rt, "shop", "127.0.0.1:1")
	if err := rt.SetDomains("shop", []string{"shop.example.test"}); err != nil {
		t.Fatal(err)
	}
	explicit, _ := selfSigned(t, "pinned.example.test")
	fallback, _ := selfSigned(t, "fallback.test")
	certs := &router.CertStore{Default: fallback}
	if err := rt.SetDomains("pinned", []string{"pinned.example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := certs.Set("pinned.example.test", explicit); err != nil {
		t.Fatal(err)
	}
	// A CA that always fails: an ACME attempt shows up as a request here
	// and an error that is neither a policy refusal nor "no certificate".
	var caHits atomic.Int64
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caHits.Add(1)
		http.Error(w, "no such CA", http.StatusNotFound)
	}))
	defer ca.Close()
	caRoots := x509.NewCertPool()
	caRoots.AddCert(ca.Certificate())
	// RootCAs (not HTTPClient): the CA is reached only if it is honoured.
	a := &router.ACME{Router: rt, Cache: memCache{}, Certs: certs, DirectoryURL: ca.URL + "/dir", RootCAs: caRoots}
	get := func(name string) (*tls.Certificate, error) {
		return a.GetCertificate(&tls.ClientHelloInfo{ServerName: name, SupportedProtos: []string{"h2"}})
	}
	if c, err := get("pinned.example.test"); err != nil || c != explicit {
		t.Errorf("explicit certificate: got %v, %v; want the CertStore's", c, err)
	}
	if c, err := get("stranger.example.test"); err != nil || c != fallback {
		t.Errorf("unrouted name: got %v, %v; want CertStore.Default", c, err)
	}
	if c, err := get("shop.apps.test"); err != nil || c != fallback {
		t.Errorf("app host with AppHosts off: got %v, %v; want CertStore.Default", c, err)
	}
	if n := caHits.Load(); n != 0 {
		t.Errorf("CA contacted %d times for names ACME must not handle", n)
	}
	if _, err := get("shop.example.test"); err == nil || errors.Is(err, router.ErrACMEBackoff) || errors.Is(err, router.ErrNoCertificate) {
		t.Errorf("custom domain: got %v; want a CA error", err)
	}
	hits := caHits.Load()
	if hits == 0 {
		t.Error("custom domain: the CA was not contacted")
	}
	// The failure holds the host back instead of costing the CA (and its
	// failed-validation limit) one attempt per handshake.
	if _, err := get("shop.example.test"); !errors.Is(err, router.ErrACMEBackoff) {
		t.Errorf("custom domain right after a failure: got %v; want ErrACMEBackoff", err)
	}
	if n := caHits.Load(); n != hits {
		t.Errorf("CA contacted again during backoff (%d -> %d requests)", hits, n)
	}
	certs.Default = nil
	if _, err := get("stranger.example.test"); !errors.Is(err, router.ErrNoCertificate) {
		t.Errorf("unrouted name without default: got %v; want ErrNoCertificate", err)
	}

	// AppHosts widens the policy to "<app>.<BaseDomain>"; Allow narrows it.
	wide := &router.ACME{Router: rt, Cache: memCache{}, DirectoryURL: ca.URL + "/dir", RootCAs: caRoots, AppHosts: true,
		Allow: func(app, host string) bool { return app != "pinned" }}
	hello := func(name string) *tls.ClientHelloInfo { return &tls.ClientHelloInfo{ServerName: name} }
	if _, err := wide.GetCertificate(hello("shop.apps.test")); err == nil || errors.Is(err, router.ErrNoCertificate) {
		t.Errorf("app host with AppHosts: got %v; want a CA error", err)
	}
	if _, err := wide.GetCertificate(hello("pinned.example.test")); !errors.Is(err, router.ErrNoCertificate) {
		t.Errorf("host Allow refuses: got %v; want ErrNoCertificate", err)
	}
	if _, err := wide.GetCertificate(hello("other.apps.test")); !errors.Is(err, router.ErrNoCertificate) {
		t.Errorf("unknown app host: got %v; want ErrNoCertificate", err)
	}

	var zero router.ACME
	if _, err := zero.GetCertificate(&tls.ClientHelloInfo{ServerName: "shop.example.test"}); err == nil {
		t.Error("zero ACME issued a certificate")
	}
	called := false
	h := zero.HTTPHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	h.ServeHTTP(nil, &http.Request{Host: "x"})
	if !called {
		t.Error("zero ACME's HTTPHandler did not forward")
	}
	if err := (&router.Server{Router: rt, ACME: &router.ACME{Router: rt}}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "CacheDir") {
		t.Errorf("Run with ACME but no cache: %v; want a CacheDir error", err)
	}
}

// memCache is an autocert.Cache that keeps nothing.
type memCache struct{}

func (memCache) Get(context.Context, string) ([]byte, error) { return nil, autocert.ErrCacheMiss }
func (memCache) Put(context.Context, string, []byte) error   { return nil }
func (memCache) Delete(context.Context, string) error        { return nil }

// acmeRouter runs a Server with ACME (and getCert, when not nil) for rt on
// the given listeners.
func acmeRouter(t *testing.T, rt *router.Router, a *router.ACME, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), ln, tln net.Listener) {
	t.Helper()
	srv := &router.Server{GetCertificate: getCert, Router: rt, ACME: a, Listener: ln, TLSListener: tln, NetHTTP: netHTTP(t), ShutdownTimeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// httpsGet requests https://host/ from the router's TLS address, trusting
// only roots, over a fresh connection (so each call is a new handshake).
func httpsGet(t *testing.T, tlsAddr, host string, roots *x509.CertPool) (string, *x509.Certificate, error) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, tlsAddr)
		},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	resp, err := c.Get("https://" + host + "/")
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	return resp.Proto + " " + string(b), resp.TLS.PeerCertificates[0], nil
}

// TestACMEPebbleTLSALPN gets a certificate from a real Pebble for an app's
// custom domain through the router over TLS-ALPN-01 (Pebble's HTTP-01 port
// leads nowhere, so no other challenge can succeed), reuses it from memory
// and, after a "restart", from the disk cache, refuses names the router does
// not route, and prefers a certificate the platform set explicitly.
func TestACMEPebbleTLSALPN(t *testing.T) {
	p := pebbletest.New(t)
	ln, _ := listen(t)
	tln, tlsPort := listen(t)
	dead, deadPort := listen(t)
	dead.Close()
	p.Start(t, deadPort, tlsPort)

	rt := router.New(router.Config{})
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from app at "+r.Host) })
	mustSet(t, rt, "app", addr)
	if err := rt.SetDomains("app", []string{"app.example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDomains("pinned", []string{"pinned.example.test"}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, rt, "pinned", addr)
	pinned, pinnedLeaf := selfSigned(t, "pinned.example.test")
	certs := &router.CertStore{}
	if err := certs.Set("pinned.example.test", pinned); err != nil {
		t.Fatal(err)
	}
	roots := p.Roots.Clone()
	roots.AddCert(pinnedLeaf)

	cacheDir := filepath.Join(t.TempDir(), "acme")
	newACME := func() *router.ACME {
		return &router.ACME{Router: rt, DirectoryURL: p.DirURL, HTTPClient: p.Client, CacheDir: cacheDir, Email: "ops@example.com"}
	}
	// First server: explicit certificates through Server.GetCertificate,
	// ACME behind it.
	acmeRouter(t, rt, newACME(), certs.GetCertificate, ln, tln)
	tlsAddr := tln.Addr().String()

	body, leaf, err := httpsGet(t, tlsAddr, "app.example.test", p.Roots)
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	if body != "HTTP/2.0 hello from app at app.example.test" {
		t.Errorf("first request: got %q", body)
	}
	if err := leaf.VerifyHostname("app.example.test"); err != nil {
		t.Errorf("issued certificate: %v", err)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("orders after first request: %d, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "app.example.test")); err != nil {
		t.Errorf("certificate not cached on disk: %v", err)
	}

	_, leaf2, err := httpsGet(t, tlsAddr, "app.example.test", p.Roots)
	if err != nil {
		t.Fatalf("second request: %v", err)
	}
	if !leaf2.Equal(leaf) {
		t.Error("second request got a different certificate")
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("orders after second request: %d, want 1 (cached certificate)", n)
	}

	// A routed name that Pebble cannot resolve to us would still order; an
	// unrouted one must not even reach the CA.
	if _, _, err := httpsGet(t, tlsAddr, "stranger.example.test", p.Roots); err == nil {
		t.Error("unrouted host got a TLS certificate")
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("orders after unrouted host: %d, want 1", n)
	}

	// A fresh Server and ACME (a restart) on the same cache directory
	// serve the cached certificate without a new order; explicit
	// certificates now come through ACME.Certs.
	ln2, _ := listen(t)
	tln2, _ := listen(t)
	a2 := newACME()
	a2.Certs = certs
	acmeRouter(t, rt, a2, nil, ln2, tln2)
	tlsAddr2 := tln2.Addr().String()
	_, leaf3, err := httpsGet(t, tlsAddr2, "app.example.test", p.Roots)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !leaf3.Equal(leaf) {
		t.Error("after restart: a different certificate, want the cached one")
	}

	// The explicit certificate wins over ACME for its name, on both
	// servers, and no order is placed for it.
	for _, a := range []string{tlsAddr, tlsAddr2} {
		body, got, err := httpsGet(t, a, "pinned.example.test", roots)
		if err != nil {
			t.Fatalf("pinned host: %v", err)
		}
		if !got.Equal(pinnedLeaf) || body != "HTTP/2.0 hello from app at pinned.example.test" {
			t.Errorf("pinned host: got %q with certificate %v, want the explicit one", body, got.Subject)
		}
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("orders at the end: %d, want 1", n)
	}
}

// TestACMEPebbleHTTP01 makes TLS-ALPN-01 fail (Pebble's tlsPort leads to a
// listener that hangs up), so the certificate can only come through
// HTTP-01 answered on the router's plain listener, for both front ends.
func TestACMEPebbleHTTP01(t *testing.T) {
	pebbletest.Binary(t)
	forEachFront(t, func(t *testing.T) {
		plainOnly(t)
		p := pebbletest.New(t)
		ln, httpPort := listen(t)
		tln, _ := listen(t)
		dead, deadPort := listen(t)
		var deadHits atomic.Int64
		go func() {
			for {
				c, err := dead.Accept()
				if err != nil {
					return
				}
				deadHits.Add(1)
				c.Close()
			}
		}()
		t.Cleanup(func() { dead.Close() })
		p.Start(t, httpPort, deadPort)

		rt := router.New(router.Config{})
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain app") })
		mustSet(t, rt, "web", addr)
		if err := rt.SetDomains("web", []string{"www.example.test"}); err != nil {
			t.Fatal(err)
		}
		a := &router.ACME{Router: rt, DirectoryURL: p.DirURL, HTTPClient: p.Client, CacheDir: t.TempDir()}
		acmeRouter(t, rt, a, nil, ln, tln)

		// The challenge path is the router's, not the app's: an unknown
		// token is refused for a routed host and an unrouted host alike.
		for host, want := range map[string]int{"www.example.test": http.StatusNotFound, "stranger.example.test": http.StatusForbidden} {
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/.well-known/acme-challenge/nope", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("challenge path for %s: %s, want %d", host, resp.Status, want)
			}
		}

		body, leaf, err := httpsGet(t, tln.Addr().String(), "www.example.test", p.Roots)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		if body != "HTTP/2.0 plain app" {
			t.Errorf("got %q", body)
		}
		if err := leaf.VerifyHostname("www.example.test"); err != nil {
			t.Error(err)
		}
		if deadHits.Load() == 0 {
			t.Error("Pebble never tried TLS-ALPN-01; HTTP-01 was not what got the certificate")
		}
		// One order failed on TLS-ALPN-01, the next succeeded on HTTP-01.
		if n := p.Orders(); n != 2 {
			t.Errorf("orders: %d, want 2", n)
		}
	})
}
