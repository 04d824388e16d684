package addons_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// TestManagerRenameAddOn: heroku addons:rename changes the name the
// Manager knows the add-on by, and nothing else.
func TestManagerRenameAddOn(t *testing.T) {
	m, cfg := newManager(addonstest.NewMemProvider("DATABASE", "hobby"))
	ctx := context.Background()
	req := addons.CreateRequest{RequestID: "req-1", App: "shop", Plan: "postgres:hobby"}
	db, err := m.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby", As: "OTHER"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, db.Name, "admin", "REPORTING"); err != nil {
		t.Fatal(err)
	}
	vars, releases := cfg.Vars("shop"), len(cfg.Releases("shop"))

	got, err := m.RenameAddOn(db.Name, "orders-db")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "orders-db" || got.ID != db.ID || len(got.Attachments) != 2 {
		t.Errorf("renamed: %+v", got)
	}
	for _, at := range got.Attachments {
		if at.AddOn != "orders-db" {
			t.Errorf("attachment %s still names %s", at.Name, at.AddOn)
		}
	}
	if _, err := m.AddOn(db.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("the old name still finds it: %v", err)
	}
	if !maps.Equal(cfg.Vars("shop"), vars) || len(cfg.Releases("shop")) != releases {
		t.Error("a rename changed the app's config")
	}
	if again, err := m.Create(ctx, req); err != nil || again.Name != "orders-db" {
		t.Errorf("retried Create: %q, %v, want the add-on under its new name", again.Name, err)
	}

	for _, bad := range []string{other.Name, "9lives", "", "has space"} {
		if _, err := m.RenameAddOn("orders-db", bad); !errors.Is(err, addons.ErrInvalid) {
			t.Errorf("rename to %q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := m.RenameAddOn("no-such-addon", "x-db"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("rename of an unknown add-on: %v", err)
	}
	// The new name works everywhere the old one did.
	if err := m.Destroy(ctx, "orders-db"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("shop")["DATABASE_URL"]; ok {
		t.Error("DATABASE_URL after destroying the renamed add-on")
	}
}
