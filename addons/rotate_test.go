package addons_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// undoCounter counts the undos of its rotations.
type undoCounter struct {
	*addonstest.MemProvider
	undos int
}

func (u *undoCounter) RotateCredentials(ctx context.Context, id string) (addons.Resource, func(context.Context) error, error) {
	res, undo, err := u.MemProvider.RotateCredentials(ctx, id)
	return res, func(ctx context.Context) error { u.undos++; return undo(ctx) }, err
}

func TestManagerRotateCredentials(t *testing.T) {
	rot := &undoCounter{MemProvider: addonstest.NewMemProvider("DATABASE", "hobby", "standard")}
	m, cfg := newManager(rot)
	ctx := context.Background()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, a.Name, "reports", "SHOP_DB"); err != nil {
		t.Fatal(err)
	}
	before := cfg.Vars("shop")["DATABASE_URL"]

	// An app that refuses the new vars: nothing changes anywhere.
	cfg.SetFail(func(app, _ string) error {
		if app == "reports" {
			return errors.New("release store is down")
		}
		return nil
	})
	if _, err := m.RotateCredentials(ctx, a.Name); err == nil || !strings.Contains(err.Error(), "release store is down") {
		t.Fatalf("RotateCredentials with an app refusing = %v", err)
	}
	cfg.SetFail(nil)
	if got := cfg.Vars("shop")["DATABASE_URL"]; got != before {
		t.Error("a failed rotation left the billing app with new credentials")
	}
	if got := cfg.Vars("reports")["SHOP_DB_URL"]; got != before {
		t.Error("a failed rotation changed the attached app's vars")
	}
	if rot.undos != 1 {
		t.Errorf("a failed rotation called the provider's undo %d times, want 1", rot.undos)
	}

	rotated, err := m.RotateCredentials(ctx, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	after := cfg.Vars("shop")["DATABASE_URL"]
	if after == before || cfg.Vars("reports")["SHOP_DB_URL"] != after || rotated.Name != a.Name {
		t.Errorf("after the rotation: shop %q, reports %q (before %q)", after, cfg.Vars("reports")["SHOP_DB_URL"], before)
	}
	if rels := cfg.Releases("reports"); !slices.Contains(rels, "Update SHOP_DB (credentials rotated)") {
		t.Errorf("reports's releases: %q", rels)
	}
	if rels := cfg.Releases("shop"); !slices.Contains(rels, "Update DATABASE (credentials rotated)") {
		t.Errorf("shop's releases: %q", rels)
	}

	if _, err := m.RotateCredentials(ctx, "no-such-addon"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("RotateCredentials of an unknown add-on = %v", err)
	}
	m2, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.RotateCredentials(ctx, b.Name); !errors.Is(err, addons.ErrRotateUnsupported) {
		t.Errorf("RotateCredentials through a provider without CredentialRotator = %v", err)
	}
}

// Rotation takes the add-on like a plan change.
func TestManagerRotateCredentialsWhileBusy(t *testing.T) {
	g := newBackupGate()
	m, _ := newManager(g)
	ctx := context.Background()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan error, 1)
	go func() {
		_, err := m.ChangePlan(ctx, a.Name, "standard")
		changed <- err
	}()
	<-g.entered
	if _, err := m.RotateCredentials(ctx, a.Name); !errors.Is(err, addons.ErrBusy) {
		t.Errorf("RotateCredentials during a plan change = %v, want ErrBusy", err)
	}
	close(g.release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
}
