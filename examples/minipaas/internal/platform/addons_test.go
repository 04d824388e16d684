package platform

import (
	"context"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/release"
)

// An addons.Manager writing through the platform makes add-on releases:
// the vars appear on create, survive a rollback, resist config:set, and go
// on destroy.
func TestAddonsApplyConfig(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CreateApp(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConfig(ctx, "shop", map[string]string{"A": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{
			Name: "postgres", ConfigPrefix: "DATABASE",
			Plans:    []addons.Plan{{Name: "hobby"}},
			Provider: addonstest.NewMemProvider("DATABASE", "hobby"),
		}}},
		Config: p,
	}
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	rels, _ := p.Releases(ctx, "shop", defaultList)
	if rels[0].Description != "Attach DATABASE" || rels[0].Config["DATABASE_URL"] == "" {
		t.Fatalf("after create: v%d %q, vars %v", rels[0].Version, rels[0].Description, rels[0].Config.Names())
	}
	if _, err := p.SetConfig(ctx, "shop", map[string]string{"DATABASE_URL": "x"}, nil); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("config:set of an add-on var = %v, want an error naming it", err)
	}
	if _, err := p.SetConfig(ctx, "shop", map[string]string{"A": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	rb, err := p.Rollback(ctx, "shop", rels[0].Version)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Config["A"] != "1" || rb.Config["DATABASE_URL"] != rels[0].Config["DATABASE_URL"] {
		t.Errorf("rollback: vars %v", rb.Config.Names())
	}
	if err := m.Destroy(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	cfg, _ := p.Config(ctx, "shop")
	if _, ok := cfg["DATABASE_URL"]; ok || cfg["A"] != "1" {
		t.Errorf("after destroy: vars %v", cfg.Names())
	}
	if rels, _ := p.Releases(ctx, "shop", defaultList); rels[0].Description != "Detach DATABASE" {
		t.Errorf("destroy made %q", rels[0].Description)
	}
}

var defaultList = release.ListOptions{}
