package pebbletest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/dynokit/dynokit/internal/pebbletest"
	"github.com/dynokit/dynokit/internal/testutil"
)

// TestStart runs Pebble and reads its directory through a client that
// trusts only APICAFile, as an ACME client configured from a file would.
func TestStart(t *testing.T) {
	p := pebbletest.New(t)
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t, port, port)
	if p.Roots == nil {
		t.Fatal("Roots not set after Start")
	}
	pemCA, err := os.ReadFile(p.APICAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		t.Fatalf("APICAFile holds no certificate: %q", pemCA)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(p.DirURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dir struct {
		NewOrder string `json:"newOrder"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil || dir.NewOrder == "" {
		t.Fatalf("directory: %v, newOrder %q", err, dir.NewOrder)
	}
	if n := p.Orders(); n != 0 {
		t.Errorf("Orders = %d before any order", n)
	}
}
