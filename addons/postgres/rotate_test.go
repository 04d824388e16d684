package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/addons"
)

func TestRotateCredentials(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	req := addons.ProvisionRequest{ID: "rotate-" + t.Name(), Plan: "hobby"}
	res, err := p.Provision(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(context.Background(), res.ID) })
	oldURL := res.Config["DATABASE_URL"]
	open := mustConnect(t, oldURL) // a session from before the rotation

	rotated, undo, err := p.RotateCredentials(ctx(t), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	newURL := rotated.Config["DATABASE_URL"]
	if newURL == oldURL || !strings.Contains(newURL, res.ID) || len(rotated.Config) != len(res.Config) {
		t.Fatalf("rotated config: %d vars, URL changed %v", len(rotated.Config), newURL != oldURL)
	}
	if _, err := connect(t, oldURL); err == nil {
		t.Error("the old password still logs in after the rotation")
	}
	usable(t, rotated)
	if err := open.Ping(ctx(t)); err != nil {
		t.Errorf("a session opened before the rotation was closed: %v", err)
	}
	// Provisioning again (a platform's restore) gives the new password.
	if again, err := p.Provision(ctx(t), req); err != nil || again.Config["DATABASE_URL"] != newURL {
		t.Errorf("provision after the rotation: %v, the new URL: %v", err, again.Config["DATABASE_URL"] == newURL)
	}
	if err := undo(ctx(t)); err != nil {
		t.Fatal(err)
	}
	usable(t, res)
	if _, err := connect(t, newURL); err == nil {
		t.Error("the rotated password still logs in after undo")
	}
	if _, _, err := p.RotateCredentials(ctx(t), "pg000000000000000000000000"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("rotation of an unknown resource = %v, want ErrNotFound", err)
	}
}
