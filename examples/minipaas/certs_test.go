package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/internal/testutil"
)

// testCert is a self-signed certificate made for a test, with its key.
type testCert struct {
	leaf         *x509.Certificate
	certPEM, key string
	keyBody      string // the base64 of the key, to check it is never echoed
	notAfter     time.Time
	dnsNames     []string
}

// newTestCert makes a self-signed certificate for names, valid from
// notBefore to notAfter.
func newTestCert(t *testing.T, cn string, names []string, notBefore, notAfter time.Time) testCert {
	c := testutil.SelfSigned(t, cn, names, notBefore, notAfter)
	return testCert{
		leaf:     c.Leaf,
		certPEM:  string(c.CertPEM),
		key:      string(c.KeyPEM),
		keyBody:  strings.Split(string(c.KeyPEM), "\n")[1],
		notAfter: notAfter,
		dnsNames: names,
	}
}

// validCert is newTestCert valid from an hour ago for days.
func validCert(t *testing.T, days int, names ...string) testCert {
	now := time.Now()
	return newTestCert(t, names[0], names, now.Add(-time.Hour), now.Add(time.Duration(days)*24*time.Hour))
}

func keyPairJSON(chain, key string) string {
	b, _ := json.Marshal(keyPairBody{CertificateChain: chain, PrivateKey: key})
	return string(b)
}

// addCert uploads c to app and returns the endpoint.
func (m *minipaas) addCert(app string, c testCert) sniEndpointJSON {
	m.t.Helper()
	var e sniEndpointJSON
	if st := m.api("POST", "/apps/"+app+"/sni-endpoints", keyPairJSON(c.certPEM, c.key), &e); st != http.StatusCreated {
		m.t.Fatalf("add certificate to %s: %d", app, st)
	}
	return e
}

func (m *minipaas) createApp(name string) {
	m.t.Helper()
	if st := m.api("POST", "/apps", `{"name":"`+name+`"}`, nil); st != http.StatusCreated {
		m.t.Fatalf("create app %s: %d", name, st)
	}
}

func (m *minipaas) addDomainAPI(app, host string) domainJSON {
	m.t.Helper()
	var d domainJSON
	if st := m.api("POST", "/apps/"+app+"/domains", `{"hostname":"`+host+`","sni_endpoint":null}`, &d); st != http.StatusCreated {
		m.t.Fatalf("add domain %s to %s: %d", host, app, st)
	}
	return d
}

// domainIDs are the ids the API gives the app's custom domains, which is
// how an sni-endpoint names the domains it serves.
func (m *minipaas) domainIDs(app string, hosts ...string) []string {
	m.t.Helper()
	var ids []string
	for _, h := range hosts {
		var d domainJSON
		if st := m.api("GET", "/apps/"+app+"/domains/"+h, "", &d); st != http.StatusOK || !looksLikeUUID(d.ID) {
			m.t.Fatalf("get domain %s of %s: %d %+v", h, app, st, d)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

func endpointNames(es []sniEndpointJSON) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

// TestSNIEndpointsAPI drives the sni-endpoints API: validation, the
// endpoint's shape, domains served, associations, update, removal, a
// restart and apps:destroy.
func TestSNIEndpointsAPI(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token)
	const app = "certapi"
	m.createApp(app)
	base := "/apps/" + app + "/sni-endpoints"

	good := validCert(t, 90, "www.shop.test", "*.api.shop.test")
	other := validCert(t, 90, "www.shop.test")
	now := time.Now()
	expired := newTestCert(t, "old.shop.test", []string{"old.shop.test"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	noNames := newTestCert(t, "nonames.shop.test", nil, now.Add(-time.Hour), now.Add(24*time.Hour))

	// Bad uploads: 422 naming the problem, never quoting the key.
	for _, tc := range []struct{ what, chain, key, want string }{
		{"mismatched key", good.certPEM, other.key, "does not match"},
		{"garbage chain", "not a certificate", good.key, "no PEM certificate"},
		{"garbage key", good.certPEM, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "private_key"},
		{"key in the chain", good.certPEM + good.key, good.key, "contains a private key"},
		{"missing key", good.certPEM, "", "private_key is required"},
		{"expired", expired.certPEM, expired.key, "expired"},
		{"no DNS names", noNames.certPEM, noNames.key, "no DNS names"},
	} {
		st, body := m.apiRaw("POST", base, keyPairJSON(tc.chain, tc.key))
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 422 with %q", tc.what, st, body, tc.want)
		}
		for _, k := range []testCert{good, other, expired, noNames} {
			if strings.Contains(body, k.keyBody) || strings.Contains(body, "PRIVATE KEY-----") {
				t.Errorf("%s: the answer quotes a private key: %s", tc.what, body)
			}
		}
	}

	// A domain there before the certificate is served by it at once.
	m.addDomainAPI(app, "www.shop.test")
	st, body := m.apiRaw("POST", base, keyPairJSON(good.certPEM, good.key))
	if st != http.StatusCreated {
		t.Fatalf("add: %d %s", st, body)
	}
	if strings.Contains(body, good.keyBody) {
		t.Errorf("the endpoint shows its private key: %s", body)
	}
	var e1 sniEndpointJSON
	if err := json.Unmarshal([]byte(body), &e1); err != nil {
		t.Fatal(err)
	}
	if !looksLikeUUID(e1.ID) || e1.Name == "" || e1.App.Name != app || e1.SSLCert.ACM || !e1.SSLCert.SelfSigned || e1.SSLCert.CASigned ||
		!slices.Equal(e1.SSLCert.CertDomains, good.dnsNames) || !slices.Equal(e1.Domains, m.domainIDs(app, "www.shop.test")) ||
		e1.SSLCert.Subject != "/O=Dynokit Test/CN=www.shop.test" || e1.SSLCert.Issuer != e1.SSLCert.Subject ||
		e1.SSLCert.ExpiresAt != rfc3339(good.notAfter) || e1.SSLCert.ID == "" || e1.CreatedAt == "" ||
		!strings.HasPrefix(e1.CertificateChain, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("endpoint: %+v", e1)
	}

	// A domain added after it, under its wildcard, is served too; one it
	// does not cover is not.
	if d := m.addDomainAPI(app, "v1.api.shop.test"); d.SNIEndpoint == nil || d.SNIEndpoint.Name != e1.Name {
		t.Errorf("wildcard domain: sni_endpoint %+v, want %s", d.SNIEndpoint, e1.Name)
	}
	if d := m.addDomainAPI(app, "blog.test"); d.SNIEndpoint != nil {
		t.Errorf("uncovered domain: sni_endpoint %+v, want null", d.SNIEndpoint)
	}

	// A second certificate for www: the longer-lived exact one serves it
	// until the domain is associated with the first (certs:add's prompt).
	e2 := m.addCert(app, validCert(t, 200, "www.shop.test"))
	var d domainJSON
	if m.api("GET", "/apps/"+app+"/domains/www.shop.test", "", &d); d.SNIEndpoint == nil || d.SNIEndpoint.Name != e2.Name {
		t.Errorf("www with two certificates: %+v, want %s", d.SNIEndpoint, e2.Name)
	}
	if st := m.api("PATCH", "/apps/"+app+"/domains/www.shop.test", `{"sni_endpoint":"`+e1.Name+`"}`, &d); st != http.StatusOK || d.SNIEndpoint == nil || d.SNIEndpoint.ID != e1.ID {
		t.Errorf("associate: %d %+v, want %s", st, d.SNIEndpoint, e1.Name)
	}
	if st, body := m.apiRaw("PATCH", "/apps/"+app+"/domains/blog.test", `{"sni_endpoint":"`+e1.Name+`"}`); st != http.StatusUnprocessableEntity || !strings.Contains(body, "does not cover") {
		t.Errorf("associate an uncovered domain: %d %s", st, body)
	}
	if st, body := m.apiRaw("POST", "/apps/"+app+"/domains", `{"hostname":"new.test","sni_endpoint":"`+e1.Name+`"}`); st != http.StatusUnprocessableEntity {
		t.Errorf("domains:add with a certificate that does not cover it: %d %s", st, body)
	}

	// Listing, and both ways of naming one.
	var list []sniEndpointJSON
	if m.api("GET", base, "", &list); !slices.Equal(endpointNames(list), []string{e1.Name, e2.Name}) {
		t.Errorf("list: %v, want %s %s", endpointNames(list), e1.Name, e2.Name)
	}
	for _, key := range []string{e1.ID, e1.Name} {
		var got sniEndpointJSON
		if st := m.api("GET", base+"/"+key, "", &got); st != http.StatusOK || got.ID != e1.ID || !slices.Equal(got.Domains, m.domainIDs(app, "www.shop.test", "v1.api.shop.test")) {
			t.Errorf("get %s: %d %+v", key, st, got)
		}
	}
	if st := m.api("GET", base+"/nonesuch-12345", "", nil); st != http.StatusNotFound {
		t.Errorf("get an unknown endpoint: %d, want 404", st)
	}

	// Update: same endpoint, new certificate; a bad one changes nothing.
	if st, _ := m.apiRaw("PATCH", base+"/"+e1.Name, keyPairJSON(good.certPEM, other.key)); st != http.StatusUnprocessableEntity {
		t.Errorf("update with a mismatched key: %d", st)
	}
	renewed := validCert(t, 120, "www.shop.test", "*.api.shop.test", "shop.test")
	var u sniEndpointJSON
	if st := m.api("PATCH", base+"/"+e1.Name, keyPairJSON(renewed.certPEM, renewed.key), &u); st != http.StatusOK {
		t.Fatalf("update: %d", st)
	}
	if u.ID != e1.ID || u.Name != e1.Name || u.SSLCert.ID == e1.SSLCert.ID || !slices.Equal(u.SSLCert.CertDomains, renewed.dnsNames) ||
		u.SSLCert.ExpiresAt != rfc3339(renewed.notAfter) || u.CreatedAt != e1.CreatedAt {
		t.Errorf("updated: %+v", u)
	}

	// Remove the second; the first serves www (it is associated anyway).
	if st := m.api("DELETE", base+"/"+e2.ID, "", nil); st != http.StatusOK {
		t.Errorf("remove: %d", st)
	}
	if st := m.api("GET", base+"/"+e2.Name, "", nil); st != http.StatusNotFound {
		t.Errorf("removed endpoint: %d, want 404", st)
	}

	// A restart keeps the first, updated.
	m.stop()
	m = startMinipaasWith(t, dataDir, token)
	list = nil
	if m.api("GET", base, "", &list); len(list) != 1 || list[0].ID != e1.ID || list[0].SSLCert.ExpiresAt != rfc3339(renewed.notAfter) ||
		!slices.Equal(list[0].Domains, m.domainIDs(app, "www.shop.test", "v1.api.shop.test")) {
		t.Errorf("after a restart: %+v", list)
	}

	// Removing a domain drops its association; apps:destroy the endpoints.
	if st := m.api("DELETE", "/apps/"+app+"/domains/www.shop.test", "", nil); st != http.StatusOK {
		t.Errorf("remove domain: %d", st)
	}
	var got sniEndpointJSON
	if m.api("GET", base+"/"+e1.Name, "", &got); !slices.Equal(got.Domains, m.domainIDs(app, "v1.api.shop.test")) {
		t.Errorf("after removing www: domains %v", got.Domains)
	}
	if st := m.api("DELETE", "/apps/"+app, "", nil); st != http.StatusOK {
		t.Fatalf("destroy: %d", st)
	}
	recs, err := m.p.Records(context.Background(), sniEndpointRecords)
	if err != nil || len(recs) != 0 {
		t.Errorf("records after apps:destroy: %v %v", recs, err)
	}
	m.createApp(app)
	list = nil
	if m.api("GET", base, "", &list); len(list) != 0 {
		t.Errorf("a new app of the same name has certificates: %+v", list)
	}
}

// tlsLeaf makes a handshake with addr for server name sni and returns the
// certificate served (nil with the error when there was none).
func tlsLeaf(addr, sni string) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	// The test compares the certificate itself; no chain verification.
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// expectLeaf checks that a handshake for sni gets want (nil: fails).
func expectLeaf(t *testing.T, addr, sni string, want *x509.Certificate, what string) {
	t.Helper()
	got, err := tlsLeaf(addr, sni)
	switch {
	case want == nil && err == nil:
		t.Errorf("%s: %s got a certificate (%v), want none", what, sni, got.DNSNames)
	case want != nil && err != nil:
		t.Errorf("%s: %s: %v, want the uploaded certificate", what, sni, err)
	case want != nil && !got.Equal(want):
		t.Errorf("%s: %s got %v issued by %s, want the uploaded %v", what, sni, got.DNSNames, got.Issuer, want.DNSNames)
	}
}

// TestSNIEndpointsHTTPS serves uploaded certificates on the router's
// HTTPS listener: for the app's own custom domains only, ahead of ACM, in
// step with domain and certificate changes, and after a restart.
func TestSNIEndpointsHTTPS(t *testing.T) {
	p, m, httpsAddr, dataDir, token := startACMEPebble(t)

	const one, two, three = "snione", "snitwo", "snithree"
	for _, a := range []string{one, two, three} {
		m.createApp(a)
	}
	// one's certificate also names a domain of two, and its wildcard
	// covers another of two's: two must not get it for them.
	m.addDomainAPI(one, "www.one.test")
	m.addDomainAPI(two, "two.test")
	m.addDomainAPI(two, "b.wild.one.test")
	c1 := validCert(t, 30, "www.one.test", "*.wild.one.test", "two.test")
	e1 := m.addCert(one, c1)
	m.addDomainAPI(one, "a.wild.one.test")

	expectLeaf(t, httpsAddr, "www.one.test", c1.leaf, "domain added before the certificate")
	expectLeaf(t, httpsAddr, "a.wild.one.test", c1.leaf, "wildcard domain added after the certificate")
	expectLeaf(t, httpsAddr, "two.test", nil, "another app's domain named by the certificate")
	expectLeaf(t, httpsAddr, "b.wild.one.test", nil, "another app's domain under the certificate's wildcard")
	expectLeaf(t, httpsAddr, "c.wild.one.test", nil, "a name covered by the certificate but no domain")
	expectLeaf(t, httpsAddr, one+".localhost", nil, "the app's own host")

	// A real client verifying the chain reaches the router through it.
	roots := x509.NewCertPool()
	roots.AddCert(c1.leaf)
	if _, leaf, err := httpsGet(httpsAddr, "www.one.test", roots); err != nil || !leaf.Equal(c1.leaf) {
		t.Errorf("HTTPS request verified against the uploaded certificate: %v", err)
	}

	// Update and domain removal take effect at once.
	c1b := validCert(t, 60, "www.one.test", "*.wild.one.test")
	if st := m.api("PATCH", "/apps/"+one+"/sni-endpoints/"+e1.Name, keyPairJSON(c1b.certPEM, c1b.key), nil); st != http.StatusOK {
		t.Fatalf("update: %d", st)
	}
	expectLeaf(t, httpsAddr, "www.one.test", c1b.leaf, "after certs:update")
	if st := m.api("DELETE", "/apps/"+one+"/domains/www.one.test", "", nil); st != http.StatusOK {
		t.Fatalf("remove domain: %d", st)
	}
	expectLeaf(t, httpsAddr, "www.one.test", nil, "a removed domain")

	// three has ACM on: its domain gets Pebble's certificate, until an
	// uploaded one takes over; removing that brings ACM's back.
	const acmHost = "acm.three.test"
	if st := m.api("POST", "/apps/"+three+"/acm", "", nil); st != http.StatusOK {
		t.Fatalf("enable ACM: %d", st)
	}
	m.addDomainAPI(three, acmHost)
	m.acmStatus(three, acmHost, acmIssued)
	acmLeaf, err := tlsLeaf(httpsAddr, acmHost)
	if err != nil || acmLeaf.Issuer.CommonName == acmHost {
		t.Fatalf("ACM certificate: %v %v", err, acmLeaf)
	}
	c3 := validCert(t, 30, acmHost)
	e3 := m.addCert(three, c3)
	expectLeaf(t, httpsAddr, acmHost, c3.leaf, "uploaded over ACM")
	var list []sniEndpointJSON
	if m.api("GET", "/apps/"+three+"/sni-endpoints", "", &list); len(list) != 2 || list[0].Name != e3.Name || !list[1].SSLCert.ACM ||
		!slices.Equal(list[1].Domains, m.domainIDs(three, acmHost)) {
		t.Errorf("uploaded and ACM endpoints: %+v", list)
	}
	if st := m.api("DELETE", "/apps/"+three+"/sni-endpoints/"+list[1].Name, "", nil); st != http.StatusUnprocessableEntity {
		t.Errorf("certs:remove of the ACM endpoint: %d, want 422", st)
	}
	if st := m.api("DELETE", "/apps/"+three+"/sni-endpoints/"+e3.Name, "", nil); st != http.StatusOK {
		t.Fatalf("remove: %d", st)
	}
	expectLeaf(t, httpsAddr, acmHost, acmLeaf, "ACM after the uploaded one is removed")

	// A restart serves the uploaded certificates from the store.
	m.stop()
	_, httpsAddr2 := startACMEMinipaas(t, p, dataDir, token)
	expectLeaf(t, httpsAddr2, "a.wild.one.test", c1b.leaf, "after a restart")
	expectLeaf(t, httpsAddr2, "b.wild.one.test", nil, "another app's domain after a restart")
}

// TestCertsHerokuCLI runs certs:add, certs, certs:info, domains,
// certs:update and certs:remove with the real heroku CLI.
func TestCertsHerokuCLI(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	const app, host = "certcli", "www.certcli.test"
	m.createApp(app)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := validCert(t, 90, host)
	crt, key := write("server.crt", c.certPEM), write("server.key", c.key)

	// Added before the domain: certs:add has nothing to ask.
	expectIn(t, heroku("certs:add", crt, key, "-a", app), "Certificate details", host, "self signed")
	var list []sniEndpointJSON
	if m.api("GET", "/apps/"+app+"/sni-endpoints", "", &list); len(list) != 1 {
		t.Fatalf("endpoints after certs:add: %+v", list)
	}
	name := list[0].Name
	heroku("domains:add", host, "-a", app)
	expectIn(t, heroku("certs", "-a", app), name, host, "SNI", "False")
	expectIn(t, heroku("certs:info", "-a", app), "Certificate details", host)
	expectIn(t, heroku("domains", "-a", app), host, name)
	// domains:update --cert associates (PATCH), domains:info reads it back.
	heroku("domains:update", host, "--cert", name, "-a", app)
	expectIn(t, heroku("domains:info", host, "-a", app), host, name)
	expectIn(t, heroku("certs:info", "--show-domains", "-a", app), "Domain(s)", host)

	c2 := validCert(t, 180, host)
	crt2, key2 := write("renewed.crt", c2.certPEM), write("renewed.key", c2.key)
	expectIn(t, heroku("certs:update", crt2, key2, "-a", app, "--confirm", app), "Updated certificate details", host)
	if m.api("GET", "/apps/"+app+"/sni-endpoints", "", &list); len(list) != 1 || list[0].SSLCert.ExpiresAt != rfc3339(c2.notAfter) {
		t.Errorf("after certs:update: %+v", list)
	}

	heroku("certs:remove", "-a", app, "--confirm", app)
	expectIn(t, heroku("certs", "-a", app), "has no SSL certificates")
}

// TestSNIEndpointsWithoutACME: -https-addr alone serves uploaded
// certificates; ACM is unavailable.
func TestSNIEndpointsWithoutACME(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, t.TempDir(), token, "-https-addr", "127.0.0.1:0")
	match := welcomeHTTPS.FindStringSubmatch(m.out.String())
	if match == nil {
		t.Fatalf("no HTTPS line in the welcome:\n%s", m.out.String())
	}
	httpsAddr := match[1]
	m.createApp("plaintls")
	c := validCert(t, 30, "www.plain.test")
	m.addCert("plaintls", c)
	m.addDomainAPI("plaintls", "www.plain.test")
	expectLeaf(t, httpsAddr, "www.plain.test", c.leaf, "an uploaded certificate without ACME")
	expectLeaf(t, httpsAddr, "other.plain.test", nil, "a name no certificate covers")
	if code := m.api("PATCH", "/apps/plaintls", `{"name":"renamedtls"}`, nil); code != http.StatusOK {
		t.Fatalf("rename: %d", code)
	}
	expectLeaf(t, httpsAddr, "www.plain.test", c.leaf, "an uploaded certificate after an app rename")
	if code := m.api("POST", "/apps/plaintls/acm", "", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("certs:auto:enable without ACME: %d, want 422", code)
	}

	// A wildcard domain with a wildcard certificate: the names under it
	// get that certificate and route to the app.
	cw := validCert(t, 30, "*.wild.plain.test")
	m.addCert("renamedtls", cw)
	if d := m.addDomainAPI("renamedtls", "*.Wild.plain.test"); d.Hostname != "*.wild.plain.test" || d.Kind != "custom" || d.CNAME == nil {
		t.Errorf("wildcard domain: %+v", d)
	}
	expectLeaf(t, httpsAddr, "x.wild.plain.test", cw.leaf, "a name under a wildcard domain")
	if code, body, err := m.get("a.b.wild.plain.test"); err != nil || code == http.StatusNotFound {
		t.Errorf("a name two labels under the wildcard domain: %d %q %v, want the app's answer (not 404)", code, body, err)
	}
	if code, _, err := m.get("wild.plain.test"); err != nil || code != http.StatusNotFound {
		t.Errorf("the name the wildcard covers, itself: %d %v, want 404", code, err)
	}
	for _, d := range []string{"*.test", "*.localhost", "*.x.localhost", "a.*.plain.test"} {
		m.expectError("POST", "/apps/renamedtls/domains", `{"hostname":"`+d+`"}`, http.StatusUnprocessableEntity, "invalid_params")
	}
	m.createApp("otherwild")
	m.expectError("POST", "/apps/otherwild/domains", `{"hostname":"*.wild.plain.test"}`, http.StatusConflict, "conflict")
	m.addDomainAPI("otherwild", "www.wild.plain.test") // an exact name under it is another app's to take
}
