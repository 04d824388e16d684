package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigKeyFile: -gen-config-key prints a key; with -config-key-file
// config var values are sealed in releases.db yet reach the dynos; without
// the file, a platform whose config is sealed refuses to start and says
// which flag it needs; a bad key file is refused naming its line.
// writeConfigKey writes a new key file (minipaas -gen-config-key).
func writeConfigKey(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-gen-config-key"}, &out); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "config.keys")
	if err := os.WriteFile(keyFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile
}

// TestConfigKeyFile: with -config-key-file, config vars, webhook secrets
// and uploaded certificates' private keys are sealed at rest, and read
// back after a restart with the key; without it the start is refused.
func TestConfigKeyFile(t *testing.T) {
	keyFile := writeConfigKey(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token, "-config-key-file", keyFile)
	if code := m.api("POST", "/apps", `{"name":"vault"}`, nil); code != 201 {
		t.Fatalf("create app: %d", code)
	}
	m.pushHello(newGitClient(t), "vault")
	if code := m.api("PATCH", "/apps/vault/config-vars", `{"API_SECRET":"s3cr3t-at-rest"}`, nil); code != 200 {
		t.Fatalf("config:set: %d", code)
	}
	if got := m.dynoEnv("vault", "API_SECRET"); got != "s3cr3t-at-rest" {
		t.Errorf("the dyno's API_SECRET = %q", got)
	}
	recv := newHookReceiver(t)
	if st := m.api("POST", "/apps/vault/webhooks", `{"include":["api:release"],"level":"notify","url":"`+recv.srv.URL+`","secret":"hook-secret-at-rest"}`, nil); st != 201 {
		t.Fatalf("add webhook: %d", st)
	}
	m.addDomainAPI("vault", "www.vault.test")
	cert := validCert(t, 30, "www.vault.test")
	m.addCert("vault", cert)
	m.stop()
	raw, err := os.ReadFile(filepath.Join(dataDir, "releases.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("s3cr3t-at-rest")) {
		t.Error("releases.db holds the config var in the clear")
	}
	raw, err = os.ReadFile(filepath.Join(dataDir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hook-secret-at-rest")) {
		t.Error("platform.db holds the webhook secret in the clear")
	}
	if bytes.Contains(raw, []byte("PRIVATE KEY")) || !bytes.Contains(raw, []byte("BEGIN CERTIFICATE")) {
		t.Error("platform.db holds the certificate's private key in the clear (or no certificate at all)")
	}

	args := []string{"-data-dir", dataDir, "-router-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0", "-rendezvous-addr", "127.0.0.1:0"}
	t.Setenv("DYNOKIT_API_TOKEN", token)
	if err := run(context.Background(), args, io.Discard); err == nil || !strings.Contains(err.Error(), "-config-key-file") {
		t.Errorf("start without the key file: %v, want a refusal naming -config-key-file", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.keys")
	if err := os.WriteFile(bad, []byte("# keys\nnot-base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), append(args, "-config-key-file", bad), io.Discard); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("start with a bad key file: %v, want a refusal naming line 2", err)
	}

	m = startMinipaasWith(t, dataDir, token, "-config-key-file", keyFile)
	if got := m.config("vault")["API_SECRET"]; got != "s3cr3t-at-rest" {
		t.Errorf("API_SECRET after a restart = %q", got)
	}
	// The webhook still signs with its secret; the certificate still loads.
	if code := m.api("PATCH", "/apps/vault/config-vars", `{"MORE":"1"}`, nil); code != 200 {
		t.Fatalf("config:set: %d", code)
	}
	got := recv.wait(t, "the release after the restart", func(d hookDelivery) bool { return d.Resource == "release" })
	d := got[len(got)-1]
	mac := hmac.New(sha256.New, []byte("hook-secret-at-rest"))
	mac.Write(d.body)
	if d.signature != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("delivery after a restart signed %q, not with the webhook's secret", d.signature)
	}
	var endpoints []sniEndpointJSON
	if st := m.api("GET", "/apps/vault/sni-endpoints", "", &endpoints); st != 200 || len(endpoints) != 1 {
		t.Errorf("certificates after a restart: %d, %d", st, len(endpoints))
	}
}
