package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/internal/pebbletest"
	"github.com/dynokit/dynokit/release/sealed"
)

func TestTLSFlags(t *testing.T) {
	if o, err := parseFlags([]string{"-data-dir", "/tmp/x", "-https-addr", ":8443"}, io.Discard); err != nil || o.HTTPSAddr != ":8443" {
		t.Errorf("-https-addr alone (uploaded certificates): %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-acme-directory", "https://ca.test/dir"},
		{"-acme-email", "ops@example.test"},
		{"-acme-ca-file", "ca.pem"},
	} {
		if _, err := parseFlags(append([]string{"-data-dir", "/tmp/x"}, args...), io.Discard); !errors.Is(err, errACMFlags) {
			t.Errorf("%q: got %v, want errACMFlags", args, err)
		}
	}
	o, err := parseFlags([]string{"-data-dir", "/tmp/x", "-https-addr", ":8443", "-acme-directory", "https://ca.test/dir",
		"-acme-email", "ops@example.test", "-acme-ca-file", "ca.pem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.HTTPSAddr != ":8443" || o.ACMEDirectory != "https://ca.test/dir" || o.ACMEEmail != "ops@example.test" || o.ACMECAFile != "ca.pem" {
		t.Errorf("parsed %+v", o)
	}
}

// welcomeHTTPS matches the welcome's HTTPS line, for the bound address.
var welcomeHTTPS = regexp.MustCompile(`router TLS on (\S+);`)

// startACMEMinipaas runs minipaas with HTTPS and ACME from p, and returns
// it with its HTTPS address.
func startACMEMinipaas(t *testing.T, p *pebbletest.Server, dataDir, token string, flags ...string) (*minipaas, string) {
	t.Helper()
	m := startMinipaasWith(t, dataDir, token, append([]string{"-https-addr", "127.0.0.1:0",
		"-acme-directory", p.DirURL, "-acme-ca-file", p.APICAFile, "-acme-email", "ops@example.test"}, flags...)...)
	match := welcomeHTTPS.FindStringSubmatch(m.out.String())
	if match == nil {
		t.Fatalf("no HTTPS address in the welcome:\n%s", m.out.String())
	}
	return m, match[1]
}

// startACMEPebble starts a real Pebble and minipaas with HTTPS and ACME
// from it, in a new data directory with a new token; Pebble validates on
// minipaas's router ports (its DNS says 127.0.0.1).
func startACMEPebble(t *testing.T, flags ...string) (p *pebbletest.Server, m *minipaas, httpsAddr, dataDir, token string) {
	t.Helper()
	p = pebbletest.New(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir = t.TempDir()
	m, httpsAddr = startACMEMinipaas(t, p, dataDir, token, flags...)
	routerPort, _ := strconv.Atoi(portOf(m.routerAddr))
	httpsPort, _ := strconv.Atoi(portOf(httpsAddr))
	p.Start(t, routerPort, httpsPort)
	return p, m, httpsAddr, dataDir, token
}

// httpsGet requests https://host/ on the router's HTTPS address (SNI host),
// trusting roots only, over a new connection.
func httpsGet(httpsAddr, host string, roots *x509.CertPool) (string, *x509.Certificate, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, httpsAddr)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Get("https://" + host + "/")
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	return string(b), resp.TLS.PeerCertificates[0], nil
}

// acmStatus polls the app's domains until host's acm_status is want.
func (m *minipaas) acmStatus(app, host, want string) {
	m.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var got []map[string]any
	for time.Now().Before(deadline) {
		got = nil
		if m.api("GET", "/apps/"+app+"/domains", "", &got) == http.StatusOK {
			for _, d := range got {
				if d["hostname"] == host && d["acm_status"] == want {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("domain %s never reached acm_status %q: %v", host, want, got)
}

// TestACMEHTTPS gets a certificate from a real Pebble for an app's custom
// domain once the app turns ACM on, serves the app over HTTPS with it,
// shows it through the CLI, refuses names not added, and serves the same
// certificate after a restart.
func TestACMEHTTPS(t *testing.T) {
	// With a config key file, so that the ACME cache is sealed.
	keyFile := writeConfigKey(t)
	p, m, httpsAddr, dataDir, token := startACMEPebble(t, "-config-key-file", keyFile)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)

	const app, host = "tlsdemo", "www.tlsdemo.test"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != http.StatusCreated {
		t.Fatalf("create app: %d", st)
	}
	m.pushHello(newGitClient(t), app)
	heroku("domains:add", host, "-a", app)
	expectIn(t, heroku("certs:auto", "-a", app), "Automatic Certificate Management is disabled")
	// ACM off: the domain is routed, but no certificate is ordered.
	if _, _, err := httpsGet(httpsAddr, host, p.Roots); err == nil {
		t.Error("a domain of an app with ACM off got a certificate")
	}

	heroku("certs:auto:enable", "-a", app)
	m.acmStatus(app, host, acmIssued)
	body, leaf, err := httpsGet(httpsAddr, host, p.Roots)
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	if !strings.Contains(body, "from web.") {
		t.Errorf("HTTPS answer %q, want the app's", body)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		t.Errorf("certificate: %v", err)
	}
	expectIn(t, heroku("certs:auto", "-a", app), "enabled", host, "Cert issued", "Certificate details", "Pebble Intermediate CA", "not trusted")
	expectIn(t, heroku("certs", "-a", app), app+"-acm", host, "ACM")

	// A wildcard domain routes every name under it, at any depth; ACM
	// leaves it out (it would need DNS-01) and says why.
	const wild = "*.wild.tlsdemo.test"
	heroku("domains:add", wild, "-a", app)
	m.waitFor("a.b.wild.tlsdemo.test", "a name under the wildcard domain", func(status int, body string) bool {
		return status == http.StatusOK && strings.Contains(body, "from web.")
	})
	m.acmStatus(app, wild, acmFailing)
	expectIn(t, heroku("certs:auto", "-a", app), wild, "Failing")
	if _, _, err := httpsGet(httpsAddr, "x.wild.tlsdemo.test", p.Roots); err == nil {
		t.Error("a name under a wildcard domain got an ACM certificate")
	}

	// Names that are not an ACM app's custom domain get no certificate.
	for _, name := range []string{"stranger.tlsdemo.test", app + ".localhost"} {
		if _, _, err := httpsGet(httpsAddr, name, p.Roots); err == nil {
			t.Errorf("%s got a certificate", name)
		}
	}

	// A restart serves the cached certificate: no order (Pebble's ports
	// point at the old listeners, so an order could not even validate).
	m.stop()
	// The cache holds the account key and the certificates' keys sealed.
	cached, _ := filepath.Glob(filepath.Join(dataDir, "acme", "*"))
	if len(cached) < 2 {
		t.Errorf("ACME cache: %v, want the account key and a certificate", cached)
	}
	for _, f := range cached {
		if b, err := os.ReadFile(f); err != nil || !bytes.HasPrefix(b, []byte(sealed.Prefix)) || bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("ACME cache entry %s is not sealed (%v)", filepath.Base(f), err)
		}
	}
	m2, httpsAddr2 := startACMEMinipaas(t, p, dataDir, token, "-config-key-file", keyFile)
	m2.acmStatus(app, host, acmIssued)
	m2.waitFor(app, "the app after the restart", func(status int, body string) bool { return status == http.StatusOK })
	_, leaf2, err := httpsGet(httpsAddr2, host, p.Roots)
	if err != nil {
		t.Fatalf("HTTPS request after the restart: %v", err)
	}
	if !leaf2.Equal(leaf) {
		t.Error("after the restart: a different certificate, want the cached one")
	}

	// A domain added now cannot be validated (Pebble's ports lead to the
	// old listeners): its status says so, with the CA's reason.
	const bad = "new.tlsdemo.test"
	if st := m2.api("POST", "/apps/"+app+"/domains", `{"hostname":"`+bad+`","sni_endpoint":null}`, nil); st != http.StatusCreated {
		t.Fatalf("add %s: %d", bad, st)
	}
	m2.acmStatus(app, bad, acmFailing)
	var domains []domainJSON
	m2.api("GET", "/apps/"+app+"/domains", "", &domains)
	for _, d := range domains {
		if d.Hostname != bad {
			continue
		}
		if d.ACMStatusReason == nil || *d.ACMStatusReason == "" {
			t.Errorf("failing domain without a reason: %+v", d)
		} else {
			t.Logf("%s: %s: %s", bad, *d.ACMStatus, *d.ACMStatusReason)
		}
	}

	// certs:auto:refresh retries it; the router holds it back for now.
	var appInfo appJSON
	if st := m2.api("PATCH", "/apps/"+app+"/acm", `{"acm_refresh":true}`, &appInfo); st != http.StatusOK || !appInfo.ACM {
		t.Errorf("refresh ACM: %d, acm %v", st, appInfo.ACM)
	}
	m2.acmStatus(app, bad, acmFailing)

	// certs:auto:disable stops serving it at once.
	if st := m2.api("DELETE", "/apps/"+app+"/acm", "", &appInfo); st != http.StatusOK || appInfo.ACM {
		t.Fatalf("disable ACM: %d, acm %v", st, appInfo.ACM)
	}
	if _, _, err := httpsGet(httpsAddr2, host, p.Roots); err == nil {
		t.Error("certificate served with ACM off")
	}
}
