package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/dynokit/dynokit/router"
	"golang.org/x/crypto/acme/autocert"
)

// Automated Certificate Management (heroku certs:auto): with -https-addr
// and -acme-directory, the router serves HTTPS and gets a certificate over
// ACME for each custom domain (heroku domains:add) of every app that
// turned ACM on (heroku certs:auto:enable). Which names may get one is the
// router's domain table narrowed by the per-app switch (router.ACME.Allow);
// the certificates and the ACME account key are cached in
// <data-dir>/acme, so a restart serves them without new orders.

// ACM statuses of a custom domain, as the Platform API spells them (the
// CLI's certs:auto and certs:auto --wait compare these strings).
const (
	acmIssued  = "cert issued"
	acmPending = "pending"
	acmFailing = "failing"
)

// acmShutdownWait bounds how long stopping waits for orders in flight
// (autocert gives an order up to five minutes and cannot be cancelled).
const acmShutdownWait = 15 * time.Second

// acmService is the per-app ACM switch, the issuance it starts ahead of the
// first handshake, and the domains' status.
type acmService struct {
	p    *platform.Platform
	acme *router.ACME
	// cache is the ACME cache (<data-dir>/acme: the account key, and a
	// key and chain per name), sealed when minipaas has config keys.
	cache autocert.Cache
	log   *slog.Logger

	mu       sync.Mutex
	enabled  map[string]bool       // app ID -> ACM on
	attempts map[string]acmAttempt // host -> the last issuance started here
	closed   bool
	wg       sync.WaitGroup
}

// acmAttempt is an issuance this service started (handshakes start their
// own in the router; their outcome shows through the cache).
type acmAttempt struct {
	running bool
	err     error
}

type acmRecord struct {
	App       string    `json:"app"` // name when enabled, for people reading the store
	EnabledAt time.Time `json:"enabled_at"`
}

// loadCAFile reads PEM certificates to trust for the ACME server's own
// TLS (nil: the system roots).
func loadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-acme-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("-acme-ca-file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// newACM returns the ACM service for p, its router.ACME ready for the
// router's Server, with the switches read back from the store (records of
// apps that no longer exist are dropped).
func newACM(ctx context.Context, p *platform.Platform, dataDir, directory, email string, roots *x509.CertPool, box *sealed.Box, log *slog.Logger) (*acmService, error) {
	s := &acmService{
		p:        p,
		cache:    autocert.DirCache(filepath.Join(dataDir, "acme")),
		log:      log,
		enabled:  map[string]bool{},
		attempts: map[string]acmAttempt{},
	}
	if box != nil {
		s.cache = sealedCache{s.cache, box}
	}
	s.acme = &router.ACME{
		Router:       p.Router(),
		Allow:        s.allow,
		DirectoryURL: directory,
		Email:        email,
		Cache:        s.cache,
		RootCAs:      roots,
	}
	recs, err := p.Records(ctx, platform.ACMRecords)
	if err != nil {
		return nil, fmt.Errorf("acm: %w", err)
	}
	apps, err := p.Apps(ctx)
	if err != nil {
		return nil, fmt.Errorf("acm: %w", err)
	}
	live := map[string]bool{}
	for _, a := range apps {
		live[a.ID] = true
	}
	for id := range recs {
		if live[id] {
			s.enabled[id] = true
			continue
		}
		if err := p.DeleteRecord(ctx, platform.ACMRecords, id); err != nil {
			log.Warn("minipaas: drop the ACM record of a destroyed app", "app_id", id, "err", err)
		}
	}
	return s, nil
}

// allow is router.ACME.Allow: only apps with ACM on get certificates. The
// router has already checked that host is one of appName's domains.
func (s *acmService) allow(appName, _ string) bool {
	app, err := s.p.App(context.Background(), appName)
	return err == nil && s.enabledFor(app.ID)
}

// enabledFor reports whether the app has ACM on; a nil service (no
// -acme-directory) has it off everywhere.
func (s *acmService) enabledFor(appID string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled[appID]
}

// start orders (or loads from the cache) the certificates of every app
// with ACM on, so they are ready before the first visitor.
func (s *acmService) start(ctx context.Context) {
	apps, err := s.p.Apps(ctx)
	if err != nil {
		s.log.Warn("minipaas: ACM: list apps", "err", err)
		return
	}
	for _, a := range apps {
		if s.enabledFor(a.ID) {
			s.issueAll(a, false)
		}
	}
}

// close stops starting issuances and waits, for a bounded time, for those
// in flight.
func (s *acmService) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(acmShutdownWait):
		s.log.Warn("minipaas: ACM: stopping with certificate orders still in flight")
	}
}

// setEnabled turns ACM on or off for app and records it.
func (s *acmService) setEnabled(ctx context.Context, app platform.App, on bool) error {
	if on {
		b, err := json.Marshal(acmRecord{App: app.Name, EnabledAt: time.Now().UTC()})
		if err != nil {
			return err
		}
		if err := s.p.PutRecord(ctx, platform.ACMRecords, app.ID, b); err != nil {
			return err
		}
	} else if err := s.p.DeleteRecord(ctx, platform.ACMRecords, app.ID); err != nil {
		return err
	}
	s.mu.Lock()
	if on {
		s.enabled[app.ID] = true
	} else {
		delete(s.enabled, app.ID)
	}
	s.mu.Unlock()
	return nil
}

// issueAll starts issuance for app's custom domains (only those without a
// valid certificate when onlyMissing).
func (s *acmService) issueAll(app platform.App, onlyMissing bool) {
	for _, d := range app.Domains {
		if isWildcard(d) || onlyMissing && s.cached(d) != nil {
			continue
		}
		s.issue(d)
	}
}

// domainAdded starts issuance for a new custom domain of an app with ACM
// on.
func (s *acmService) domainAdded(app platform.App, host string) {
	if s.enabledFor(app.ID) && !isWildcard(host) {
		s.issue(host)
	}
}

// isWildcard tells a wildcard domain ("*.example.com"). ACME issues
// wildcard certificates over DNS-01 only, which minipaas cannot answer
// (and Heroku's ACM does not cover them either): such domains need an
// uploaded certificate.
func isWildcard(host string) bool { return strings.HasPrefix(host, "*.") }

// acmWildcardReason is the acm_status_reason of a wildcard domain.
const acmWildcardReason = "ACM does not issue certificates for wildcard domains: upload one with heroku certs:add"

// issue gets host's certificate in the background, as the first handshake
// would: from memory, the cache, or a new order. One at a time per host.
func (s *acmService) issue(host string) {
	s.mu.Lock()
	if s.closed || s.attempts[host].running {
		s.mu.Unlock()
		return
	}
	s.attempts[host] = acmAttempt{running: true}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		_, err := s.acme.GetCertificate(ecdsaHello(host))
		if err != nil {
			s.log.Warn("minipaas: ACM: no certificate", "host", host, "err", err)
		} else {
			s.log.Info("minipaas: ACM: certificate ready", "host", host)
		}
		s.mu.Lock()
		s.attempts[host] = acmAttempt{err: err}
		s.mu.Unlock()
	}()
}

// ecdsaHello is a ClientHello as a current client sends it, as far as
// autocert looks: it picks an ECDSA certificate (an empty hello would get
// the RSA one kept for old clients, and the first real handshake a second
// order).
func ecdsaHello(host string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:       host,
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:  []tls.CurveID{tls.CurveP256},
	}
}

// sealedCache seals what autocert stores (private keys with their
// chains, the account key) with the config keys; entries written before a
// key file was given are plaintext and read as they are.
type sealedCache struct {
	autocert.Cache
	box *sealed.Box
}

func acmeLabel(name string) string { return "acme/" + name }

func (c sealedCache) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := c.Cache.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.box.Open(acmeLabel(name), string(b))
}

func (c sealedCache) Put(ctx context.Context, name string, data []byte) error {
	return c.Cache.Put(ctx, name, []byte(c.box.Seal(acmeLabel(name), data)))
}

// cachedCert is a certificate found in the ACME cache.
type cachedCert struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
	chain         []byte // PEM, leaf first
}

// publiclyTrusted reports whether c chains to the system's roots (Let's
// Encrypt does; a test CA does not).
func (c *cachedCert) publiclyTrusted() bool {
	pool := x509.NewCertPool()
	for _, ic := range c.intermediates {
		pool.AddCert(ic)
	}
	_, err := c.leaf.Verify(x509.VerifyOptions{Intermediates: pool})
	return err == nil
}

// cached returns host's valid certificate from the ACME cache, or nil. The
// cache layout (one PEM file per name: key, then chain; "+rsa" for the RSA
// one) is the router's documented one.
func (s *acmService) cached(host string) *cachedCert {
	for _, name := range []string{host, host + "+rsa"} {
		b, err := s.cache.Get(context.Background(), name)
		if err != nil {
			continue
		}
		var c cachedCert
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			cert, perr := x509.ParseCertificate(blk.Bytes)
			if perr != nil {
				break
			}
			if c.leaf == nil {
				c.leaf = cert
			} else {
				c.intermediates = append(c.intermediates, cert)
			}
			c.chain = append(c.chain, pem.EncodeToMemory(blk)...)
		}
		if c.leaf != nil && time.Now().Before(c.leaf.NotAfter) && c.leaf.VerifyHostname(host) == nil {
			return &c
		}
	}
	return nil
}

// domainStatus is the acm_status and acm_status_reason of a custom domain
// (both null when the app has ACM off).
func (s *acmService) domainStatus(app platform.App, host string) (status, reason *string) {
	if !s.enabledFor(app.ID) {
		return nil, nil
	}
	if isWildcard(host) {
		st, r := acmFailing, acmWildcardReason
		return &st, &r
	}
	st := acmPending
	if s.cached(host) != nil {
		st = acmIssued
	} else {
		s.mu.Lock()
		at := s.attempts[host]
		s.mu.Unlock()
		if !at.running && at.err != nil {
			st = acmFailing
			r := strings.TrimPrefix(at.err.Error(), "router: ")
			reason = &r
		}
	}
	return &st, reason
}

// sniEndpointJSON is the Platform API's sni-endpoint, as the CLI reads it.
type sniEndpointJSON struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	DisplayName      *string     `json:"display_name"`
	CertificateChain string      `json:"certificate_chain"`
	App              ref         `json:"app"`
	Domains          []string    `json:"domains"`
	SSLCert          sslCertJSON `json:"ssl_cert"`
	CreatedAt        string      `json:"created_at"`
	UpdatedAt        string      `json:"updated_at"`
}

type sslCertJSON struct {
	ID          string   `json:"id"`
	ACM         bool     `json:"acm"`
	CASigned    bool     `json:"ca_signed?"`
	SelfSigned  bool     `json:"self_signed?"`
	CertDomains []string `json:"cert_domains"`
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	StartsAt    string   `json:"starts_at"`
	ExpiresAt   string   `json:"expires_at"`
}

// sniEndpoints lists the app's ACM certificates as one endpoint, as Heroku
// shows its one ACM certificate per app (the CLI prints certificate
// details only then, and domains:add asks which endpoint to use when there
// are several). minipaas has one certificate per domain: the endpoint
// names them all, starts at the latest start, expires at the earliest
// expiry, and its chain is theirs in a row.
func (s *acmService) sniEndpoints(app platform.App) []sniEndpointJSON {
	out := []sniEndpointJSON{}
	if !s.enabledFor(app.ID) {
		return out
	}
	e := sniEndpointJSON{SSLCert: sslCertJSON{CASigned: true}}
	var chain strings.Builder
	var starts, expires time.Time
	for _, d := range slices.Sorted(slices.Values(app.Domains)) {
		c := s.cached(d)
		if c == nil {
			continue
		}
		if e.SSLCert.Subject == "" {
			e.SSLCert.Subject = dnString(c.leaf.Subject)
			e.SSLCert.Issuer = dnString(c.leaf.Issuer)
		}
		e.SSLCert.CASigned = e.SSLCert.CASigned && c.publiclyTrusted()
		e.SSLCert.CertDomains = append(e.SSLCert.CertDomains, d)
		e.Domains = append(e.Domains, nameUUID("domain", app.ID, d))
		chain.Write(c.chain)
		if c.leaf.NotBefore.After(starts) {
			starts = c.leaf.NotBefore
		}
		if expires.IsZero() || c.leaf.NotAfter.Before(expires) {
			expires = c.leaf.NotAfter
		}
	}
	if len(e.Domains) == 0 {
		return out
	}
	sum := sha256.Sum256([]byte(chain.String()))
	e.ID = nameUUID("sni-endpoint", app.ID, string(sum[:]))
	e.Name = app.Name + "-acm"
	e.CertificateChain = chain.String()
	e.App = ref{ID: app.ID, Name: app.Name}
	e.SSLCert.ID = nameUUID("ssl-cert", e.ID)
	e.SSLCert.ACM = true
	e.SSLCert.StartsAt = rfc3339(starts)
	e.SSLCert.ExpiresAt = rfc3339(expires)
	e.CreatedAt, e.UpdatedAt = rfc3339(starts), rfc3339(starts)
	return append(out, e)
}

// dnString writes a name as Heroku shows issuers and subjects
// ("/C=US/O=Let's Encrypt/CN=R3").
func dnString(n pkix.Name) string {
	var b strings.Builder
	add := func(k string, vs []string) {
		for _, v := range vs {
			b.WriteString("/" + k + "=" + v)
		}
	}
	add("C", n.Country)
	add("O", n.Organization)
	add("OU", n.OrganizationalUnit)
	if n.CommonName != "" {
		add("CN", []string{n.CommonName})
	}
	return b.String()
}

// acmRoutes adds heroku certs:auto's endpoints and sni-endpoints.
func (a *api) acmRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /apps/{app}/acm", a.enableACM)
	h("DELETE /apps/{app}/acm", a.disableACM)
	h("PATCH /apps/{app}/acm", a.refreshACM)
	h("GET /apps/{app}/sni-endpoints", a.listSNIEndpoints)
}

// errNoACM answers ACM requests when minipaas runs without ACME.
func errNoACM() error {
	return platformapi.Errorf(http.StatusUnprocessableEntity, "acm_not_available",
		"Automatic Certificate Management needs minipaas started with -https-addr and -acme-directory.")
}

// enableACM answers POST /apps/{app}/acm (certs:auto:enable): it turns ACM
// on and starts ordering the certificates of the app's custom domains.
func (a *api) enableACM(w http.ResponseWriter, r *http.Request) error {
	if a.acm == nil {
		return errNoACM()
	}
	app, err := a.app(r)
	if err != nil {
		return err
	}
	if err := a.setACM(r.Context(), app, true); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
	return nil
}

// setACM turns ACM on for app, starting the orders of its custom domains'
// certificates, or off: the core of POST and DELETE /apps/{app}/acm, which
// the dashboard shares. Its errors are API errors.
func (a *api) setACM(ctx context.Context, app platform.App, on bool) error {
	if a.acm == nil {
		return errNoACM()
	}
	if err := a.acm.setEnabled(ctx, app, on); err != nil {
		return apiError(err)
	}
	if on {
		a.acm.issueAll(app, false)
	}
	return nil
}

// disableACM answers DELETE /apps/{app}/acm (certs:auto:disable): its
// domains stop being served over HTTPS at once (their cached certificates
// stay, and serve again if ACM is turned back on). Without ACME, ACM is
// off already: the answer is the app, as when it was turned off.
func (a *api) disableACM(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	if a.acm == nil { // never on: already off
		platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
		return nil
	}
	if err := a.setACM(r.Context(), app, false); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
	return nil
}

// refreshACM answers PATCH /apps/{app}/acm {"acm_refresh": true}
// (certs:auto:refresh): it retries the domains without a certificate. A
// domain whose order failed recently stays held back by the router (one
// minute, doubling up to an hour); its status says so.
func (a *api) refreshACM(w http.ResponseWriter, r *http.Request) error {
	if a.acm == nil {
		return errNoACM()
	}
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Refresh bool `json:"acm_refresh"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Refresh {
		err = a.refreshACMOf(app)
	} else if !a.acm.enabledFor(app.ID) {
		err = errACMOff(app)
	}
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
	return nil
}

// refreshACMOf is certs:auto:refresh: the domains without a certificate
// are ordered again.
func (a *api) refreshACMOf(app platform.App) error {
	if a.acm == nil {
		return errNoACM()
	}
	if !a.acm.enabledFor(app.ID) {
		return errACMOff(app)
	}
	a.acm.issueAll(app, true)
	return nil
}

func errACMOff(app platform.App) error {
	return platformapi.InvalidParams("Automatic Certificate Management is not enabled on %s", app.Name)
}

// listSNIEndpoints answers GET /apps/{app}/sni-endpoints (heroku certs,
// certs:auto, and domains:add, which asks which endpoint to use when there
// are several): the app's uploaded certificates and ACM ones.
func (a *api) listSNIEndpoints(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	// Uploaded certificates first (certs.go), then ACM's.
	out, err := a.certs.list(r.Context(), app)
	if err != nil {
		return err
	}
	if a.acm != nil {
		out = append(out, a.acm.sniEndpoints(app)...)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// errACMFlags is returned for an ACME flag without the others it needs.
var errACMFlags = errors.New("-acme-directory needs -https-addr (ACME certificates are served there); -acme-email and -acme-ca-file need -acme-directory")
