package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/addons"
)

func TestReset(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	other := provision(t, p, "hobby")
	url := res.Config["DATABASE_URL"]
	conn := mustConnect(t, url)
	if _, err := conn.Exec(ctx(t), `CREATE TABLE orders (id int); CREATE SCHEMA reports; CREATE TABLE reports.daily (d date);
		CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'; CREATE TYPE mood AS ENUM ('ok')`); err != nil {
		t.Fatal(err)
	}
	if _, err := mustConnect(t, other.Config["DATABASE_URL"]).Exec(ctx(t), "CREATE TABLE kept (x int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx(t))

	if err := p.Reset(ctx(t), res.ID, []string{"pgcrypto"}); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	conn = mustConnect(t, url) // the credentials still work
	var objects int
	if err := conn.QueryRow(ctx(t), `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')) -- the provider's pg_stat_statements
		+ (SELECT count(*) FROM pg_namespace WHERE nspname = 'reports') + (SELECT count(*) FROM pg_proc WHERE proname = 'answer')`).Scan(&objects); err != nil || objects != 0 {
		t.Errorf("after Reset: %d objects left, %v", objects, err)
	}
	var digest string
	if err := conn.QueryRow(ctx(t), "SELECT encode(digest('x', 'sha1'), 'hex')").Scan(&digest); err != nil || !strings.HasPrefix(digest, "11f6ad8e") {
		t.Errorf("pgcrypto after Reset: %q, %v", digest, err)
	}
	if _, err := conn.Exec(ctx(t), "CREATE TABLE orders (id int)"); err != nil {
		t.Errorf("the role cannot create tables after Reset: %v", err)
	}
	var kept int
	if err := mustConnect(t, other.Config["DATABASE_URL"]).QueryRow(ctx(t), "SELECT count(*) FROM kept").Scan(&kept); err != nil {
		t.Errorf("another add-on's table after Reset: %v", err)
	}

	// A bad extension name, or one the role may not create, changes nothing.
	if err := p.Reset(ctx(t), res.ID, []string{"x; DROP DATABASE postgres"}); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("Reset with a hostile extension name = %v, want ErrInvalid", err)
	}
	if err := p.Reset(ctx(t), res.ID, []string{"file_fdw"}); err == nil || !strings.Contains(err.Error(), "file_fdw") {
		t.Errorf("Reset with an untrusted extension = %v, want a failure naming it", err)
	}
	var n int
	if err := conn.QueryRow(ctx(t), "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Errorf("a failed Reset dropped the table: %v", err)
	}
	if err := p.Reset(ctx(t), "pg000000000000000000000000", nil); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Reset of an unknown resource = %v, want ErrNotFound", err)
	}
}

func TestResetConnections(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	a, b := mustConnect(t, res.Config["DATABASE_URL"]), mustConnect(t, res.Config["DATABASE_URL"])
	other := provision(t, p, "hobby")
	kept := mustConnect(t, other.Config["DATABASE_URL"])
	n, err := p.ResetConnections(ctx(t), res.ID)
	if err != nil || n != 2 {
		t.Fatalf("ResetConnections = %d, %v; want 2 closed", n, err)
	}
	for _, c := range []interface{ Ping(context.Context) error }{a, b} {
		if c.Ping(ctx(t)) == nil {
			t.Error("a connection survived ResetConnections")
		}
	}
	if err := kept.Ping(ctx(t)); err != nil {
		t.Errorf("another add-on's connection was closed: %v", err)
	}
	usable(t, res) // new connections work
	if _, err := p.ResetConnections(ctx(t), "pg000000000000000000000000"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("ResetConnections of an unknown resource = %v, want ErrNotFound", err)
	}
}
