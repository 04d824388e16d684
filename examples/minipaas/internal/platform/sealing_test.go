package platform

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/release/sealed"
)

// TestConfigKeys: with ConfigKeys, no config var value reaches releases.db
// in the clear; a reopen with the keys reads them back, with a rotated key
// too; a reopen without keys is refused, and plaintext written before the
// keys stays readable.
func TestConfigKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := func(t *testing.T, n int) []sealed.Key {
		var text strings.Builder
		for range n {
			line, err := sealed.NewKeyText()
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(line + "\n")
		}
		ks, err := sealed.ParseKeys(text.String())
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	open := func(ks []sealed.Key) (*Platform, error) {
		return Open(ctx, Config{DataDir: dir, ConfigKeys: ks})
	}

	// Plaintext first, as a platform that ran before keys were given.
	p, err := open(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateApp(ctx, "vault"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConfig(ctx, "vault", map[string]string{"OLD_SECRET": "plain-before-keys"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	first := keys(t, 1)
	p, err = open(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConfig(ctx, "vault", map[string]string{"DATABASE_URL": "postgres://u:hunter2-sealed@db/x"}, nil); err != nil {
		t.Fatal(err)
	}
	if cfg, err := p.Config(ctx, "vault"); err != nil || cfg["DATABASE_URL"] != "postgres://u:hunter2-sealed@db/x" || cfg["OLD_SECRET"] != "plain-before-keys" {
		t.Fatalf("Config = %v, %v", cfg, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "releases.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter2-sealed")) {
		t.Error("releases.db holds the sealed value in the clear")
	}
	if !bytes.Contains(raw, []byte(sealed.Prefix)) {
		t.Error("releases.db holds no sealed value")
	}

	// Without keys: refused, naming the key.
	if _, err := open(nil); !errors.Is(err, ErrConfigKeysNeeded) || !strings.Contains(err.Error(), first[0].ID) {
		t.Fatalf("Open without keys = %v, want ErrConfigKeysNeeded naming %s", err, first[0].ID)
	}

	// Rotation: a new key first, the old one still opens.
	rotated := append(keys(t, 1), first...)
	p, err = open(rotated)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.SetConfig(ctx, "vault", map[string]string{"NEW": "after-rotation"}, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := p.Config(ctx, "vault")
	if err != nil || cfg["DATABASE_URL"] != "postgres://u:hunter2-sealed@db/x" || cfg["NEW"] != "after-rotation" || cfg["OLD_SECRET"] != "plain-before-keys" {
		t.Errorf("Config after rotation = %v, %v", cfg, err)
	}
	// The old release still opens (rollback reads it).
	if rel, err := p.Release(ctx, "vault", 2); err != nil || rel.Config["DATABASE_URL"] == "" {
		t.Errorf("v2 after rotation: %v, %v", rel.Config.Names(), err)
	}
}
