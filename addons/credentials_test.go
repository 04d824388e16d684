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

func TestManagerCredentialAttachments(t *testing.T) {
	mem := addonstest.NewMemProvider("DATABASE", "hobby", "standard")
	m, cfg := newManager(mem)
	ctx := context.Background()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:standard"})
	if err != nil {
		t.Fatal(err)
	}
	svc, id, err := m.ResourceID(a.Name)
	if err != nil {
		t.Fatal(err)
	}
	analyst, err := svc.Provider.(addons.CredentialManager).CreateCredential(ctx, id, "analyst")
	if err != nil {
		t.Fatal(err)
	}
	own := cfg.Vars("shop")["DATABASE_URL"]

	if c, err := m.Credential(ctx, a.Name, "analyst"); err != nil || c != analyst {
		t.Errorf("Credential(analyst) = %+v, %v", c, err)
	}
	if _, err := m.Credential(ctx, a.Name, "nobody"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Credential(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := m.AttachCredential(ctx, a.Name, "reports", "ANALYST_DB", "nobody"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("AttachCredential of an unknown credential = %v, want ErrNotFound", err)
	}
	at, err := m.AttachCredential(ctx, a.Name, "reports", "ANALYST_DB", "analyst")
	if err != nil {
		t.Fatal(err)
	}
	if at.Credential != "analyst" || !slices.Equal(at.ConfigNames, []string{"ANALYST_DB_URL"}) {
		t.Errorf("attachment = %+v", at)
	}
	if got := cfg.Vars("reports")["ANALYST_DB_URL"]; got != analyst.URL {
		t.Errorf("ANALYST_DB_URL = %q, want the credential's URL %q", got, analyst.URL)
	}
	// "default" is the add-on's own config.
	if _, err := m.AttachCredential(ctx, a.Name, "reports", "SHOP_DB", "default"); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Vars("reports")["SHOP_DB_URL"]; got != own {
		t.Errorf("SHOP_DB_URL = %q, want the add-on's URL", got)
	}
	if got, _ := m.AddOn(a.Name); !slices.ContainsFunc(got.Attachments, func(at addons.Attachment) bool {
		return at.Name == "ANALYST_DB" && at.Credential == "analyst"
	}) {
		t.Errorf("AddOn's attachments = %+v", got.Attachments)
	}

	// The add-on's own rotation leaves the credential attachment alone.
	if _, err := m.RotateCredentials(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if cfg.Vars("reports")["ANALYST_DB_URL"] != analyst.URL || cfg.Vars("reports")["SHOP_DB_URL"] == own {
		t.Errorf("after RotateCredentials: ANALYST_DB_URL changed or SHOP_DB_URL did not")
	}
	// The credential's rotation reaches its attachments, one release each.
	rotated, err := m.RotateCredential(ctx, a.Name, "analyst")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.URL == analyst.URL || cfg.Vars("reports")["ANALYST_DB_URL"] != rotated.URL {
		t.Errorf("after RotateCredential: ANALYST_DB_URL = %q, want %q", cfg.Vars("reports")["ANALYST_DB_URL"], rotated.URL)
	}
	if rels := cfg.Releases("reports"); !slices.Contains(rels, "Update ANALYST_DB (credential analyst rotated)") {
		t.Errorf("reports's releases: %q", rels)
	}
	// An app refusing the new URL is named; the rotation has happened.
	cfg.SetFail(func(app, _ string) error { return errors.New("release store is down") })
	again, err := m.RotateCredential(ctx, a.Name, "analyst")
	cfg.SetFail(nil)
	if err == nil || !strings.Contains(err.Error(), "app reports keeps the old URL in ANALYST_DB_URL") || again.URL == rotated.URL {
		t.Errorf("RotateCredential with the app refusing = %+v, %v", again, err)
	}
	if _, err := m.RotateCredential(ctx, a.Name, "analyst"); err != nil || cfg.Vars("reports")["ANALYST_DB_URL"] == rotated.URL {
		t.Errorf("rotating again did not repair the app: %v", err)
	}

	// pg:promote cannot move a credential attachment.
	if _, err := m.Reattach(ctx, a.Name, "reports", "ANALYST_DB"); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("Reattach of a credential attachment = %v, want ErrInvalid", err)
	}
	// An attached credential is not destroyed.
	if err := m.DestroyCredential(ctx, a.Name, "analyst"); !errors.Is(err, addons.ErrInvalid) || !strings.Contains(err.Error(), "ANALYST_DB on app reports") {
		t.Errorf("DestroyCredential while attached = %v", err)
	}
	// A renamed app keeps it.
	if err := m.RenameApp(ctx, "reports", "bi"); err != nil {
		t.Fatal(err)
	}
	if ats := m.Attachments("bi"); !slices.ContainsFunc(ats, func(at addons.Attachment) bool { return at.Credential == "analyst" }) {
		t.Errorf("after RenameApp: %+v", ats)
	}
	if err := m.Detach(ctx, "bi", "ANALYST_DB"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("bi")["ANALYST_DB_URL"]; ok {
		t.Error("Detach left ANALYST_DB_URL")
	}
	if err := m.DestroyCredential(ctx, a.Name, "analyst"); err != nil {
		t.Fatalf("DestroyCredential after detach: %v", err)
	}
	if _, err := m.RotateCredential(ctx, a.Name, "analyst"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("RotateCredential of a destroyed credential = %v", err)
	}

	// Destroying the add-on removes credential attachments' vars too.
	if _, err := svc.Provider.(addons.CredentialManager).CreateCredential(ctx, id, "writer"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AttachCredential(ctx, a.Name, "bi", "WRITER_DB", "writer"); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if vars := cfg.Vars("bi"); len(vars) != 0 {
		t.Errorf("after Destroy, bi has %v", vars)
	}

	// A provider without named credentials has none to attach.
	m2, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.AttachCredential(ctx, b.Name, "reports", "X", "analyst"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("AttachCredential without named credentials = %v, want ErrNotFound", err)
	}
}

// repairCounter counts RepairDefaultCredential calls.
type repairCounter struct {
	*addonstest.MemProvider
	repaired []string
}

func (r *repairCounter) RepairDefaultCredential(ctx context.Context, id string) error {
	r.repaired = append(r.repaired, id)
	return nil
}

func TestManagerRepairDefaultCredential(t *testing.T) {
	ctx := context.Background()
	rc := &repairCounter{MemProvider: addonstest.NewMemProvider("DATABASE", "standard")}
	m, _ := newManager(rc)
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:standard"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RepairDefaultCredential(ctx, a.Name); err != nil || !slices.Equal(rc.repaired, []string{a.ProviderID}) {
		t.Errorf("RepairDefaultCredential = %v; provider called for %v", err, rc.repaired)
	}
	if err := m.RepairDefaultCredential(ctx, "no-such-addon"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("unknown add-on: %v", err)
	}
	m2, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.RepairDefaultCredential(ctx, b.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("a provider without named credentials: %v, want ErrNotFound", err)
	}
}

// poolingMem pools through "pooler" instead of "memory".
type poolingMem struct{ *addonstest.MemProvider }

func (poolingMem) PooledURL(u string) (string, error) {
	return strings.Replace(u, "@memory/", "@pooler/", 1), nil
}

func TestManagerPooledAttachments(t *testing.T) {
	ctx := context.Background()
	m, cfg := newManager(poolingMem{addonstest.NewMemProvider("DATABASE", "standard")})
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:standard"})
	if err != nil {
		t.Fatal(err)
	}
	at, err := m.AttachPooled(ctx, a.Name, "shop", "DATABASE_CONNECTION_POOL")
	if err != nil {
		t.Fatal(err)
	}
	own := cfg.Vars("shop")["DATABASE_URL"]
	want := strings.Replace(own, "@memory/", "@pooler/", 1)
	if !at.Pooled || cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"] != want {
		t.Errorf("pooled attachment %+v, URL %q, want %q", at, cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"], want)
	}
	// A rotation reaches the pooled URL too; if the app refuses it,
	// nothing changes.
	cfg.SetFail(func(app, desc string) error {
		if strings.HasPrefix(desc, "Update DATABASE_CONNECTION_POOL") {
			return errors.New("release store is down")
		}
		return nil
	})
	if _, err := m.RotateCredentials(ctx, a.Name); err == nil {
		t.Fatal("RotateCredentials with the pooled attachment refused succeeded")
	}
	cfg.SetFail(nil)
	if cfg.Vars("shop")["DATABASE_URL"] != own || cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"] != want {
		t.Error("a failed rotation changed the app's vars")
	}
	if _, err := m.RotateCredentials(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	rotated := cfg.Vars("shop")["DATABASE_URL"]
	if rotated == own || cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"] != strings.Replace(rotated, "@memory/", "@pooler/", 1) {
		t.Errorf("after rotation: DATABASE_URL %q, pooled %q", rotated, cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"])
	}
	if _, err := m.Reattach(ctx, a.Name, "shop", "DATABASE_CONNECTION_POOL"); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("Reattach of a pooled attachment = %v, want ErrInvalid", err)
	}
	if err := m.Detach(ctx, "shop", "DATABASE_CONNECTION_POOL"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("shop")["DATABASE_CONNECTION_POOL_URL"]; ok {
		t.Error("Detach left the pooled URL")
	}
	m2, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.AttachPooled(ctx, b.Name, "shop", "POOL"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("AttachPooled without a pooler = %v, want ErrNotFound", err)
	}
}
