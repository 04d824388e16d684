package platform

import (
	"bytes"
	"context"
	"slices"
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

	// Two attachments at once (a first Postgres database's): one release
	// each for create, a URL change and destroy, each var owned by its
	// attachment.
	a, err = m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", Also: []string{"HEROKU_POSTGRESQL_JADE"}})
	if err != nil {
		t.Fatal(err)
	}
	rels, _ = p.Releases(ctx, "shop", defaultList)
	if r := rels[0]; r.Description != "Attach DATABASE, HEROKU_POSTGRESQL_JADE" || r.Config["HEROKU_POSTGRESQL_JADE_URL"] != r.Config["DATABASE_URL"] ||
		!slices.Equal(r.Addons["DATABASE"], []string{"DATABASE_URL"}) || !slices.Equal(r.Addons["HEROKU_POSTGRESQL_JADE"], []string{"HEROKU_POSTGRESQL_JADE_URL"}) {
		t.Errorf("after create: v%d %q, vars %v, add-ons %v", r.Version, r.Description, r.Config.Names(), r.Addons)
	}
	if err := p.ApplyConfig(ctx, "shop", map[string]string{"DATABASE_URL": "pg://new", "HEROKU_POSTGRESQL_JADE_URL": "pg://new"}, nil, "Update DATABASE, HEROKU_POSTGRESQL_JADE (failover)"); err != nil {
		t.Fatal(err)
	}
	if err := p.ApplyConfig(ctx, "shop", map[string]string{"OTHER_URL": "x"}, nil, "Update DATABASE, HEROKU_POSTGRESQL_JADE (stray)"); err == nil {
		t.Error("a var of neither attachment was accepted")
	}
	rels, _ = p.Releases(ctx, "shop", defaultList)
	if r := rels[0]; r.Version != rels[1].Version+1 || r.Config["DATABASE_URL"] != "pg://new" || r.Config["HEROKU_POSTGRESQL_JADE_URL"] != "pg://new" {
		t.Errorf("after the update: v%d %q, vars %v", r.Version, r.Description, r.Config)
	}
	if err := m.Destroy(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	rels, _ = p.Releases(ctx, "shop", defaultList)
	if r := rels[0]; r.Description != "Detach DATABASE, HEROKU_POSTGRESQL_JADE" || r.Addons != nil || len(r.Config) != 1 {
		t.Errorf("after destroy: %q, vars %v, add-ons %v", r.Description, r.Config.Names(), r.Addons)
	}

	// Nested names (DB and DB_RO): a var an attachment already has stays
	// its own in a joint update, whatever its longest prefix.
	for _, step := range []struct {
		set  map[string]string
		desc string
	}{
		{map[string]string{"DB_URL": "pg://a", "DB_RO_HOST": "h1"}, "Attach DB"},
		{map[string]string{"DB_RO_URL": "pg://a"}, "Attach DB_RO"},
		{map[string]string{"DB_RO_HOST": "h2", "DB_RO_URL": "pg://b"}, "Update DB, DB_RO (moved)"},
	} {
		if err := p.ApplyConfig(ctx, "shop", step.set, nil, step.desc); err != nil {
			t.Fatalf("%s: %v", step.desc, err)
		}
	}
	rels, _ = p.Releases(ctx, "shop", defaultList)
	if r := rels[0]; !slices.Equal(r.Addons["DB"], []string{"DB_RO_HOST", "DB_URL"}) || !slices.Equal(r.Addons["DB_RO"], []string{"DB_RO_URL"}) ||
		r.Config["DB_RO_HOST"] != "h2" || r.Config["DB_RO_URL"] != "pg://b" {
		t.Errorf("after the joint update: add-ons %v, DB_RO_HOST %q", r.Addons, r.Config["DB_RO_HOST"])
	}
}

var defaultList = release.ListOptions{}

// Attaching an add-on runs the release phase; the add-on changing vars it
// owns (a failover's new DATABASE_URL, rotated credentials, a plan change)
// makes a release without it, as on Heroku.
func TestAddonChangesAndTheReleasePhase(t *testing.T) {
	ctx := context.Background()
	p := start(t, t.TempDir())
	t.Cleanup(func() { p.stop(t) })
	if _, err := p.CreateApp(ctx, "phased"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := p.Deploy(ctx, "phased", "testdata/webworker", "", &out); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	app, _ := p.App(ctx, "phased")
	phaseRan := func(desc string) bool {
		t.Helper()
		rels, err := p.Releases(ctx, "phased", defaultList)
		if err != nil || !strings.HasPrefix(rels[0].Description, desc) || rels[0].Status != release.StatusSucceeded {
			t.Fatalf("latest release: %q %s, %v; want %q…, succeeded", rels[0].Description, rels[0].Status, err, desc)
		}
		rc, err := p.ReleaseOutput(ctx, app.ID, rels[0].Version, p.ReleaseOutputToken(app.ID, rels[0].Version))
		if err == nil {
			rc.Close()
		}
		return err == nil
	}
	if !phaseRan("Deploy ") {
		t.Fatal("the deploy ran no release phase")
	}
	if err := p.ApplyConfig(ctx, "phased", map[string]string{"DATABASE_URL": "postgres://one"}, nil, "Attach DATABASE"); err != nil {
		t.Fatal(err)
	}
	if !phaseRan("Attach DATABASE") {
		t.Error("attaching an add-on did not run the release phase")
	}
	if err := p.ApplyConfig(ctx, "phased", map[string]string{"DATABASE_URL": "postgres://two"}, nil, "Update DATABASE (by add-on)"); err != nil {
		t.Fatal(err)
	}
	if phaseRan("Update DATABASE") {
		t.Error("an add-on's change of its own vars ran the release phase")
	}
	if cfg, _ := p.Config(ctx, "phased"); cfg["DATABASE_URL"] != "postgres://two" {
		t.Errorf("DATABASE_URL = %q after the update", cfg["DATABASE_URL"])
	}
}
