package main

import (
	"bytes"
	"context"
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
func TestConfigKeyFile(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-gen-config-key"}, &out); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "config.keys")
	if err := os.WriteFile(keyFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
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
	m.stop()
	raw, err := os.ReadFile(filepath.Join(dataDir, "releases.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("s3cr3t-at-rest")) {
		t.Error("releases.db holds the config var in the clear")
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
}
