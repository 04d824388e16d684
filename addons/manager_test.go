package addons_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// fakeProvider wraps the in-memory provider with faults.
type fakeProvider struct {
	*addonstest.MemProvider
	mu             sync.Mutex
	provisionErr   error
	hang           bool          // block until ctx is done
	extra          addons.Config // merged into every resource's config
	deprovisionErr error
	changedConfig  addons.Config // returned by ChangePlan when set
	provisions     atomic.Int32
}

func newFake() *fakeProvider {
	return &fakeProvider{MemProvider: addonstest.NewMemProvider("DATABASE", "hobby", "standard")}
}

func (f *fakeProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	f.provisions.Add(1)
	f.mu.Lock()
	perr, hang, extra := f.provisionErr, f.hang, f.extra
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return addons.Resource{}, ctx.Err()
	}
	if perr != nil {
		return addons.Resource{}, perr
	}
	res, err := f.MemProvider.Provision(ctx, req)
	maps.Copy(res.Config, extra)
	return res, err
}

func (f *fakeProvider) Deprovision(ctx context.Context, id string) error {
	f.mu.Lock()
	derr := f.deprovisionErr
	f.mu.Unlock()
	if derr != nil {
		return derr
	}
	return f.MemProvider.Deprovision(ctx, id)
}

func (f *fakeProvider) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	res, err := f.MemProvider.ChangePlan(ctx, id, plan)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && f.changedConfig != nil {
		res.Config = f.changedConfig.Clone()
	}
	return res, err
}

func (f *fakeProvider) Fork(ctx context.Context, source string, req addons.ProvisionRequest) (addons.Resource, error) {
	res, err := f.Provision(ctx, req)
	res.Message = "forked from " + source
	return res, err
}

func (f *fakeProvider) set(fn func(*fakeProvider)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// onlyProvider hides the optional interfaces.
type onlyProvider struct{ addons.Provider }

func newManager(p addons.Provider) (*addons.Manager, *addonstest.MemConfig) {
	cfg := &addonstest.MemConfig{}
	return &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{
			{Name: "postgres", ConfigPrefix: "DATABASE", Provider: p,
				Plans: []addons.Plan{{Name: "hobby"}, {Name: "standard"}}},
		}},
		Config:  cfg,
		Timeout: 5 * time.Second,
	}, cfg
}

func TestCatalogValidate(t *testing.T) {
	mem := addonstest.NewMemProvider("DATABASE", "hobby")
	tests := []struct {
		name string
		svc  []addons.Service
		want string // "" = valid
	}{
		{"ok", []addons.Service{{Name: "postgres", ConfigPrefix: "DATABASE", Provider: mem, Plans: []addons.Plan{{Name: "hobby"}}}}, ""},
		{"bad prefix", []addons.Service{{Name: "postgres", ConfigPrefix: "database", Provider: mem, Plans: []addons.Plan{{Name: "hobby"}}}}, `config prefix "database"`},
		{"no provider", []addons.Service{{Name: "postgres", ConfigPrefix: "DATABASE", Plans: []addons.Plan{{Name: "hobby"}}}}, "no provider"},
		{"no plans", []addons.Service{{Name: "postgres", ConfigPrefix: "DATABASE", Provider: mem}}, "no plans"},
		{"plan unknown to provider", []addons.Service{{Name: "postgres", ConfigPrefix: "DATABASE", Provider: mem, Plans: []addons.Plan{{Name: "gold"}}}}, `plan "gold" is not offered by the provider`},
		{"duplicate service", []addons.Service{
			{Name: "pg", ConfigPrefix: "DATABASE", Provider: mem, Plans: []addons.Plan{{Name: "hobby"}}},
			{Name: "pg", ConfigPrefix: "DATABASE", Provider: mem, Plans: []addons.Plan{{Name: "hobby"}}}}, "service name used twice"},
		{"bad service name", []addons.Service{{Name: "9pg", ConfigPrefix: "DATABASE", Provider: mem, Plans: []addons.Plan{{Name: "hobby"}}}}, `add-on name "9pg"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := addons.Catalog{Services: tt.svc}.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestCreateBadInput(t *testing.T) {
	tests := []struct {
		name   string
		req    addons.CreateRequest
		is     error
		substr string
	}{
		{"unknown service", addons.CreateRequest{App: "a", Plan: "mysql:hobby"}, addons.ErrUnknownService, `service "mysql"`},
		{"unknown plan", addons.CreateRequest{App: "a", Plan: "postgres:gold"}, addons.ErrUnknownPlan, `plan "gold" is not offered by service "postgres" (plans: hobby, standard)`},
		{"no app", addons.CreateRequest{Plan: "postgres:hobby"}, addons.ErrInvalid, "app name must not be empty"},
		{"lower-case attachment", addons.CreateRequest{App: "a", Plan: "postgres", As: "db"}, addons.ErrInvalid, `attachment name "db" must start with an upper-case letter`},
		{"attachment with __", addons.CreateRequest{App: "a", Plan: "postgres", As: "MY__DB"}, addons.ErrInvalid, `"MY__DB" must not contain "__"`},
		{"bad add-on name", addons.CreateRequest{App: "a", Plan: "postgres", Name: "-x"}, addons.ErrInvalid, `add-on name "-x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFake()
			m, cfg := newManager(p)
			_, err := m.Create(context.Background(), tt.req)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.substr) {
				t.Fatalf("Create() = %v, want %v containing %q", err, tt.is, tt.substr)
			}
			if n := p.provisions.Load(); n != 0 {
				t.Errorf("provider called %d times for bad input", n)
			}
			if r := cfg.Releases("a"); len(r) != 0 {
				t.Errorf("config changed: %v", r)
			}
		})
	}
}

func TestCreateAttachDetachDestroy(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if db.Plan != "hobby" || !strings.HasPrefix(db.Name, "postgres-") || db.ProviderID == "" {
		t.Fatalf("add-on = %+v", db)
	}
	url := cfg.Vars("shop")["DATABASE_URL"]
	if !strings.HasPrefix(url, "mem://") {
		t.Fatalf("DATABASE_URL = %q", url)
	}
	// A second database on the same app gets DATABASE_<NAME> by default.
	db2, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", Name: "shop-analytics"})
	if err != nil {
		t.Fatal(err)
	}
	if got := db2.Attachments[0].Name; got != "DATABASE_SHOP_ANALYTICS" {
		t.Errorf("default attachment name for a second add-on = %s", got)
	}
	// An explicit name already used is an error, with nothing provisioned.
	before := p.Len()
	_, err = m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "DATABASE"})
	if !errors.Is(err, addons.ErrDuplicateAttachment) {
		t.Fatalf("duplicate attachment: %v", err)
	}
	if p.Len() != before {
		t.Errorf("provider has %d resources after a refused create, want %d", p.Len(), before)
	}
	// Share the first add-on with another app.
	att, err := m.Attach(ctx, db.Name, "reports", "SHOP_DB")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(att.ConfigNames, []string{"SHOP_DB_URL"}) || cfg.Vars("reports")["SHOP_DB_URL"] != url {
		t.Fatalf("attachment %+v, vars %v", att, cfg.Vars("reports"))
	}
	got, _ := m.AddOn(db.Name)
	if len(got.Attachments) != 2 {
		t.Errorf("add-on attachments = %+v", got.Attachments)
	}
	if err := m.Detach(ctx, "shop", "DATABASE"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vars("shop")["DATABASE_URL"]; ok {
		t.Error("DATABASE_URL still set after detach")
	}
	if err := m.Detach(ctx, "reports", "SHOP_DB"); !errors.Is(err, addons.ErrLastAttachment) {
		t.Errorf("detach last attachment: %v", err)
	}
	if err := m.Detach(ctx, "reports", "NOPE"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("detach unknown: %v", err)
	}
	if err := m.Destroy(ctx, db.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddOn(db.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("AddOn after destroy: %v", err)
	}
	if p.Len() != 1 {
		t.Errorf("provider keeps %d resources, want 1", p.Len())
	}
	want := []string{"Attach SHOP_DB", "Detach SHOP_DB"}
	if r := cfg.Releases("reports"); !slices.Equal(r, want) {
		t.Errorf("reports releases = %v, want %v", r, want)
	}
	// The attachment name is free again.
	if _, err := m.Attach(ctx, db2.Name, "reports", "SHOP_DB"); err != nil {
		t.Errorf("reuse a freed attachment name: %v", err)
	}
}

func TestCreateNoHalfState(t *testing.T) {
	secret := "s3cr3t-value"
	tests := []struct {
		name      string
		setup     func(*fakeProvider, *addonstest.MemConfig)
		timeout   time.Duration
		is        error
		substr    []string
		leftovers int
	}{
		{name: "provider fails", setup: func(p *fakeProvider, _ *addonstest.MemConfig) {
			p.provisionErr = errors.New("provider is down: connection refused")
		}, substr: []string{"provider failed", "connection refused"}},
		{name: "provider slow", setup: func(p *fakeProvider, _ *addonstest.MemConfig) { p.hang = true },
			timeout: 50 * time.Millisecond, is: context.DeadlineExceeded, substr: []string{"no answer within 50ms"}},
		{name: "invalid var name", setup: func(p *fakeProvider, _ *addonstest.MemConfig) {
			p.extra = addons.Config{"DATABASE-HOST": secret}
		}, is: addons.ErrInvalid, substr: []string{`"DATABASE-HOST" may contain only letters, digits and '_'`}},
		{name: "var without prefix", setup: func(p *fakeProvider, _ *addonstest.MemConfig) {
			p.extra = addons.Config{"PGHOST": secret}
		}, is: addons.ErrInvalid, substr: []string{`"PGHOST" must start with the service's config prefix (expected DATABASE_<NAME>)`}},
		{name: "reserved var", setup: func(p *fakeProvider, _ *addonstest.MemConfig) {
			p.extra = addons.Config{"HEROKU_DATABASE_URL": secret}
		}, is: addons.ErrInvalid, substr: []string{`"HEROKU_DATABASE_URL" must not start with "HEROKU_"`}},
		{name: "vars differing in case", setup: func(p *fakeProvider, _ *addonstest.MemConfig) {
			p.extra = addons.Config{"DATABASE_url": secret}
		}, is: addons.ErrInvalid, substr: []string{"differs from another var of the same resource only in case"}},
		{name: "apply fails", setup: func(_ *fakeProvider, c *addonstest.MemConfig) {
			c.Fail = func(app, desc string) error { return errors.New("release store unavailable") }
		}, substr: []string{"applying config vars", "release store unavailable"}},
		{name: "apply and compensation fail", setup: func(p *fakeProvider, c *addonstest.MemConfig) {
			c.Fail = func(app, desc string) error { return errors.New("release store unavailable") }
			p.deprovisionErr = errors.New("provider went away")
		}, substr: []string{"release store unavailable", "compensating deprovision", "provider went away", "2 errors occurred"}, leftovers: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFake()
			m, cfg := newManager(p)
			if tt.timeout > 0 {
				m.Timeout = tt.timeout
			}
			tt.setup(p, cfg)
			_, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby", Name: "shop-db"})
			if err == nil {
				t.Fatal("Create succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, s := range tt.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "mem://") {
				t.Errorf("error leaks a config value: %v", err)
			}
			if len(cfg.Vars("shop")) != 0 || len(cfg.Releases("shop")) != 0 {
				t.Errorf("app config changed: %v %v", cfg.Vars("shop"), cfg.Releases("shop"))
			}
			if p.Len() != tt.leftovers {
				t.Errorf("provider keeps %d resources, want %d", p.Len(), tt.leftovers)
			}
			if _, err := m.AddOn("shop-db"); !errors.Is(err, addons.ErrNotFound) {
				t.Errorf("failed add-on is visible: %v", err)
			}
			// Nothing stays reserved: the same create works once faults clear.
			p.set(func(p *fakeProvider) { p.provisionErr, p.hang, p.extra, p.deprovisionErr = nil, false, nil, nil })
			cfg.SetFail(nil)
			m.Timeout = 5 * time.Second
			if _, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby", Name: "shop-db"}); err != nil {
				t.Fatalf("create after the fault cleared: %v", err)
			}
		})
	}
}

func TestCreateCompensationReportsBoth(t *testing.T) {
	p := newFake()
	m, cfg := newManager(p)
	cfg.Fail = func(string, string) error { return errors.New("apply failed") }
	p.deprovisionErr = errors.New("deprovision failed")
	_, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres"})
	var merr *multierror.Error
	if !errors.As(err, &merr) || len(merr.Errors) != 2 {
		t.Fatalf("want a multierror with 2 errors, got %v", err)
	}
}

func TestClashingConfigVars(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	p.extra = addons.Config{"DATABASE_TLS_URL": "mem://tls"}
	m, cfg := newManager(p)
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "CACHE"}); err != nil {
		t.Fatal(err)
	}
	// CACHE_TLS would set CACHE_TLS_URL, which CACHE already owns.
	_, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "CACHE_TLS"})
	if !errors.Is(err, addons.ErrInvalid) || !strings.Contains(err.Error(), `"CACHE_TLS_URL" is already set by another attachment on the app (attachment CACHE on app shop)`) {
		t.Fatalf("clash: %v", err)
	}
	if p.Len() != 1 {
		t.Errorf("clashing resource not deprovisioned: %d resources", p.Len())
	}
	if cfg.Vars("shop")["CACHE_TLS_URL"] != "mem://tls" {
		t.Error("the first attachment's var was overwritten")
	}
}

func TestCreateIdempotent(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, _ := newManager(p)
	req := addons.CreateRequest{RequestID: "req-1", App: "shop", Plan: "postgres"}
	var wg sync.WaitGroup
	got := make([]addons.AddOn, 5)
	errs := make([]error, 5)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = m.Create(ctx, req) }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		if got[i].ID != got[0].ID {
			t.Errorf("create %d made add-on %s, first %s", i, got[i].ID, got[0].ID)
		}
	}
	if n := p.provisions.Load(); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
	// A failed request is retried afresh.
	p.set(func(p *fakeProvider) { p.provisionErr = errors.New("down") })
	req2 := addons.CreateRequest{RequestID: "req-2", App: "shop", Plan: "postgres", As: "OTHER"}
	if _, err := m.Create(ctx, req2); err == nil {
		t.Fatal("want failure")
	}
	p.set(func(p *fakeProvider) { p.provisionErr = nil })
	if _, err := m.Create(ctx, req2); err != nil {
		t.Fatalf("retry after failure: %v", err)
	}
}

func TestDestroyProviderFailureRestoresConfig(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, db.Name, "reports", ""); err != nil {
		t.Fatal(err)
	}
	p.set(func(p *fakeProvider) { p.deprovisionErr = errors.New("disk on fire") })
	err = m.Destroy(ctx, db.Name)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Destroy = %v", err)
	}
	for _, app := range []string{"shop", "reports"} {
		if _, ok := cfg.Vars(app)["DATABASE_URL"]; !ok {
			t.Errorf("app %s lost DATABASE_URL after a failed destroy", app)
		}
	}
	if _, err := m.AddOn(db.Name); err != nil {
		t.Errorf("add-on gone after a failed destroy: %v", err)
	}
	p.set(func(p *fakeProvider) { p.deprovisionErr = nil })
	if err := m.Destroy(ctx, db.Name); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Error("resource left after destroy")
	}
}

// drainProvider returns a log drain URL with every resource.
type drainProvider struct{ *addonstest.MemProvider }

func (d drainProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	res, err := d.MemProvider.Provision(ctx, req)
	res.LogDrainURL = "syslog+tls://logs.example:6514/" + res.ID
	return res, err
}

func TestLogDrains(t *testing.T) {
	ctx := context.Background()
	p := drainProvider{addonstest.NewMemProvider("DATABASE", "hobby")}
	m, cfg := newManager(p)
	drains := &addonstest.MemDrains{}
	m.Drains = drains
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if d := drains.Drains("shop"); len(d) != 1 || d[0] != db.LogDrainURL {
		t.Fatalf("drains %v, want [%s]", d, db.LogDrainURL)
	}
	if err := m.Destroy(ctx, db.Name); err != nil {
		t.Fatal(err)
	}
	if d := drains.Drains("shop"); len(d) != 0 {
		t.Errorf("drain left after destroy: %v", d)
	}
	// A failing log router undoes the create.
	drains.Fail = func(string, string, bool) error { return errors.New("logplex down") }
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"}); err == nil || !strings.Contains(err.Error(), "logplex down") {
		t.Fatalf("create with the log router down: %v", err)
	}
	if p.Len() != 0 || len(cfg.Vars("shop")) != 0 {
		t.Errorf("half state: %d resources, vars %v", p.Len(), cfg.Vars("shop"))
	}
	// Config failing after the drain was added removes the drain again.
	drains.Fail = nil
	cfg.SetFail(func(string, string) error { return errors.New("store down") })
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"}); err == nil {
		t.Fatal("want failure")
	}
	if d := drains.Drains("shop"); len(d) != 0 || p.Len() != 0 {
		t.Errorf("after a failed create: drains %v, %d resources", d, p.Len())
	}
}

func TestChangePlan(t *testing.T) {
	ctx := context.Background()
	t.Run("same config", func(t *testing.T) {
		p := newFake()
		m, cfg := newManager(p)
		db, _ := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		if _, err := m.Attach(ctx, db.Name, "reports", "SHOP_DB"); err != nil {
			t.Fatal(err)
		}
		got, err := m.ChangePlan(ctx, db.Name, "standard")
		if err != nil || got.Plan != "standard" || got.ProviderID != db.ProviderID {
			t.Fatalf("ChangePlan = %+v, %v", got, err)
		}
		if r := cfg.Releases("reports"); len(r) != 1 {
			t.Errorf("the attached app's releases %q, want only its attach", r)
		}
		// Unchanged config: still a release on the billing app (heroku.md
		// §4.1: changing an add-on's plan makes one), and none elsewhere.
		if r := cfg.Releases("shop"); len(r) != 2 || r[1] != "Update DATABASE (plan postgres:standard)" {
			t.Errorf("releases %q, want the attach and the plan change", r)
		}
		if _, err := m.ChangePlan(ctx, db.Name, "gold"); !errors.Is(err, addons.ErrUnknownPlan) {
			t.Errorf("unknown plan: %v", err)
		}
	})
	t.Run("new config reaches every app", func(t *testing.T) {
		p := newFake()
		m, cfg := newManager(p)
		db, _ := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		_, _ = m.Attach(ctx, db.Name, "reports", "SHOP_DB")
		p.set(func(p *fakeProvider) { p.changedConfig = addons.Config{"DATABASE_URL": "mem://bigger"} })
		if _, err := m.ChangePlan(ctx, db.Name, "standard"); err != nil {
			t.Fatal(err)
		}
		if cfg.Vars("shop")["DATABASE_URL"] != "mem://bigger" || cfg.Vars("reports")["SHOP_DB_URL"] != "mem://bigger" {
			t.Errorf("vars not updated: %v %v", cfg.Vars("shop"), cfg.Vars("reports"))
		}
		if r := cfg.Releases("reports"); r[len(r)-1] != "Update SHOP_DB (plan postgres:standard)" {
			t.Errorf("release description %q", r[len(r)-1])
		}
	})
	t.Run("a plan may add config vars", func(t *testing.T) {
		p := newFake()
		m, cfg := newManager(p)
		db, _ := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		_, _ = m.Attach(ctx, db.Name, "reports", "SHOP_DB")
		old := cfg.Vars("shop")["DATABASE_URL"]
		p.set(func(p *fakeProvider) { p.changedConfig = addons.Config{"DATABASE_REPLICA_URL": "mem://replica"} })
		if _, err := m.ChangePlan(ctx, db.Name, "standard"); err != nil {
			t.Fatal(err)
		}
		if v := cfg.Vars("shop"); v["DATABASE_REPLICA_URL"] != "mem://replica" || v["DATABASE_URL"] != old {
			t.Errorf("shop's vars after a plan that adds one: %v", v)
		}
		if v := cfg.Vars("reports"); v["SHOP_DB_REPLICA_URL"] != "mem://replica" || v["SHOP_DB_URL"] != old {
			t.Errorf("reports' vars after a plan that adds one: %v", v)
		}
		got, _ := m.AddOn(db.Name)
		for _, at := range got.Attachments {
			want := []string{at.Name + "_REPLICA_URL", at.Name + "_URL"}
			if !slices.Equal(at.ConfigNames, want) {
				t.Errorf("attachment %s's config names: %v, want %v", at.Name, at.ConfigNames, want)
			}
		}
	})
	t.Run("apply failure reverts", func(t *testing.T) {
		p := newFake()
		m, cfg := newManager(p)
		db, _ := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		old := cfg.Vars("shop")["DATABASE_URL"]
		p.set(func(p *fakeProvider) { p.changedConfig = addons.Config{"DATABASE_URL": "mem://bigger"} })
		cfg.SetFail(func(string, string) error { return errors.New("store down") })
		if _, err := m.ChangePlan(ctx, db.Name, "standard"); err == nil || !strings.Contains(err.Error(), "store down") {
			t.Fatalf("ChangePlan = %v", err)
		}
		got, _ := m.AddOn(db.Name)
		if got.Plan != "hobby" || cfg.Vars("shop")["DATABASE_URL"] != old {
			t.Errorf("after failed change: plan %s", got.Plan)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		m, _ := newManager(onlyProvider{newFake()})
		db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ChangePlan(ctx, db.Name, "standard"); !errors.Is(err, addons.ErrPlanChangeUnsupported) {
			t.Errorf("ChangePlan = %v", err)
		}
	})
}

func TestValidateNames(t *testing.T) {
	tests := []struct {
		fn   func(string) error
		in   string
		rule addons.Rule // "" = valid
	}{
		{addons.ValidateAttachmentName, "DATABASE", ""},
		{addons.ValidateAttachmentName, "HEROKU_POSTGRESQL_JADE", ""},
		{addons.ValidateAttachmentName, "", addons.RuleEmpty},
		{addons.ValidateAttachmentName, "Database", addons.RuleAttachChars},
		{addons.ValidateAttachmentName, "1DB", addons.RuleAttachChars},
		{addons.ValidateAttachmentName, "MY-DB", addons.RuleAttachChars},
		{addons.ValidateAttachmentName, "DB_", addons.RuleAttachUnders},
		{addons.ValidateAttachmentName, strings.Repeat("A", 65), addons.RuleTooLong},
		{addons.ValidateAddonName, "postgres-amber-42", ""},
		{addons.ValidateAddonName, "x", addons.RuleAddonChars},
		{addons.ValidateAddonName, "a b", addons.RuleAddonChars},
		{addons.ValidateConfigVarName, "DATABASE_URL", ""},
		{addons.ValidateConfigVarName, "lower_ok", ""},
		{addons.ValidateConfigVarName, "__X", addons.RuleVarDunder},
		{addons.ValidateConfigVarName, "heroku_x", addons.RuleVarReserved},
		{addons.ValidateConfigVarName, "A.B", addons.RuleVarChars},
		{addons.ValidateConfigVarName, "", addons.RuleEmpty},
	}
	for _, tt := range tests {
		err := tt.fn(tt.in)
		var rule addons.Rule
		var ne *addons.NameError
		var ce *addons.ConfigVarError
		switch {
		case errors.As(err, &ne):
			rule = ne.Rule
		case errors.As(err, &ce):
			rule = ce.Rule
		case err != nil:
			t.Errorf("%q: untyped error %v", tt.in, err)
		}
		if rule != tt.rule {
			t.Errorf("%q: rule %q, want %q (err %v)", tt.in, rule, tt.rule, err)
		}
		if err != nil && !errors.Is(err, addons.ErrInvalid) {
			t.Errorf("%q: error does not wrap ErrInvalid", tt.in)
		}
	}
}

func TestConfigNeverPrintsValues(t *testing.T) {
	c := addons.Config{"DATABASE_URL": "postgres://u:hunter2@h/db"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		if s := fmt.Sprintf(verb, c); strings.Contains(s, "hunter2") || strings.Contains(s, "68756e74657232") {
			t.Errorf("%s prints the value: %s", verb, s)
		}
	}
	r := addons.Resource{Config: c}
	if s := fmt.Sprintf("%+v", r); strings.Contains(s, "hunter2") {
		t.Errorf("Resource prints the value: %s", s)
	}
}

// The in-memory provider passes the conformance suite it ships with.
func TestMemProviderConformance(t *testing.T) {
	addonstest.Suite{Provider: addonstest.NewMemProvider("DATABASE", "hobby", "standard"), Prefix: "DATABASE", Plans: []string{"hobby", "standard"}}.Run(t)
}

func FuzzValidateNames(f *testing.F) {
	for _, s := range []string{"DATABASE", "HEROKU_X", "__A", "a-b", "DB_", "", "ÄB", "A\x00B", "postgres-amber-42"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if addons.ValidateAttachmentName(s) == nil {
			// Every accepted attachment name makes valid config var names,
			// except that the platform (not a provider) may set HEROKU_*.
			if err := addons.ValidateConfigVarName(s + "_URL"); err != nil && !strings.HasPrefix(s+"_", "HEROKU_") {
				t.Fatalf("attachment %q accepted but %s_URL invalid: %v", s, s, err)
			}
		}
		if addons.ValidateConfigVarName(s) == nil {
			for _, c := range []byte(s) {
				if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
					t.Fatalf("config var %q accepted with byte %q", s, c)
				}
			}
		}
		if err := addons.ValidateAddonName(s); err != nil && !strings.Contains(err.Error(), "add-on name") {
			t.Fatalf("error does not name the kind: %v", err)
		}
		cfg := addons.Config{s: "v", "DATABASE_URL": "v"}
		if suffixes, err := addons.ValidateResourceConfig("svc", "DATABASE", cfg); err == nil {
			if len(suffixes) != len(cfg) {
				t.Fatalf("suffixes %v for %v", suffixes, cfg.Names())
			}
		}
	})
}

func BenchmarkManagerCreateDestroy(b *testing.B) {
	ctx := context.Background()
	m, _ := newManager(newFake())
	for b.Loop() {
		a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Destroy(ctx, a.Name); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateResourceConfig(b *testing.B) {
	cfg := addons.Config{"DATABASE_URL": "x", "DATABASE_TLS_URL": "y", "DATABASE_POOL_URL": "z"}
	for b.Loop() {
		if _, err := addons.ValidateResourceConfig("postgres", "DATABASE", cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentCreatesOneAttachmentName(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	stop := make(chan struct{})
	go func() { // readers race with the writers
		for {
			select {
			case <-stop:
				return
			default:
				for _, a := range m.Attachments("shop") {
					_, _ = m.AddOn(a.AddOn)
				}
			}
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "PRIMARY"})
		}()
	}
	wg.Wait()
	close(stop)
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, addons.ErrDuplicateAttachment):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || p.Len() != 1 || len(cfg.Releases("shop")) != 1 {
		t.Errorf("%d creates succeeded, %d resources, %d releases; want 1 each", ok, p.Len(), len(cfg.Releases("shop")))
	}
}

func TestFork(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	src, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:standard"})
	if err != nil {
		t.Fatal(err)
	}
	fork, err := m.Fork(ctx, src.Name, addons.CreateRequest{App: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if fork.Plan != "standard" || fork.Message != "forked from "+src.ProviderID || fork.ProviderID == src.ProviderID {
		t.Errorf("fork %+v", fork)
	}
	if cfg.Vars("staging")["DATABASE_URL"] == cfg.Vars("shop")["DATABASE_URL"] {
		t.Error("fork shares the source's URL")
	}
	if _, err := m.Fork(ctx, src.Name, addons.CreateRequest{App: "staging", Plan: "redis:mini"}); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("fork into another service: %v", err)
	}
	if _, err := m.Fork(ctx, "nope", addons.CreateRequest{App: "staging"}); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("fork of unknown add-on: %v", err)
	}
	m2, _ := newManager(onlyProvider{newFake()})
	a, _ := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if _, err := m2.Fork(ctx, a.Name, addons.CreateRequest{App: "staging"}); !errors.Is(err, addons.ErrForkUnsupported) {
		t.Errorf("fork without Forker: %v", err)
	}
}

func TestUpdateConfig(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx, db.Name, "reports", "SHOP_DB"); err != nil {
		t.Fatal(err)
	}
	oldURL := cfg.Vars("shop")["DATABASE_URL"]

	// Rotated credentials and a new var reach both apps.
	got, err := m.UpdateConfig(ctx, db.Name, addons.Config{"DATABASE_URL": "mem://rotated", "DATABASE_TLS_URL": "mem://tls"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ConfigNames, []string{"DATABASE_TLS_URL", "DATABASE_URL"}) {
		t.Errorf("config names %v", got.ConfigNames)
	}
	want := map[string]string{"SHOP_DB_URL": "mem://rotated", "SHOP_DB_TLS_URL": "mem://tls"}
	if v := cfg.Vars("reports"); !maps.Equal(v, want) {
		t.Errorf("reports vars %v, want %v", addons.Config(v), addons.Config(want))
	}
	if r := cfg.Releases("shop"); r[len(r)-1] != "Update DATABASE (by add-on)" {
		t.Errorf("release %q", r[len(r)-1])
	}

	// Bad names change nothing.
	for _, bad := range []addons.Config{{"DATABASE-X": "v"}, {"OTHER_URL": "v"}, {"HEROKU_DATABASE_URL": "v"}} {
		if _, err := m.UpdateConfig(ctx, db.Name, bad); !errors.Is(err, addons.ErrInvalid) {
			t.Errorf("update %v: %v", bad.Names(), err)
		}
	}

	// A var that another attachment on the app owns clashes.
	other, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "DATABASE_POOL"})
	if err != nil {
		t.Fatal(err)
	}
	before := cfg.Vars("shop")
	if _, err := m.UpdateConfig(ctx, db.Name, addons.Config{"DATABASE_POOL_URL": "mem://x"}); err == nil || !strings.Contains(err.Error(), "already set by another attachment") {
		t.Fatalf("clash: %v", err)
	}
	if !maps.Equal(before, cfg.Vars("shop")) {
		t.Error("clashing update changed the app")
	}

	// One app refusing puts the other back.
	cfg.SetFail(func(app, _ string) error {
		if app == "shop" {
			return errors.New("store down")
		}
		return nil
	})
	if _, err := m.UpdateConfig(ctx, db.Name, addons.Config{"DATABASE_URL": "mem://again", "DATABASE_RO_URL": "mem://ro"}); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("update with a failing app: %v", err)
	}
	cfg.SetFail(nil)
	if v := cfg.Vars("reports"); !maps.Equal(v, want) {
		t.Errorf("reports not restored: %v", addons.Config(v))
	}
	if oldURL == "mem://rotated" {
		t.Fatal("test setup")
	}
	// The failed update released its claim on the new names.
	if _, err := m.Attach(ctx, other.Name, "reports", "SHOP_DB_RO"); err != nil {
		t.Errorf("names of a failed update still claimed: %v", err)
	}
}

// CreateRequest.ID is the provision request id: a platform rebuilding
// its Manager after a restart finds the resources it made before.
func TestManagerCreateWithRecordedID(t *testing.T) {
	mem := addonstest.NewMemProvider("DATABASE", "hobby")
	ctx := context.Background()
	m, _ := newManager(mem)
	first, err := m.Create(ctx, addons.CreateRequest{ID: "recorded-1", App: "shop", Plan: "postgres:hobby", Name: "db-1"})
	if err != nil {
		t.Fatal(err)
	}
	restarted, _ := newManager(mem)
	again, err := restarted.Create(ctx, addons.CreateRequest{ID: "recorded-1", App: "shop", Plan: "postgres:hobby", Name: "db-1"})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != "recorded-1" || again.ProviderID != first.ProviderID || mem.Len() != 1 {
		t.Errorf("recreated with the recorded ID: %q → resource %s, first %s; %d resources", again.ID, again.ProviderID, first.ProviderID, mem.Len())
	}
}

// TestCreateAlso: a first Postgres database's two attachments (DATABASE
// and HEROKU_POSTGRESQL_<COLOR>) come and go in one config change per app,
// and a plan change that moves its URL updates both in one.
func TestCreateAlso(t *testing.T) {
	ctx := context.Background()
	p := newFake()
	m, cfg := newManager(p)
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", Also: []string{"DATABASE"}}); !errors.Is(err, addons.ErrDuplicateAttachment) {
		t.Errorf("Also naming As again: %v, want ErrDuplicateAttachment", err)
	}
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", Also: []string{"bad name"}}); err == nil {
		t.Error("an invalid Also name was accepted")
	}
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", Also: []string{"HEROKU_POSTGRESQL_JADE"}})
	if err != nil {
		t.Fatal(err)
	}
	vars := cfg.Vars("shop")
	if vars["DATABASE_URL"] == "" || vars["HEROKU_POSTGRESQL_JADE_URL"] != vars["DATABASE_URL"] || len(db.Attachments) != 2 {
		t.Errorf("vars %v, attachments %+v; want both attachments with one URL", vars, db.Attachments)
	}
	if r := cfg.Releases("shop"); !slices.Equal(r, []string{"Attach DATABASE, HEROKU_POSTGRESQL_JADE"}) {
		t.Errorf("releases %q, want one naming both attachments", r)
	}
	if _, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres", As: "OTHER", Also: []string{"HEROKU_POSTGRESQL_JADE"}}); !errors.Is(err, addons.ErrDuplicateAttachment) {
		t.Errorf("Also naming a taken attachment: %v, want ErrDuplicateAttachment", err)
	}

	p.set(func(p *fakeProvider) { p.changedConfig = addons.Config{"DATABASE_URL": "mem://bigger"} })
	if _, err := m.ChangePlan(ctx, db.Name, "standard"); err != nil {
		t.Fatal(err)
	}
	vars = cfg.Vars("shop")
	if vars["DATABASE_URL"] != "mem://bigger" || vars["HEROKU_POSTGRESQL_JADE_URL"] != "mem://bigger" {
		t.Errorf("after the plan change: %v", vars)
	}
	if err := m.Destroy(ctx, db.Name); err != nil {
		t.Fatal(err)
	}
	want := []string{"Attach DATABASE, HEROKU_POSTGRESQL_JADE", "Update DATABASE, HEROKU_POSTGRESQL_JADE (plan postgres:standard)", "Detach DATABASE, HEROKU_POSTGRESQL_JADE"}
	if r := cfg.Releases("shop"); !slices.Equal(r, want) || len(cfg.Vars("shop")) != 0 {
		t.Errorf("releases %q, vars %v; want %q and none left", r, cfg.Vars("shop"), want)
	}
}
