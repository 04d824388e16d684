package postgres_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/addons/postgres"
)

func describe(t *testing.T, p *postgres.Provider, id string) map[string]string {
	t.Helper()
	facts, err := p.Describe(ctx(t), id)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	var names []string
	out := map[string]string{}
	for _, f := range facts {
		names = append(names, f.Name)
		if len(f.Values) != 1 {
			t.Errorf("fact %s has values %q, want one", f.Name, f.Values)
		}
		out[f.Name] = strings.Join(f.Values, ",")
	}
	want := []string{"Status", "Connections", "PG Version", "Data Size", "Tables", "Fork/Follow", "Rollback"}
	if !slices.Equal(names, want) {
		t.Fatalf("fact names = %q, want %q", names, want)
	}
	return out
}

// waitFact describes until fact reads want: backends of closed
// connections leave pg_stat_activity a moment after the client is gone.
func waitFact(t *testing.T, p *postgres.Provider, id, fact, want string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		facts := describe(t, p, id)
		if facts[fact] == want {
			return facts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want %q (facts %v)", fact, facts[fact], want, facts)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

var sizePattern = regexp.MustCompile(`^[1-9][0-9]*(\.[0-9])? (bytes|kB|MB|GB)$`)

func TestDescribe(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")

	facts := waitFact(t, p, res.ID, "Connections", "0/5")
	if facts["Tables"] != "0" {
		t.Errorf("Tables of a new database = %q, want 0", facts["Tables"])
	}
	for name, want := range map[string]string{"Status": "Available", "Fork/Follow": "Unsupported", "Rollback": "Unsupported"} {
		if facts[name] != want {
			t.Errorf("%s = %q, want %q", name, facts[name], want)
		}
	}
	var version string
	if err := mustConnect(t, server.Start(t).AdminURL).QueryRow(ctx(t), "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(version)[0]; facts["PG Version"] != want {
		t.Errorf("PG Version = %q, want %q", facts["PG Version"], want)
	}

	// The app's own connection makes a table with rows and stays open.
	app := mustConnect(t, res.Config["DATABASE_URL"])
	if _, err := app.Exec(ctx(t), "CREATE TABLE orders (id serial PRIMARY KEY, note text); INSERT INTO orders (note) SELECT repeat('x', 100) FROM generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	facts = waitFact(t, p, res.ID, "Connections", "1/5")
	t.Logf("pg:info rows: %v", facts)
	if facts["Tables"] != "1" {
		t.Errorf("Tables = %q, want 1", facts["Tables"])
	}
	if !sizePattern.MatchString(facts["Data Size"]) {
		t.Errorf("Data Size = %q, want a size like 7.6 MB", facts["Data Size"])
	}
	if err := app.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitFact(t, p, res.ID, "Connections", "0/5")
}

func TestDescribeStorageLimit(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.Offered = append(p.Offered, addons.Plan{Name: "sized", Limits: addons.Limits{Connections: 3, Bytes: 1 << 30}})
	res := provision(t, p, "sized")
	size := describe(t, p, res.ID)["Data Size"]
	before, pct, ok := strings.Cut(size, " / 1 GB (")
	if !ok || !sizePattern.MatchString(before) || !regexp.MustCompile(`^[0-9]+\.[0-9]{2}%\)$`).MatchString(pct) {
		t.Errorf("Data Size = %q, want like 7.6 MB / 1 GB (0.74%%)", size)
	}
}

// At the plan's connection limit the admin still sees everything but
// the table count, which needs one of the role's connections.
func TestDescribeAtConnectionLimit(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "tiny") // 2 connections
	mustConnect(t, res.Config["DATABASE_URL"])
	mustConnect(t, res.Config["DATABASE_URL"])
	facts := waitFact(t, p, res.ID, "Connections", "2/2")
	if facts["Tables"] != "unknown (all connections in use)" {
		t.Errorf("Tables at the connection limit = %q", facts["Tables"])
	}
}

func TestDescribeUnknown(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	for _, id := range []string{"nope", postgres.ResourceID("never-provisioned"), "pg'; DROP TABLE x; --"} {
		if _, err := p.Describe(ctx(t), id); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Describe(%q) = %v, want ErrNotFound", id, err)
		}
	}
	res := provision(t, p, "hobby")
	if err := p.Deprovision(ctx(t), res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Describe(ctx(t), res.ID); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe of a deprovisioned resource = %v, want ErrNotFound", err)
	}
}

func TestManagerDescribeOnRealPostgres(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{Name: "heroku-postgresql", ConfigPrefix: "DATABASE", Plans: p.Plans(), Provider: p}}},
		Config:  &addonstest.MemConfig{},
	}
	db, err := m.Create(ctx(t), addons.CreateRequest{App: "shop", Plan: "heroku-postgresql:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Destroy(context.Background(), db.Name) })
	facts, err := m.Describe(ctx(t), db.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(facts) != 7 || facts[0].Name != "Status" || facts[4].Name != "Tables" || facts[4].Values[0] != "0" {
		t.Errorf("Manager.Describe = %v", facts)
	}
	t.Logf("pg:info rows: %q", facts)
	if err := m.Destroy(ctx(t), db.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Describe(ctx(t), db.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe of a destroyed add-on = %v, want ErrNotFound", err)
	}
}
