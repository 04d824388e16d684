package main

// Uploaded certificates: heroku certs:add / certs / certs:info /
// certs:update / certs:remove, as Heroku's SNI endpoints (heroku.md §9.5
// sni-endpoint). An SNI endpoint is a certificate chain and its private
// key, uploaded for one app; it is kept in platform.db (the key too: the
// data dir is the platform's secret store already) and named by ID, so a
// record left behind by a crash during apps:destroy is dropped at the next
// start rather than given to a new app of the same name.
//
// Serving: the router's HTTPS handshake asks getCertificate first (before
// ACME, so an uploaded certificate wins over ACM for its domains). It
// finds the app the SNI name routes to and looks the name up in that app's
// own router.CertStore, which holds, per custom domain of the app, the
// endpoint chosen for it: the one the domain is associated with (PATCH
// /apps/{app}/domains/{domain} {"sni_endpoint"}, as certs:add and
// domains:add/update send), else the best matching one (an exact name
// over a wildcard, then the latest expiry). Because the lookup starts from
// the routing, an app never presents its certificate for another app's
// domain, even when its certificate (or its wildcard domain) covers it.
// The stores are rebuilt whenever an app's endpoints or domains change.
//
// Not done: display names, endpoints shared between apps, certificates
// for <app>.localhost, warning before a certificate expires.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/dynokit/dynokit/router"
)

// sniEndpointRecords keeps the uploaded certificates, keyed by endpoint ID.
const sniEndpointRecords platform.RecordKind = "minipaas.sni-endpoints"

// sniRecord is what platform.db keeps per uploaded certificate.
type sniRecord struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	AppID            string `json:"app_id"`
	App              string `json:"app"` // name when uploaded, for people reading the store
	CertificateChain string `json:"certificate_chain"`
	PrivateKey       string `json:"private_key"`
	// Domains are the custom domains explicitly associated with it.
	Domains   []string  `json:"domains,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// sniEndpoint is a record with its parsed certificate.
type sniEndpoint struct {
	rec  sniRecord
	cert *tls.Certificate // Leaf set
}

// certService holds the uploaded certificates and serves them.
type certService struct {
	p   *platform.Platform
	log *slog.Logger
	// box, when set, seals the private keys in the records.
	box *sealed.Box

	mu     sync.Mutex
	byID   map[string]*sniEndpoint // nil until load reads the records
	stores atomic.Pointer[map[string]*router.CertStore]
}

func newCertService(p *platform.Platform, log *slog.Logger) *certService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &certService{p: p, log: log}
}

// getCertificate is the router's Server.GetCertificate: the certificate
// chosen for the SNI name among those of the app the name routes to.
func (c *certService) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	appName, ok := c.p.Router().Lookup(hello.ServerName)
	if ok {
		if m := c.stores.Load(); m != nil {
			if cs := (*m)[appName]; cs != nil {
				return cs.GetCertificate(hello)
			}
		}
	}
	return nil, fmt.Errorf("%w: %q", router.ErrNoCertificate, hello.ServerName)
}

// load reads the records once (c.mu held): those of destroyed apps are
// dropped, the others served.
func (c *certService) load(ctx context.Context) error {
	if c.byID != nil {
		return nil
	}
	raw, err := c.p.Records(ctx, sniEndpointRecords)
	if err != nil {
		return fmt.Errorf("sni endpoints: %w", err)
	}
	apps, err := c.p.Apps(ctx)
	if err != nil {
		return fmt.Errorf("sni endpoints: %w", err)
	}
	live := map[string]platform.App{}
	for _, a := range apps {
		live[a.ID] = a
	}
	byID := map[string]*sniEndpoint{}
	for id, b := range raw {
		var rec sniRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			c.log.Warn("minipaas: unreadable SNI endpoint record", "id", id, "err", err)
			continue
		}
		if _, ok := live[rec.AppID]; !ok {
			if err := c.p.DeleteRecord(ctx, sniEndpointRecords, id); err != nil {
				return fmt.Errorf("sni endpoints: %w", err)
			}
			continue
		}
		if rec.PrivateKey, err = c.openKey(rec); err != nil {
			return fmt.Errorf("sni endpoints: %w", err)
		}
		cert, err := tls.X509KeyPair([]byte(rec.CertificateChain), []byte(rec.PrivateKey))
		if err != nil {
			c.log.Warn("minipaas: unusable SNI endpoint record", "id", id, "err", err)
			continue
		}
		byID[id] = &sniEndpoint{rec: rec, cert: &cert}
	}
	c.byID = byID
	for _, a := range apps {
		if err := c.syncLocked(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func keyLabel(id string) string { return "sni-endpoint/" + id + "/private_key" }

// openKey returns rec's private key as PEM: opened when sealed (a record
// written before a key file was given is plaintext).
func (c *certService) openKey(rec sniRecord) (string, error) {
	if !strings.HasPrefix(rec.PrivateKey, sealed.Prefix) {
		return rec.PrivateKey, nil
	}
	if c.box == nil {
		return "", fmt.Errorf("the private key of %s is sealed: pass the key file (-config-key-file)", rec.Name)
	}
	key, err := c.box.Open(keyLabel(rec.ID), rec.PrivateKey)
	return string(key), err
}

// start loads the records, so that the certificates serve before the
// first API request.
func (c *certService) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load(ctx)
}

// lock takes c.mu with the records loaded.
func (c *certService) lock(ctx context.Context) error {
	c.mu.Lock()
	if err := c.load(ctx); err != nil {
		c.mu.Unlock()
		return apiError(err)
	}
	return nil
}

// of lists app's endpoints, oldest first (c.mu held).
func (c *certService) of(appID string) []*sniEndpoint {
	var out []*sniEndpoint
	for _, e := range c.byID {
		if e.rec.AppID == appID {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *sniEndpoint) int {
		if n := a.rec.CreatedAt.Compare(b.rec.CreatedAt); n != 0 {
			return n
		}
		return strings.Compare(a.rec.ID, b.rec.ID)
	})
	return out
}

// find resolves one of app's endpoints by id or name (c.mu held).
func (c *certService) find(appID, idOrName string) (*sniEndpoint, error) {
	for _, e := range c.of(appID) {
		if e.rec.ID == idOrName || e.rec.Name == idOrName {
			return e, nil
		}
	}
	return nil, platformapi.NotFound("sni endpoint", idOrName)
}

// certCovers reports whether one of the certificate's DNS names covers
// domain: equal, or a one-label wildcard ("*.example.com" covers
// "www.example.com", and a wildcard domain "*.example.com" itself).
func certCovers(leaf *x509.Certificate, domain string) (ok, exact bool) {
	for _, n := range leaf.DNSNames {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == domain {
			return true, true
		}
		if rest, isWild := strings.CutPrefix(n, "*"); isWild && strings.HasPrefix(rest, ".") {
			label, found := strings.CutSuffix(domain, rest)
			if found && label != "" && label != "*" && !strings.Contains(label, ".") {
				ok = true
			}
		}
	}
	return ok, false
}

// chosen is the endpoint serving app's domain, or nil (c.mu held).
func (c *certService) chosen(appID, domain string) *sniEndpoint {
	var best *sniEndpoint
	bestRank := -1
	for _, e := range c.of(appID) {
		ok, exact := certCovers(e.cert.Leaf, domain)
		if !ok {
			continue
		}
		rank := 0
		if slices.Contains(e.rec.Domains, domain) {
			rank = 2
		} else if exact {
			rank = 1
		}
		if rank > bestRank || (rank == bestRank && e.cert.Leaf.NotAfter.After(best.cert.Leaf.NotAfter)) {
			best, bestRank = e, rank
		}
	}
	return best
}

// syncLocked rebuilds the certificate store of app from its endpoints and
// custom domains (c.mu held).
func (c *certService) syncLocked(ctx context.Context, app platform.App) error {
	domains, err := c.p.Domains(ctx, app.Name)
	if errors.Is(err, platform.ErrNotFound) {
		domains, err = nil, nil
	}
	if err != nil {
		return err
	}
	var cs *router.CertStore
	for _, d := range domains {
		e := c.chosen(app.ID, d)
		if e == nil {
			continue
		}
		if cs == nil {
			cs = &router.CertStore{}
		}
		if err := cs.Set(d, e.cert); err != nil {
			c.log.Warn("minipaas: SNI endpoint for a domain", "app", app.Name, "domain", d, "err", err)
		}
	}
	c.setStore(app.Name, cs)
	return nil
}

// setStore replaces (nil: removes) app's certificate store (c.mu held).
func (c *certService) setStore(appName string, cs *router.CertStore) {
	n := map[string]*router.CertStore{}
	if old := c.stores.Load(); old != nil {
		for k, v := range *old {
			n[k] = v
		}
	}
	if cs == nil {
		delete(n, appName)
	} else {
		n[appName] = cs
	}
	c.stores.Store(&n)
}

// domainsChanged serves app's certificates for its domains as they are
// now (a domain added or removed, through the API or the dashboard);
// removed names lose their explicit association.
func (c *certService) domainsChanged(ctx context.Context, app platform.App, removed string) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if removed != "" {
		for _, e := range c.of(app.ID) {
			if slices.Contains(e.rec.Domains, removed) {
				rec := e.rec
				rec.Domains = slices.DeleteFunc(slices.Clone(rec.Domains), func(d string) bool { return d == removed })
				if err := c.save(ctx, e, rec); err != nil {
					return err
				}
			}
		}
	}
	if err := c.syncLocked(ctx, app); err != nil {
		return apiError(err)
	}
	return nil
}

// save stores rec and makes it e's (c.mu held).
func (c *certService) save(ctx context.Context, e *sniEndpoint, rec sniRecord) error {
	stored := rec
	if c.box != nil {
		stored.PrivateKey = c.box.Seal(keyLabel(rec.ID), []byte(rec.PrivateKey))
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	if err := c.p.PutRecord(ctx, sniEndpointRecords, rec.ID, b); err != nil {
		return apiError(err)
	}
	e.rec = rec
	return nil
}

// renameApp serves the app's certificates under its new name (the router
// reports the name an SNI name routes to).
func (c *certService) renameApp(old, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.stores.Load(); m != nil && (*m)[old] != nil {
		cs := (*m)[old]
		c.setStore(old, nil)
		c.setStore(name, cs)
	}
}

// removeApp drops a destroyed app's endpoints. A record that cannot be
// deleted is dropped by the next start anyway (its app is gone).
func (c *certService) removeApp(ctx context.Context, app platform.App) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setStore(app.Name, nil)
	var errs []error
	if c.byID == nil {
		return nil // nothing loaded: load drops them
	}
	for _, e := range c.of(app.ID) {
		delete(c.byID, e.rec.ID)
		errs = append(errs, c.p.DeleteRecord(ctx, sniEndpointRecords, e.rec.ID))
	}
	return errors.Join(errs...)
}

// parseKeyPair checks an uploaded chain and key: PEM, the key matching the
// chain's first certificate, which names DNS names and has not expired.
// The chain and key are stored re-encoded (certificates only; the key
// alone). Messages never quote the key.
func parseKeyPair(chainPEM, keyPEM string, now time.Time) (chain, key string, cert *tls.Certificate, err error) {
	if strings.TrimSpace(chainPEM) == "" {
		return "", "", nil, platformapi.InvalidParams("certificate_chain is required: the PEM certificate, then its intermediates")
	}
	if strings.TrimSpace(keyPEM) == "" {
		return "", "", nil, platformapi.InvalidParams("private_key is required: the PEM private key of the certificate")
	}
	var chainOut bytes.Buffer
	rest := []byte(chainPEM)
	n := 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			if strings.Contains(blk.Type, "PRIVATE KEY") {
				return "", "", nil, platformapi.InvalidParams("certificate_chain contains a private key: send it as private_key only")
			}
			continue
		}
		n++
		if _, perr := x509.ParseCertificate(blk.Bytes); perr != nil {
			return "", "", nil, platformapi.InvalidParams("certificate_chain: certificate %d cannot be parsed: %v", n, perr)
		}
		pem.Encode(&chainOut, &pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes})
	}
	if n == 0 {
		return "", "", nil, platformapi.InvalidParams("certificate_chain has no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	var keyBlk *pem.Block
	rest = []byte(keyPEM)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "PRIVATE KEY" || strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			keyBlk = blk
			break
		}
	}
	if keyBlk == nil {
		return "", "", nil, platformapi.InvalidParams("private_key has no PEM-encoded private key")
	}
	keyOut := pem.EncodeToMemory(&pem.Block{Type: keyBlk.Type, Bytes: keyBlk.Bytes})
	pair, err := tls.X509KeyPair(chainOut.Bytes(), keyOut)
	if err != nil {
		// X509KeyPair's messages are fixed strings (no key material).
		if strings.Contains(err.Error(), "does not match") {
			return "", "", nil, platformapi.InvalidParams("private_key does not match the certificate (the first one of certificate_chain, which must be the server's)")
		}
		return "", "", nil, platformapi.InvalidParams("private_key cannot be used: %s", strings.TrimPrefix(err.Error(), "tls: "))
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return "", "", nil, platformapi.InvalidParams("certificate_chain: %v", err)
		}
		pair.Leaf = leaf
	}
	if len(leaf.DNSNames) == 0 {
		return "", "", nil, platformapi.InvalidParams("the certificate names no DNS names (subject alternative names): it cannot serve a domain")
	}
	if now.After(leaf.NotAfter) {
		return "", "", nil, platformapi.InvalidParams("the certificate expired on %s", rfc3339(leaf.NotAfter))
	}
	return chainOut.String(), string(keyOut), &pair, nil
}

// newSNIName makes a Heroku-style endpoint name (tidal-12345), unique
// among the endpoints (c.mu held).
func (c *certService) newSNIName() string {
	for {
		w, _ := rand.Int(rand.Reader, big.NewInt(int64(len(nameWords))))
		n, _ := rand.Int(rand.Reader, big.NewInt(90000))
		name := nameWords[w.Int64()] + "-" + strconv.FormatInt(n.Int64()+10000, 10)
		taken := false
		for _, e := range c.byID {
			taken = taken || e.rec.Name == name
		}
		if !taken {
			return name
		}
	}
}

// json is e as the Platform API shows it to app's requests (c.mu held):
// domains are the ids of the custom domains it serves, as Heroku gives
// them (the CLI looks each up for its host name).
func (c *certService) json(ctx context.Context, app platform.App, e *sniEndpoint) sniEndpointJSON {
	leaf := e.cert.Leaf
	var domains []string
	if ds, err := c.p.Domains(ctx, app.Name); err == nil {
		for _, d := range ds {
			if c.chosen(app.ID, d) == e {
				domains = append(domains, nameUUID("domain", app.ID, d))
			}
		}
	}
	cc := cachedCert{leaf: leaf}
	for _, der := range e.cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			cc.intermediates = append(cc.intermediates, ic)
		}
	}
	sum := sha256.Sum256([]byte(e.rec.CertificateChain))
	return sniEndpointJSON{
		ID:               e.rec.ID,
		Name:             e.rec.Name,
		CertificateChain: e.rec.CertificateChain,
		App:              ref{ID: app.ID, Name: app.Name},
		Domains:          append([]string{}, domains...),
		SSLCert: sslCertJSON{
			ID:          nameUUID("ssl-cert", e.rec.ID, string(sum[:])),
			CASigned:    cc.publiclyTrusted(),
			SelfSigned:  selfSigned(leaf),
			CertDomains: append([]string{}, leaf.DNSNames...),
			Issuer:      dnString(leaf.Issuer),
			Subject:     dnString(leaf.Subject),
			StartsAt:    rfc3339(leaf.NotBefore),
			ExpiresAt:   rfc3339(leaf.NotAfter),
		},
		CreatedAt: rfc3339(e.rec.CreatedAt),
		UpdatedAt: rfc3339(e.rec.UpdatedAt),
	}
}

// selfSigned reports whether leaf is signed by its own key (as issuer;
// CheckSignatureFrom would refuse a leaf that is not a CA).
func selfSigned(leaf *x509.Certificate) bool {
	return bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
		leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
}

// list is the app's uploaded endpoints as the API shows them.
func (c *certService) list(ctx context.Context, app platform.App) ([]sniEndpointJSON, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	out := []sniEndpointJSON{}
	for _, e := range c.of(app.ID) {
		out = append(out, c.json(ctx, app, e))
	}
	return out, nil
}

// servedBy is the endpoint serving app's domain, as a domain shows it
// (nil: none).
func (c *certService) servedBy(ctx context.Context, app platform.App, domain string) *ref {
	if c.lock(ctx) != nil {
		return nil
	}
	defer c.mu.Unlock()
	if e := c.chosen(app.ID, domain); e != nil {
		return &ref{ID: e.rec.ID, Name: e.rec.Name}
	}
	return nil
}

// --- HTTP ---

// certRoutes adds certs:add, certs:info, certs:update, certs:remove, and
// the domain endpoints that associate a domain with a certificate.
func (a *api) certRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /apps/{app}/sni-endpoints", a.addSNIEndpoint)
	h("GET /apps/{app}/sni-endpoints/{endpoint}", a.getSNIEndpoint)
	h("PATCH /apps/{app}/sni-endpoints/{endpoint}", a.updateSNIEndpoint)
	h("DELETE /apps/{app}/sni-endpoints/{endpoint}", a.removeSNIEndpoint)
	h("GET /apps/{app}/domains/{domain}", a.getDomain)
	h("PATCH /apps/{app}/domains/{domain}", a.patchDomain)
}

type keyPairBody struct {
	CertificateChain string `json:"certificate_chain"`
	PrivateKey       string `json:"private_key"`
}

// addSNIEndpoint answers POST /apps/{app}/sni-endpoints (certs:add).
func (a *api) addSNIEndpoint(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body keyPairBody
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	now := time.Now().UTC()
	chain, key, cert, err := parseKeyPair(body.CertificateChain, body.PrivateKey, now)
	if err != nil {
		return err
	}
	c := a.certs
	if err := c.lock(r.Context()); err != nil {
		return err
	}
	defer c.mu.Unlock()
	rec := sniRecord{ID: platformapi.NewUUID(), Name: c.newSNIName(), AppID: app.ID, App: app.Name,
		CertificateChain: chain, PrivateKey: key, CreatedAt: now, UpdatedAt: now}
	e := &sniEndpoint{cert: cert}
	if err := c.save(r.Context(), e, rec); err != nil {
		return err
	}
	c.byID[rec.ID] = e
	if err := c.syncLocked(r.Context(), app); err != nil {
		return apiError(err)
	}
	j := c.json(r.Context(), app, e)
	a.webhooks.send(r.Context(), app, "api:sni-endpoint", resourceSNIEndpoint, platform.ActionCreate, j)
	platformapi.WriteJSON(w, http.StatusCreated, j)
	return nil
}

// getSNIEndpoint answers GET /apps/{app}/sni-endpoints/{id-or-name}
// (certs:info), the ACM endpoint included.
func (a *api) getSNIEndpoint(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	if e, ok := a.acmEndpoint(app, r.PathValue("endpoint")); ok {
		platformapi.WriteJSON(w, http.StatusOK, e)
		return nil
	}
	return a.uploadedEndpoint(r, func(app platform.App, c *certService, e *sniEndpoint) error {
		j := c.json(r.Context(), app, e)
		a.webhooks.send(r.Context(), app, "api:sni-endpoint", resourceSNIEndpoint, platform.ActionUpdate, j)
		platformapi.WriteJSON(w, http.StatusOK, j)
		return nil
	})
}

// acmEndpoint finds app's ACM endpoint by id or name.
func (a *api) acmEndpoint(app platform.App, key string) (sniEndpointJSON, bool) {
	if a.acm != nil {
		for _, e := range a.acm.sniEndpoints(app) {
			if e.ID == key || e.Name == key {
				return e, true
			}
		}
	}
	return sniEndpointJSON{}, false
}

// uploadedEndpoint runs fn on the uploaded endpoint that r's path names
// ({app}, {endpoint}: id or name), with the certificates locked. The ACM
// endpoint is refused: it is changed with certs:auto.
func (a *api) uploadedEndpoint(r *http.Request, fn func(app platform.App, c *certService, e *sniEndpoint) error) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	key := r.PathValue("endpoint")
	if _, ok := a.acmEndpoint(app, key); ok {
		return platformapi.InvalidParams("%s is managed by Automatic Certificate Management: use heroku certs:auto:disable", key)
	}
	c := a.certs
	if err := c.lock(r.Context()); err != nil {
		return err
	}
	defer c.mu.Unlock()
	e, err := c.find(app.ID, key)
	if err != nil {
		return err
	}
	return fn(app, c, e)
}

// updateSNIEndpoint answers PATCH /apps/{app}/sni-endpoints/{id-or-name}
// (certs:update): a new chain and key; associations the new certificate
// no longer covers are dropped.
func (a *api) updateSNIEndpoint(w http.ResponseWriter, r *http.Request) error {
	var body keyPairBody
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	return a.uploadedEndpoint(r, func(app platform.App, c *certService, e *sniEndpoint) error {
		now := time.Now().UTC()
		chain, pk, cert, err := parseKeyPair(body.CertificateChain, body.PrivateKey, now)
		if err != nil {
			return err
		}
		rec := e.rec
		rec.CertificateChain, rec.PrivateKey, rec.UpdatedAt = chain, pk, now
		rec.Domains = slices.DeleteFunc(slices.Clone(rec.Domains), func(d string) bool {
			ok, _ := certCovers(cert.Leaf, d)
			return !ok
		})
		if err := c.save(r.Context(), e, rec); err != nil {
			return err
		}
		e.cert = cert
		if err := c.syncLocked(r.Context(), app); err != nil {
			return apiError(err)
		}
		platformapi.WriteJSON(w, http.StatusOK, c.json(r.Context(), app, e))
		return nil
	})
}

// removeSNIEndpoint answers DELETE /apps/{app}/sni-endpoints/{id-or-name}
// (certs:remove): its domains stop being served with it at once.
func (a *api) removeSNIEndpoint(w http.ResponseWriter, r *http.Request) error {
	return a.uploadedEndpoint(r, func(app platform.App, c *certService, e *sniEndpoint) error {
		j := c.json(r.Context(), app, e)
		if err := c.p.DeleteRecord(r.Context(), sniEndpointRecords, e.rec.ID); err != nil {
			return apiError(err)
		}
		delete(c.byID, e.rec.ID)
		if err := c.syncLocked(r.Context(), app); err != nil {
			return apiError(err)
		}
		a.webhooks.send(r.Context(), app, "api:sni-endpoint", resourceSNIEndpoint, platform.ActionDestroy, j)
		platformapi.WriteJSON(w, http.StatusOK, j)
		return nil
	})
}

// customDomainJSON is one of app's custom domains with its ACM status and
// the endpoint serving it.
func (a *api) customDomainJSON(ctx context.Context, app platform.App, host string) domainJSON {
	j := domainToJSON(app, host, "custom")
	j.ACMStatus, j.ACMStatusReason = a.acm.domainStatus(app, host)
	j.SNIEndpoint = a.certs.servedBy(ctx, app, host)
	return j
}

// appDomain finds one of app's domains (its own host included) by host
// name or id.
func (a *api) appDomain(ctx context.Context, app platform.App, hostOrID string) (domainJSON, error) {
	domains, err := a.p.Domains(ctx, app.Name)
	if err != nil {
		return domainJSON{}, apiError(err)
	}
	key := strings.ToLower(hostOrID)
	for _, d := range domains {
		if d == key || nameUUID("domain", app.ID, d) == key {
			return a.customDomainJSON(ctx, app, d), nil
		}
	}
	if own := domainToJSON(app, app.Name+".localhost", "heroku"); own.Hostname == key || own.ID == key {
		return own, nil
	}
	return domainJSON{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "domain %s not found on app %s", key, app.Name)
}

// getDomain answers GET /apps/{app}/domains/{domain} (domains:info,
// certs:info --show-domains).
func (a *api) getDomain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	j, err := a.appDomain(r.Context(), app, r.PathValue("domain"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// patchDomain answers PATCH /apps/{app}/domains/{domain} {"sni_endpoint":
// name or id, or null} (certs:add's association prompt, domains:update):
// the domain is served with that endpoint's certificate, which must cover
// it; null drops the association (the best matching one serves).
func (a *api) patchDomain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		SNIEndpoint *string `json:"sni_endpoint"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	j, err := a.appDomain(r.Context(), app, r.PathValue("domain"))
	if err != nil {
		return err
	}
	if j.Kind != "custom" {
		return platformapi.InvalidParams("%s is the app's own domain: it has no SNI endpoint", j.Hostname)
	}
	want := ""
	if body.SNIEndpoint != nil {
		want = *body.SNIEndpoint
	}
	if err := a.certs.associate(r.Context(), app, j.Hostname, want); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.customDomainJSON(r.Context(), app, j.Hostname))
	return nil
}

// checkAssociation checks that endpoint (name or id; "" for none) may
// serve app's domain host, before the domain is added.
func (c *certService) checkAssociation(ctx context.Context, app platform.App, host, endpoint string) error {
	if endpoint == "" {
		return nil
	}
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	e, err := c.find(app.ID, endpoint)
	if err != nil {
		return platformapi.InvalidParams("sni_endpoint %s is not a certificate of %s (heroku certs -a %s)", endpoint, app.Name, app.Name)
	}
	if ok, _ := certCovers(e.cert.Leaf, strings.ToLower(strings.TrimSpace(host))); !ok {
		return platformapi.InvalidParams("the certificate of %s does not cover %s (it names %s)", e.rec.Name, host, strings.Join(e.cert.Leaf.DNSNames, ", "))
	}
	return nil
}

// associate makes endpoint (name or id; "" for none) the one serving
// app's custom domain host.
func (c *certService) associate(ctx context.Context, app platform.App, host, endpoint string) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	var target *sniEndpoint
	if endpoint != "" {
		e, err := c.find(app.ID, endpoint)
		if err != nil {
			return platformapi.InvalidParams("sni_endpoint %s is not a certificate of %s (heroku certs -a %s)", endpoint, app.Name, app.Name)
		}
		if ok, _ := certCovers(e.cert.Leaf, host); !ok {
			return platformapi.InvalidParams("the certificate of %s does not cover %s (it names %s)", e.rec.Name, host, strings.Join(e.cert.Leaf.DNSNames, ", "))
		}
		target = e
	}
	for _, e := range c.of(app.ID) {
		has := slices.Contains(e.rec.Domains, host)
		if has == (e == target) {
			continue
		}
		rec := e.rec
		if e == target {
			rec.Domains = append(slices.Clone(rec.Domains), host)
		} else {
			rec.Domains = slices.DeleteFunc(slices.Clone(rec.Domains), func(d string) bool { return d == host })
		}
		if err := c.save(ctx, e, rec); err != nil {
			return err
		}
	}
	if err := c.syncLocked(ctx, app); err != nil {
		return apiError(err)
	}
	return nil
}
