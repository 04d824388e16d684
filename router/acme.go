package router

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeChallengePrefix is the HTTP-01 challenge path (RFC 8555 §8.3).
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// ACME obtains, caches and renews certificates over ACME (Let's Encrypt by
// default) for the hosts a [Router] routes: the apps' custom domains and,
// with AppHosts, "<app>.<BaseDomain>". It is built on
// golang.org/x/crypto/acme/autocert. Configuring an ACME accepts the CA's
// terms of service on the operator's behalf.
//
// Set it as [Server.ACME]: the server then answers HTTP-01 challenges on
// its plain-HTTP listener (before routing), TLS-ALPN-01 challenges on its
// TLS listener, and picks certificates with GetCertificate. Embedders
// serving on their own use HTTPHandler and GetCertificate directly (and add
// "acme-tls/1" to their tls.Config's NextProtos for TLS-ALPN-01).
//
// Fields must not change after first use. A zero ACME is inert: it
// issues nothing (GetCertificate fails, HTTPHandler only forwards).
type ACME struct {
	// Router whose domain table decides which hosts may get a certificate.
	// Required.
	Router *Router
	// AppHosts also allows "<app>.<BaseDomain>" hosts; off by default
	// since a base domain is usually served by one wildcard certificate
	// (set in Certs) rather than one certificate per app.
	AppHosts bool
	// Allow, when set, further restricts issuance: it is asked for each
	// host the table routes, with the owning app (for per-app opt-in).
	Allow func(appName, host string) bool

	// Certs holds certificates set explicitly by the platform; they win
	// over ACME for their names. Its Default is served only for names ACME
	// does not cover.
	Certs *CertStore

	// DirectoryURL is the ACME directory; default Let's Encrypt production
	// (autocert.DefaultACMEDirectory).
	DirectoryURL string
	// Email is the account contact (optional; the CA warns of expiry there).
	Email string
	// CacheDir is where the account key and certificates are kept
	// (autocert.DirCache, created 0700) so restarts do not re-issue.
	// Required unless Cache is set.
	CacheDir string
	// Cache replaces the directory cache (e.g. a database-backed one).
	Cache autocert.Cache
	// HTTPClient talks to the ACME server (copied; its Transport is
	// wrapped, not changed); default: one trusting RootCAs when set, else
	// the system roots. A zero Timeout becomes one minute per request.
	HTTPClient *http.Client
	// RootCAs verifies the ACME server's own TLS certificate (a test CA
	// such as Pebble's); ignored when HTTPClient is set.
	RootCAs *x509.CertPool
	// RenewBefore renews certificates this long before expiry; default 30
	// days (autocert's; it also caps it below the certificate's lifetime).
	RenewBefore time.Duration

	once sync.Once
	mgr  *autocert.Manager
	err  error

	failMu sync.Mutex
	fails  map[string]acmeFailure // host -> backoff after failed issuance
}

// acmeFailure is a host's issuance backoff: CAs limit failed validations
// (Let's Encrypt: 5 per host per hour), and without a backoff every
// handshake for a domain whose DNS does not point here would spend one.
type acmeFailure struct {
	until time.Time
	delay time.Duration
	err   error
}

// Issuance backoff after a failure: doubles from the first to the last.
const (
	acmeBackoffFirst = time.Minute
	acmeBackoffMax   = time.Hour
)

// ErrACMEBackoff is returned, wrapping the last error, while a host's
// issuance is held back after a failure.
var ErrACMEBackoff = errors.New("router: ACME: issuance failed recently; retrying later")

// ErrACMEHostNotAllowed is returned when ACME is asked for a host the
// router does not route (or Allow refuses).
var ErrACMEHostNotAllowed = errors.New("router: ACME: host not allowed")

func (a *ACME) init() error {
	a.once.Do(func() {
		if a.Router == nil {
			a.err = errors.New("router: ACME.Router is nil")
			return
		}
		cache := a.Cache
		if cache == nil {
			if a.CacheDir == "" {
				a.err = errors.New("router: ACME: CacheDir (or Cache) is required, so certificates survive restarts")
				return
			}
			cache = autocert.DirCache(a.CacheDir)
		}
		dir := a.DirectoryURL
		if dir == "" {
			dir = autocert.DefaultACMEDirectory
		}
		var hc http.Client
		switch {
		case a.HTTPClient != nil:
			hc = *a.HTTPClient
		case a.RootCAs != nil:
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: a.RootCAs, MinVersion: tls.VersionTLS12}
			hc.Transport = tr
		}
		if hc.Timeout == 0 {
			hc.Timeout = time.Minute
		}
		hc.Transport = &orderLocator{next: hc.Transport, allowed: a.allowed}
		a.mgr = &autocert.Manager{
			Prompt:      autocert.AcceptTOS,
			Cache:       cache,
			HostPolicy:  a.hostPolicy,
			RenewBefore: a.RenewBefore,
			Email:       a.Email,
			Client:      &acme.Client{DirectoryURL: dir, HTTPClient: &hc},
		}
	})
	return a.err
}

// hostPolicy is autocert's HostPolicy: only hosts in the routing table.
func (a *ACME) hostPolicy(_ context.Context, host string) error {
	if !a.allowed(host) {
		return fmt.Errorf("%w: %q", ErrACMEHostNotAllowed, host)
	}
	return nil
}

func (a *ACME) allowed(host string) bool {
	// HTTP-01 requests reach the policy with the Host header, port and all.
	h := strings.TrimSuffix(strings.ToLower(stripPort(host)), ".")
	// Exact names only: a wildcard domain routes any name under it, and
	// letting each such SNI name order a certificate would let anyone
	// spend the CA's rate limits.
	ap := a.Router.domains.get(h)
	if ap == nil && a.AppHosts {
		ap = a.Router.appHost(h)
	}
	if ap == nil {
		return false
	}
	return a.Allow == nil || a.Allow(ap.Name(), h)
}

// GetCertificate is a tls.Config.GetCertificate hook: TLS-ALPN-01
// challenge handshakes get their token certificate; other names get, in
// order, a certificate from Certs, an ACME certificate when the router
// routes the name (issued on first use, which blocks that handshake for
// the time an order takes), Certs.Default, or an error.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if err := a.init(); err != nil {
		return nil, err
	}
	if isALPNChallenge(hello) {
		return a.mgr.GetCertificate(hello)
	}
	if a.Certs != nil {
		if c := a.Certs.lookup(hello.ServerName); c != nil {
			return c, nil
		}
	}
	if a.allowed(hello.ServerName) {
		return a.issue(hello)
	}
	if a.Certs != nil && a.Certs.Default != nil {
		return a.Certs.Default, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoCertificate, hello.ServerName)
}

// issue gets the certificate for an allowed name from autocert (memory,
// cache, or a new order), unless the name is in backoff.
func (a *ACME) issue(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	now := time.Now()
	a.failMu.Lock()
	f, failed := a.fails[host]
	a.failMu.Unlock()
	if failed && now.Before(f.until) {
		return nil, fmt.Errorf("%w (%q, until %s): %w", ErrACMEBackoff, host, f.until.Format(time.RFC3339), f.err)
	}
	c, err := a.mgr.GetCertificate(hello)
	a.failMu.Lock()
	defer a.failMu.Unlock()
	if err == nil {
		delete(a.fails, host)
		return c, nil
	}
	d := acmeBackoffFirst
	if failed {
		d = min(2*f.delay, acmeBackoffMax)
	}
	if a.fails == nil {
		a.fails = map[string]acmeFailure{}
	}
	a.fails[host] = acmeFailure{until: time.Now().Add(d), delay: d, err: err}
	return nil, err
}

// isALPNChallenge reports whether hello is a CA's TLS-ALPN-01 validation
// (RFC 8737 §3: it offers "acme-tls/1" alone).
func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// HTTPHandler answers HTTP-01 challenges for allowed hosts and passes every
// other request to next. Calling it enables HTTP-01 (TLS-ALPN-01 is always
// tried first). Misconfigured or zero ACMEs forward everything to next.
func (a *ACME) HTTPHandler(next http.Handler) http.Handler {
	if a.init() != nil {
		return next
	}
	// autocert redirects to HTTPS without a fallback; the router serves
	// plain HTTP itself, so next is required.
	if next == nil {
		next = http.NotFoundHandler()
	}
	return a.mgr.HTTPHandler(next)
}

// challengeHandler returns the handler for challenge paths only (the
// front end routes everything else itself), or nil when ACME is unusable.
func (a *ACME) challengeHandler() http.Handler {
	if a == nil || a.init() != nil {
		return nil
	}
	return a.mgr.HTTPHandler(http.NotFoundHandler())
}

// orderLocator sits between autocert and the CA. It refuses new orders
// for hosts the router no longer routes: autocert's renewal timers order
// without asking the host policy, so a removed domain would otherwise be
// renewed (and, once its DNS moved away, fail validation) forever.
//
// It also works around x/crypto/acme's finalization (Go issue 77704):
// Client.CreateOrderCert polls a not-yet-valid order at the finalize
// response's Location header, which RFC 8555 does not require (Pebble
// omits it; asynchronous finalization makes it matter). It remembers each
// order's URL from the new-order response (201 with Location, required)
// and adds it to finalize responses that lack one.
type orderLocator struct {
	next    http.RoundTripper // nil: http.DefaultTransport
	allowed func(host string) bool

	mu     sync.Mutex
	orders map[string]string // finalize URL -> order URL
}

// maxTrackedOrders bounds orderLocator's memory; orders are finalized
// within seconds of creation, so forgetting old ones is harmless.
const maxTrackedOrders = 1024

func (o *orderLocator) RoundTrip(req *http.Request) (*http.Response, error) {
	next := o.next
	if next == nil {
		next = http.DefaultTransport
	}
	if req.Method == http.MethodPost && req.Body != nil && o.allowed != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, id := range orderIdentifiers(body) {
			if !o.allowed(id) {
				return nil, fmt.Errorf("%w: refusing to order a certificate for %q", ErrACMEHostNotAllowed, id)
			}
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost {
		return resp, err
	}
	loc := resp.Header.Get("Location")
	switch {
	case resp.StatusCode == http.StatusCreated && loc != "":
		// Maybe a new order: read its finalize URL, then hand the body on.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr != nil {
			return resp, nil // the client sees the truncated body and fails
		}
		var v struct {
			Finalize string `json:"finalize"`
		}
		if json.Unmarshal(body, &v) == nil && v.Finalize != "" {
			o.mu.Lock()
			if o.orders == nil || len(o.orders) >= maxTrackedOrders {
				o.orders = map[string]string{}
			}
			o.orders[v.Finalize] = loc
			o.mu.Unlock()
		}
	case resp.StatusCode == http.StatusOK && loc == "":
		o.mu.Lock()
		order := o.orders[req.URL.String()]
		o.mu.Unlock()
		if order != "" {
			resp.Header.Set("Location", order)
		}
	}
	return resp, nil
}

// orderIdentifiers returns the DNS names a JWS-signed ACME request asks an
// order for (RFC 8555 §7.4), or nil for any other request.
func orderIdentifiers(jws []byte) []string {
	var env struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(jws, &env) != nil || env.Payload == "" {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil
	}
	var p struct {
		Identifiers []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifiers"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil
	}
	var names []string
	for _, id := range p.Identifiers {
		names = append(names, id.Value)
	}
	return names
}
