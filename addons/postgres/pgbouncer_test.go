package postgres_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
)

// startPgBouncer runs a real PgBouncer in front of the test server and
// returns its address.
func startPgBouncer(t *testing.T, poolSize int) string {
	t.Helper()
	requirePgBouncer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// Not t.TempDir: PgBouncer runs as another user, who must reach it.
	dir, err := os.MkdirTemp("", "dynokit-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(dir + "/pgbouncer.log")
			t.Logf("pgbouncer's log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	ready := make(chan struct{})
	b := &postgres.PgBouncer{AdminURL: server.Start(t).AdminURL, Addr: addr, Dir: dir, PoolSize: poolSize,
		Ready: func() { close(ready) }}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("PgBouncer.Run: %v", err)
		}
	})
	select {
	case <-ready:
		return addr
	case err := <-done:
		t.Fatalf("pgbouncer did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("pgbouncer is not listening on %s", addr)
	}
	return ""
}

// Through PgBouncer, more clients than the plan's connection limit share
// its server connections, each logged in with its own credentials.
func TestPgBouncerPooling(t *testing.T) {
	p := newProvider(t)
	if _, err := p.PooledURL("postgres://u:p@h:1/d"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("PooledURL without a pooler = %v, want ErrNotFound", err)
	}
	p.PoolerAddr = startPgBouncer(t, 1)
	res := provision(t, p, "tiny") // 2 connections
	pooled, err := p.PooledURL(res.Config["DATABASE_URL"])
	if err != nil || !strings.Contains(pooled, "@"+p.PoolerAddr+"/") {
		t.Fatalf("PooledURL = %q, %v", pooled, err)
	}
	// Transaction pooling: no named prepared statements.
	pooled += "?default_query_exec_mode=simple_protocol"

	// Directly, a third connection is refused.
	held := []*pgx.Conn{mustConnect(t, res.Config["DATABASE_URL"]), mustConnect(t, res.Config["DATABASE_URL"])}
	if _, err := connect(t, res.Config["DATABASE_URL"]); err == nil || !strings.Contains(err.Error(), "too many connections") {
		t.Fatalf("a third direct connection on a 2-connection plan: %v", err)
	}
	for _, c := range held {
		c.Close(context.Background())
	}
	waitForBackends(t, res.ID, 0)

	// Through the pooler, twelve clients at once, each in transactions.
	var g errgroup.Group
	for i := range 12 {
		g.Go(func() error {
			c, err := pgx.Connect(ctx(t), pooled)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			for range 3 {
				var who string
				var n int
				if err := c.QueryRow(ctx(t), "SELECT current_user, $1::int FROM pg_sleep(0.02)", i).Scan(&who, &n); err != nil {
					return err
				}
				if who != res.ID || n != i {
					return errors.New("wrong answer through the pooler: " + who)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("twelve clients through the pooler on a 2-connection plan: %v", err)
	}
	// A wrong password is refused by the pooler as by the server.
	bad := strings.Replace(pooled, ":"+passwordOf(t, res)+"@", ":wrong@", 1)
	if _, err := connect(t, bad); err == nil {
		t.Error("a wrong password logged in through the pooler")
	}
}

func passwordOf(t *testing.T, res addons.Resource) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(res.Config["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Password
}

// waitForBackends waits until the database has n backends.
func waitForBackends(t *testing.T, db string, n int) {
	t.Helper()
	admin := mustConnect(t, server.Start(t).AdminURL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int
		if err := admin.QueryRow(ctx(t), "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", db).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d backends", db, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requirePgBouncer skips the test without pgbouncer, or fails it under
// DYNOKIT_TEST_REQUIRE=1.
func requirePgBouncer(t *testing.T) {
	t.Helper()
	if _, err := postgres.FindPgBouncer(); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("%v (DYNOKIT_TEST_REQUIRE=1; install pgbouncer)", err)
		}
		t.Skip(err)
	}
}

// Check: the superuser admin passes; an admin that is not a superuser
// cannot read pg_shadow, and Check says so.
func TestPgBouncerCheck(t *testing.T) {
	admin := server.Start(t).AdminURL
	if err := (&postgres.PgBouncer{AdminURL: admin}).Check(ctx(t)); err != nil {
		t.Fatalf("Check with the superuser: %v", err)
	}
	conn := mustConnect(t, admin)
	if _, err := conn.Exec(ctx(t), "DROP ROLE IF EXISTS pgb_check; CREATE ROLE pgb_check LOGIN CREATEDB CREATEROLE PASSWORD 'pgb-check-pw'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS pgb_check") })
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	weak := strings.Replace(admin, cfg.User+":"+cfg.Password+"@", "pgb_check:pgb-check-pw@", 1)
	err = (&postgres.PgBouncer{AdminURL: weak}).Check(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "must be a superuser") {
		t.Errorf("Check with a CREATEROLE CREATEDB admin = %v, want 'must be a superuser'", err)
	}
}
