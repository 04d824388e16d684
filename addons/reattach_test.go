package addons_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// TestManagerReattach: pg:promote's step, an attachment name moved from
// one add-on to another of the same service in one config change.
func TestManagerReattach(t *testing.T) {
	m, cfg := newManager(addonstest.NewMemProvider("DATABASE", "hobby"))
	ctx := context.Background()
	primary, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	follower, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby", As: "FOLLOWER"})
	if err != nil {
		t.Fatal(err)
	}
	// primary's only attachment is DATABASE: it cannot lose it.
	if _, err := m.Reattach(ctx, follower.Name, "shop", "DATABASE"); !errors.Is(err, addons.ErrLastAttachment) {
		t.Fatalf("Reattach leaving the add-on unattached = %v", err)
	}
	if _, err := m.Attach(ctx, primary.Name, "shop", "OLD_PRIMARY"); err != nil {
		t.Fatal(err)
	}
	releases := len(cfg.Releases("shop"))
	at, err := m.Reattach(ctx, follower.Name, "shop", "DATABASE")
	if err != nil {
		t.Fatal(err)
	}
	vars := cfg.Vars("shop")
	if at.AddOn != follower.Name || vars["DATABASE_URL"] != vars["FOLLOWER_URL"] || vars["OLD_PRIMARY_URL"] == vars["DATABASE_URL"] {
		t.Errorf("after Reattach: %+v, vars %v", at, vars)
	}
	if rels := cfg.Releases("shop"); len(rels) != releases+1 || rels[len(rels)-1] != "Update DATABASE" {
		t.Errorf("Reattach's releases: %q, want one Update DATABASE", rels[releases:])
	}
	got, _ := m.AddOn(follower.Name)
	if !slices.ContainsFunc(got.Attachments, func(a addons.Attachment) bool { return a.Name == "DATABASE" }) {
		t.Errorf("the follower's attachments: %+v", got.Attachments)
	}
	got, _ = m.AddOn(primary.Name)
	if slices.ContainsFunc(got.Attachments, func(a addons.Attachment) bool { return a.Name == "DATABASE" }) {
		t.Errorf("the old primary keeps DATABASE: %+v", got.Attachments)
	}
	// Detaching DATABASE now unsets the follower's vars, not the old one's.
	if err := m.Detach(ctx, "shop", "DATABASE"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("shop")["DATABASE_URL"]; ok {
		t.Error("DATABASE_URL after detaching DATABASE")
	}
	if again, err := m.Reattach(ctx, follower.Name, "shop", "FOLLOWER"); err != nil || again.AddOn != follower.Name {
		t.Errorf("Reattach to the add-on it names = %+v, %v", again, err)
	}
	if _, err := m.Reattach(ctx, follower.Name, "shop", "NOPE"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Reattach of a missing attachment = %v", err)
	}
}
