package addons_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// renameFixture: app shop has its own add-on shop-db (attached to shop as
// DATABASE and shared with reports as SHOP_DB) and an attachment of
// reports' add-on reports-db (REPORTS_DB). Every resource also has a
// DATABASE_TLS_URL, so shop's config var names can clash.
func renameFixture(t *testing.T, p addons.Provider) (*addons.Manager, *addonstest.MemConfig) {
	t.Helper()
	ctx := context.Background()
	m, cfg := newManager(p)
	if _, err := m.Create(ctx, addons.CreateRequest{RequestID: "req-shop", App: "shop", Plan: "postgres", Name: "shop-db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, addons.CreateRequest{App: "reports", Plan: "postgres", Name: "reports-db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, "shop-db", "reports", "SHOP_DB"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, "reports-db", "shop", "REPORTS_DB"); err != nil {
		t.Fatal(err)
	}
	return m, cfg
}

func newTLSFake() *fakeProvider {
	p := newFake()
	p.extra = addons.Config{"DATABASE_TLS_URL": "mem://tls"}
	return p
}

// countCalls makes cfg count its changes from now on.
func countCalls(cfg *addonstest.MemConfig) *atomic.Int32 {
	var n atomic.Int32
	cfg.SetFail(func(string, string) error { n.Add(1); return nil })
	return &n
}

func TestRenameApp(t *testing.T) {
	ctx := context.Background()
	m, cfg := renameFixture(t, newTLSFake())
	before := m.Attachments("shop")
	shopVars := cfg.Vars("shop")
	calls := countCalls(cfg)

	if err := m.RenameApp(ctx, "shop", "store"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("RenameApp made %d config changes, want none", n)
	}
	if got := m.Attachments("shop"); len(got) != 0 {
		t.Errorf("Attachments(shop) after the rename = %+v, want none", got)
	}
	want := slices.Clone(before)
	for i := range want {
		want[i].App = "store"
	}
	got := m.Attachments("store")
	if !slices.EqualFunc(got, want, equalAttachment) {
		t.Errorf("Attachments(store) = %+v, want %+v", got, want)
	}
	names := func(ats []addons.Attachment) []string {
		var out []string
		for _, at := range ats {
			out = append(out, at.App+"/"+at.Name)
		}
		return out
	}
	own, err := m.AddOn("shop-db")
	if err != nil {
		t.Fatal(err)
	}
	if own.App != "store" || !slices.Equal(names(own.Attachments), []string{"reports/SHOP_DB", "store/DATABASE"}) {
		t.Errorf("shop-db after the rename: app %s, attachments %v", own.App, names(own.Attachments))
	}
	shared, err := m.AddOn("reports-db")
	if err != nil {
		t.Fatal(err)
	}
	if shared.App != "reports" || !slices.Equal(names(shared.Attachments), []string{"reports/DATABASE", "store/REPORTS_DB"}) {
		t.Errorf("reports-db after the rename: app %s, attachments %v", shared.App, names(shared.Attachments))
	}
	// reports' view of the add-on it shares with the renamed app.
	for _, at := range m.Attachments("reports") {
		a, err := m.AddOn(at.AddOn)
		if err != nil {
			t.Fatal(err)
		}
		if at.AddOn == "shop-db" && a.App != "store" {
			t.Errorf("reports sees shop-db billed to %s, want store", a.App)
		}
		if slices.ContainsFunc(a.Attachments, func(x addons.Attachment) bool { return x.App == "shop" }) {
			t.Errorf("reports sees %s attached to shop: %v", a.Name, names(a.Attachments))
		}
	}
	// A retried Create returns the add-on under the new name.
	retry, err := m.Create(ctx, addons.CreateRequest{RequestID: "req-shop", App: "shop", Plan: "postgres", Name: "shop-db"})
	if err != nil || retry.App != "store" || !slices.Equal(names(retry.Attachments), []string{"store/DATABASE"}) {
		t.Errorf("Create retry after the rename = app %s, attachments %v, %v", retry.App, names(retry.Attachments), err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d config changes before any operation under the new name", n)
	}

	// The platform renames the app's config with the app.
	cfg.SetFail(nil)
	if err := cfg.ApplyConfig(ctx, "store", shopVars, nil, "Rename from shop"); err != nil {
		t.Fatal(err)
	}
	// Attachment names and config vars stay taken under the new name.
	if _, err := m.Attach(ctx, "reports-db", "store", "DATABASE"); !errors.Is(err, addons.ErrDuplicateAttachment) {
		t.Errorf("attach as store's DATABASE again: %v", err)
	}
	if _, err := m.Attach(ctx, "reports-db", "store", "DATABASE_TLS"); err == nil || !strings.Contains(err.Error(), "(attachment DATABASE on app store)") {
		t.Errorf("attach clashing with store's DATABASE_TLS_URL: %v", err)
	}
	// Operations under the new name change the config under the new name.
	if err := m.Detach(ctx, "shop", "REPORTS_DB"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("detach under the old name: %v", err)
	}
	if err := m.Detach(ctx, "store", "REPORTS_DB"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("store")["REPORTS_DB_URL"]; ok {
		t.Error("REPORTS_DB_URL still set on store after the detach")
	}
	if _, err := m.Attach(ctx, "reports-db", "store", "REPORTS_DB"); err != nil {
		t.Fatalf("attach again under the new name: %v", err)
	}
	if err := m.Destroy(ctx, "shop-db"); err != nil {
		t.Fatal(err)
	}
	if v := cfg.Vars("store"); v["DATABASE_URL"] != "" || v["REPORTS_DB_URL"] == "" {
		t.Errorf("store's vars after destroying shop-db: %v", addons.Config(v))
	}
	wantReleases := []string{"Rename from shop", "Detach REPORTS_DB", "Attach REPORTS_DB", "Detach DATABASE"}
	if r := cfg.Releases("store"); !slices.Equal(r, wantReleases) {
		t.Errorf("store releases = %v, want %v", r, wantReleases)
	}
	if r := cfg.Releases("shop"); len(r) != 2 {
		t.Errorf("shop releases = %v, want only the two attaches before the rename", r)
	}
	if r := cfg.Releases("reports"); r[len(r)-1] != "Detach SHOP_DB" {
		t.Errorf("reports releases = %v", r)
	}
	// A new app may take the old name.
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"}); err != nil {
		t.Errorf("create for a new app named shop: %v", err)
	}
}

func equalAttachment(a, b addons.Attachment) bool {
	return a.Name == b.Name && a.App == b.App && a.AddOn == b.AddOn && slices.Equal(a.ConfigNames, b.ConfigNames)
}

// The AddOn values Create returned are the caller's: a rename does not
// change them, and renaming back restores the first state.
func TestRenameAppBackAndResults(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(newFake())
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RenameApp(ctx, "shop", "store"); err != nil {
		t.Fatal(err)
	}
	if db.App != "shop" || db.Attachments[0].App != "shop" {
		t.Errorf("rename changed a returned AddOn: %+v", db)
	}
	if err := m.RenameApp(ctx, "store", "shop"); err != nil {
		t.Fatal(err)
	}
	got, err := m.AddOn(db.Name)
	if err != nil || got.App != "shop" || len(m.Attachments("shop")) != 1 || len(m.Attachments("store")) != 0 {
		t.Errorf("after renaming back: %+v, %v", got, err)
	}
}

func TestRenameAppErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		substr   string // "" = no error
	}{
		{"old empty", "", "store", `rename app "" to "store": app name must not be empty`},
		{"new empty", "shop", "", `rename app "shop" to "": new app name must not be empty`},
		{"same name", "shop", "shop", `rename app "shop" to "shop": the new name must differ from the old`},
		{"new has add-ons", "shop", "reports", `rename app "shop" to "reports": app reports already has add-ons, attachments or config vars (add-on reports-db, 2 attachment(s), 2 config var(s))`},
		{"new has only an attachment", "shop", "viewer", `rename app "shop" to "viewer": app viewer already has add-ons, attachments or config vars (1 attachment(s), 1 config var(s))`},
		{"unknown app to a used name", "ghost", "viewer", `rename app "ghost" to "viewer": app viewer already has`},
		{"unknown app", "ghost", "phantom", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			m, cfg := renameFixture(t, newFake())
			if _, err := m.Attach(ctx, "reports-db", "viewer", "REPORTS"); err != nil {
				t.Fatal(err)
			}
			apps := []string{"shop", "reports", "viewer", "store", "ghost", "phantom"}
			before := map[string][]addons.Attachment{}
			for _, app := range apps {
				before[app] = m.Attachments(app)
			}
			calls := countCalls(cfg)
			err := m.RenameApp(ctx, tt.old, tt.new)
			switch {
			case tt.substr == "" && err != nil:
				t.Fatalf("RenameApp(%q, %q) = %v", tt.old, tt.new, err)
			case tt.substr != "" && (!errors.Is(err, addons.ErrInvalid) || !strings.Contains(err.Error(), tt.substr)):
				t.Fatalf("RenameApp(%q, %q) = %v, want ErrInvalid containing %q", tt.old, tt.new, err, tt.substr)
			}
			for _, app := range apps {
				if got := m.Attachments(app); !slices.EqualFunc(got, before[app], equalAttachment) {
					t.Errorf("Attachments(%s) changed: %+v, was %+v", app, got, before[app])
				}
			}
			if a, _ := m.AddOn("shop-db"); a.App != "shop" {
				t.Errorf("shop-db billed to %s", a.App)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("%d config changes", n)
			}
		})
	}
}

// gatedProvider blocks Provision of the add-on named block until release
// is closed; entered is closed when it starts waiting.
type gatedProvider struct {
	*fakeProvider
	block            string
	entered, release chan struct{}
}

func (g *gatedProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	if req.Name == g.block {
		close(g.entered)
		<-g.release
	}
	return g.fakeProvider.Provision(ctx, req)
}

// A rename waits for the operations in flight on the app, and for those
// only; given up, it moves nothing.
func TestRenameAppWaitsForBusyAddOns(t *testing.T) {
	tests := []struct {
		name string
		// start begins an operation that blocks (in the provider or the
		// config applier) until release is closed.
		start       func(m *addons.Manager) error
		block       string // add-on whose provisioning blocks, or
		blockConfig string // app+" "+description of the change that blocks
		waitsFor    string // "" = the rename need not wait
		wantStore   []string
	}{
		{name: "create for the app", block: "new-db",
			start: func(m *addons.Manager) error {
				_, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres", Name: "new-db", As: "NEW"})
				return err
			},
			waitsFor: "waiting for add-on new-db to be provisioned", wantStore: []string{"DATABASE", "NEW", "REPORTS_DB"}},
		{name: "attach another app's add-on", blockConfig: "shop Attach EXTRA",
			start: func(m *addons.Manager) error {
				ctx := context.Background()
				if _, err := m.Create(ctx, addons.CreateRequest{App: "reports", Plan: "postgres", Name: "extra-db", As: "EXTRA"}); err != nil {
					return err
				}
				_, err := m.Attach(ctx, "extra-db", "shop", "EXTRA")
				return err
			},
			waitsFor: "waiting for attachment EXTRA on app shop to be made", wantStore: []string{"DATABASE", "EXTRA", "REPORTS_DB"}},
		{name: "detach", blockConfig: "shop Detach REPORTS_DB",
			start:    func(m *addons.Manager) error { return m.Detach(context.Background(), "shop", "REPORTS_DB") },
			waitsFor: "waiting for add-on reports-db to finish another operation", wantStore: []string{"DATABASE"}},
		{name: "destroy of a shared add-on", blockConfig: "reports Detach DATABASE",
			start:    func(m *addons.Manager) error { return m.Destroy(context.Background(), "reports-db") },
			waitsFor: "waiting for add-on reports-db to finish another operation", wantStore: []string{"DATABASE"}},
		{name: "update of the app's own add-on", blockConfig: "reports Update SHOP_DB (by add-on)",
			start: func(m *addons.Manager) error {
				_, err := m.UpdateConfig(context.Background(), "shop-db", addons.Config{"DATABASE_URL": "mem://rotated"})
				return err
			},
			waitsFor: "waiting for add-on shop-db to finish another operation", wantStore: []string{"DATABASE", "REPORTS_DB"}},
		{name: "create for another app", block: "other-db",
			start: func(m *addons.Manager) error {
				_, err := m.Create(context.Background(), addons.CreateRequest{App: "other", Plan: "postgres", Name: "other-db"})
				return err
			},
			wantStore: []string{"DATABASE", "REPORTS_DB"}},
		// The add-on is attached to shop: any operation on it holds the rename.
		{name: "attach of a shared add-on to another app", blockConfig: "other Attach SHOP",
			start: func(m *addons.Manager) error {
				_, err := m.Attach(context.Background(), "reports-db", "other", "SHOP")
				return err
			},
			waitsFor: "waiting for add-on reports-db to finish another operation", wantStore: []string{"DATABASE", "REPORTS_DB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			p := &gatedProvider{fakeProvider: newFake(), block: tt.block, entered: entered, release: release}
			m, cfg := renameFixture(t, p)
			if tt.blockConfig != "" {
				var once sync.Once
				cfg.SetFail(func(app, desc string) error {
					if app+" "+desc == tt.blockConfig {
						once.Do(func() { close(entered) })
						<-release
					}
					return nil
				})
			}
			opDone := make(chan error, 1)
			go func() { opDone <- tt.start(m) }()
			<-entered

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			err := m.RenameApp(ctx, "shop", "store")
			cancel()
			if tt.waitsFor == "" {
				if err != nil {
					t.Fatalf("RenameApp with an unrelated operation in flight: %v", err)
				}
			} else {
				if !errors.Is(err, addons.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `addons: rename app "shop" to "store": `+tt.waitsFor) {
					t.Fatalf("RenameApp given up = %v, want ErrBusy and DeadlineExceeded, %q", err, tt.waitsFor)
				}
				if got := m.Attachments("store"); len(got) != 0 {
					t.Fatalf("a rename given up moved %+v", got)
				}
				if a, _ := m.AddOn("shop-db"); a.App != "shop" {
					t.Fatalf("a rename given up moved shop-db to %s", a.App)
				}
				// Without a deadline it waits for the operation.
				renamed := make(chan error, 1)
				go func() { renamed <- m.RenameApp(context.Background(), "shop", "store") }()
				select {
				case err := <-renamed:
					t.Fatalf("RenameApp returned %v while the operation was in flight", err)
				case <-time.After(30 * time.Millisecond):
				}
				close(release)
				select {
				case err := <-renamed:
					if err != nil {
						t.Fatalf("RenameApp after the operation: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("RenameApp still waits after the operation ended")
				}
			}
			if tt.waitsFor == "" {
				close(release)
			}
			if err := <-opDone; err != nil {
				t.Fatalf("the operation in flight: %v", err)
			}
			var got []string
			for _, at := range m.Attachments("store") {
				got = append(got, at.Name)
			}
			if !slices.Equal(got, tt.wantStore) {
				t.Errorf("Attachments(store) = %v, want %v", got, tt.wantStore)
			}
			if rest := m.Attachments("shop"); len(rest) != 0 {
				t.Errorf("Attachments(shop) = %+v, want none", rest)
			}
		})
	}
}

// Renames race with operations and readers (run with -race): every
// operation sees the app under one name or the other, never half.
func TestRenameAppConcurrent(t *testing.T) {
	ctx := context.Background()
	m, _ := renameFixture(t, newFake())
	const n = 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := m.UpdateConfig(ctx, "shop-db", addons.Config{"DATABASE_URL": "mem://" + string(rune('a'+i%26))}); err != nil {
				t.Errorf("UpdateConfig: %v", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range n {
			if _, err := m.ChangePlan(ctx, "reports-db", "standard"); err != nil {
				t.Errorf("ChangePlan: %v", err)
			}
			if _, err := m.ChangePlan(ctx, "reports-db", "hobby"); err != nil {
				t.Errorf("ChangePlan: %v", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, app := range []string{"shop", "store", "reports"} {
				for _, at := range m.Attachments(app) {
					_, _ = m.AddOn(at.AddOn)
				}
			}
		}
	}()
	for i := range 2 * n {
		from, to := "shop", "store"
		if i%2 == 1 {
			from, to = to, from
		}
		if err := m.RenameApp(ctx, from, to); err != nil {
			t.Fatalf("rename %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if a, _ := m.AddOn("shop-db"); a.App != "shop" || len(m.Attachments("shop")) != 2 || len(m.Attachments("store")) != 0 {
		t.Errorf("after an even number of renames: shop-db billed to %s, shop %+v, store %+v", a.App, m.Attachments("shop"), m.Attachments("store"))
	}
}
