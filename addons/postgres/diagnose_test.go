package postgres_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
)

// TestDiagnose: a new database passes every check; a statement waiting on
// another's lock and a sequence near its maximum turn their checks red,
// with what they found; the connection count follows the plan's limit.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby") // 5 connections
	run := func() map[string]addons.Check { return diagnoseChecks(t, p, res.ID) }
	checks := run()
	for _, name := range []string{"Connection Count", "Long Queries", "Long Transactions", "Idle in Transaction", "Blocking Queries",
		"Database Transaction ID Wraparound", "Table Transaction ID Wraparound", "Indexes", "Bloat", "Hit Rate", "Sequences"} {
		if c, ok := checks[name]; !ok || c.Status != addons.CheckGreen {
			t.Errorf("a new database: %s = %+v, want green", name, c)
		}
	}
	if checks["Connection Count"].Value["count"] != "0" {
		t.Errorf("Connection Count of a new database: %v", checks["Connection Count"].Value)
	}

	app := mustConnect(t, res.Config["DATABASE_URL"])
	if _, err := app.Exec(ctx(t), "CREATE TABLE t (n int); CREATE SEQUENCE s MAXVALUE 100; SELECT setval('s', 90); CREATE SEQUENCE down INCREMENT -1; SELECT nextval('down')"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec(ctx(t), "BEGIN; LOCK TABLE t"); err != nil {
		t.Fatal(err)
	}
	waiter := mustConnect(t, res.Config["DATABASE_URL"])
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx(t), "SELECT * FROM t")
		done <- err
	}()
	var blocking addons.Check
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if checks = run(); checks["Blocking Queries"].Status == addons.CheckRed {
			blocking = checks["Blocking Queries"]
			break
		}
	}
	if len(blocking.Rows) != 1 || blocking.Rows[0]["blocked_query"] != "SELECT * FROM t" || blocking.Rows[0]["blocking_pid"] == "" {
		t.Errorf("Blocking Queries = %+v, want the waiting SELECT", blocking)
	}
	if c := checks["Sequences"]; c.Status != addons.CheckRed || len(c.Rows) != 1 || c.Rows[0]["sequence"] != "public.s" || c.Rows[0]["value"] != "90" {
		t.Errorf("Sequences = %+v, want s at 90 of 100", c)
	}
	// Diagnose's own connections are not counted.
	if c := checks["Connection Count"]; c.Status != addons.CheckGreen || c.Value["count"] != "2" {
		t.Errorf("Connection Count = %+v, want green, 2 of 5", c)
	}
	if _, err := app.Exec(ctx(t), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("the waiting SELECT: %v", err)
	}

	if _, err := p.Diagnose(ctx(t), "pg0000000000000000000000"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Diagnose of an unknown id: %v, want ErrNotFound", err)
	}
}

// At the plan's connection limit the count is red and the checks that
// need one of the role's connections are skipped.
func TestDiagnoseAtConnectionLimit(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "tiny") // 2 connections
	mustConnect(t, res.Config["DATABASE_URL"])
	mustConnect(t, res.Config["DATABASE_URL"])
	checks := diagnoseChecks(t, p, res.ID)
	if c := checks["Connection Count"]; c.Status != addons.CheckRed || c.Value["count"] != "2" {
		t.Errorf("Connection Count at the limit = %+v, want red, 2", c)
	}
	if c := checks["Indexes"]; c.Status != addons.CheckSkipped {
		t.Errorf("Indexes at the connection limit = %+v, want skipped", c)
	}
}

func diagnoseChecks(t *testing.T, p addons.Diagnoser, id string) map[string]addons.Check {
	t.Helper()
	checks, err := p.Diagnose(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]addons.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

// TestAdminSessionsIgnoreTenantFunctions: functions in an admin database's
// public schema that match a call's argument types more exactly than the
// built-in (as anyone may create there on servers before 15) are never
// what the provider's admin sessions run.
func TestAdminSessionsIgnoreTenantFunctions(t *testing.T) {
	t.Parallel()
	info := server.Start(t)
	name := "trap_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	if _, err := mustConnect(t, info.AdminURL).Exec(ctx(t), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(info.AdminURL)
	u.Path = "/" + name
	trap := mustConnect(t, u.String())
	if _, err := trap.Exec(ctx(t), `CREATE FUNCTION public.unnest(integer[]) RETURNS SETOF integer LANGUAGE sql AS 'SELECT 1/0';
		CREATE FUNCTION public.pg_advisory_lock(integer) RETURNS void LANGUAGE sql AS 'SELECT 1/0'`); err != nil {
		t.Fatal(err)
	}
	p := &postgres.Provider{AdminURL: u.String(), BinDir: info.BinDir, Offered: []addons.Plan{{Name: "hobby", Limits: addons.Limits{Connections: 5}}}}
	res := provision(t, p, "hobby")                       // takes the advisory lock
	if _, err := p.Diagnose(ctx(t), res.ID); err != nil { // unnests blocking pids
		t.Errorf("Diagnose: %v", err)
	}
}
