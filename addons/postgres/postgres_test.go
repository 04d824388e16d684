package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/addons/internal/testserver"
	"github.com/dynokit/dynokit/addons/postgres"
)

var server testserver.Postgres

func TestMain(m *testing.M) {
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func newProvider(t *testing.T) *postgres.Provider {
	info := server.Start(t)
	return &postgres.Provider{AdminURL: info.AdminURL, BinDir: info.BinDir, Offered: []addons.Plan{
		{Name: "tiny", Limits: addons.Limits{Connections: 2}},
		{Name: "hobby", Limits: addons.Limits{Connections: 5}},
	}}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func connect(t *testing.T, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx(t), dsn)
	if err == nil {
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	}
	return conn, err
}

func mustConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := connect(t, dsn)
	if err != nil {
		t.Fatalf("connect with the add-on's credentials: %v", err)
	}
	return conn
}

func provision(t *testing.T, p *postgres.Provider, plan string) addons.Resource {
	t.Helper()
	res, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()), Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(context.Background(), res.ID) })
	return res
}

func usable(t *testing.T, res addons.Resource) {
	t.Helper()
	conn := mustConnect(t, res.Config["DATABASE_URL"])
	var user, db string
	if err := conn.QueryRow(ctx(t), "SELECT current_user, current_database()").Scan(&user, &db); err != nil {
		t.Fatal(err)
	}
	if user != res.ID || db != res.ID {
		t.Errorf("connected as %s to %s, want %s", user, db, res.ID)
	}
	if _, err := conn.Exec(ctx(t), "CREATE TABLE IF NOT EXISTS probe (n int); INSERT INTO probe VALUES (1)"); err != nil {
		t.Fatalf("the add-on's role cannot write its own database: %v", err)
	}
}

func gone(t *testing.T, res addons.Resource) {
	t.Helper()
	if _, err := connect(t, res.Config["DATABASE_URL"]); err == nil {
		t.Fatal("the deprovisioned add-on's credentials still connect")
	}
	admin := mustConnect(t, server.Start(t).AdminURL)
	var n int
	if err := admin.QueryRow(ctx(t), "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)", res.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("role or database %s still exists after deprovision", res.ID)
	}
}

// withConn runs f on a connection with res's credentials, closed at once
// (the tiny plan allows two).
func withConn(t *testing.T, res addons.Resource, f func(*pgx.Conn) error) {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), res.Config["DATABASE_URL"])
	if err != nil {
		t.Fatalf("connect with the add-on's credentials: %v", err)
	}
	defer conn.Close(context.Background())
	if err := f(conn); err != nil {
		t.Fatal(err)
	}
}

// put stores value as the one row of table note (made if missing).
func put(t *testing.T, res addons.Resource, value string) {
	t.Helper()
	withConn(t, res, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx(t), "CREATE TABLE IF NOT EXISTS note (v text); DELETE FROM note")
		if err == nil {
			_, err = c.Exec(ctx(t), "INSERT INTO note VALUES ($1)", value)
		}
		return err
	})
}

// get reads table note's row ("" when there is no table or row).
func get(t *testing.T, res addons.Resource) string {
	t.Helper()
	var v string
	withConn(t, res, func(c *pgx.Conn) error {
		var exists bool
		if err := c.QueryRow(ctx(t), "SELECT to_regclass('note') IS NOT NULL").Scan(&exists); err != nil || !exists {
			return err
		}
		return c.QueryRow(ctx(t), "SELECT coalesce((SELECT v FROM note LIMIT 1), '')").Scan(&v)
	})
	return v
}

// refused: the credentials no longer log in.
func refused(t *testing.T, res addons.Resource) {
	t.Helper()
	if conn, err := pgx.Connect(ctx(t), res.Config["DATABASE_URL"]); err == nil {
		conn.Close(context.Background())
		t.Error("the credentials still connect")
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	addonstest.Suite{Provider: newProvider(t), Prefix: "DATABASE", Plans: []string{"tiny", "hobby"},
		Usable: usable, Gone: gone, Refused: refused, Put: put, Get: get}.Run(t)
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	a := provision(t, p, "hobby")
	b := provision(t, p, "hobby")
	usable(t, b) // b has a table with a row

	bURL, _ := url.Parse(b.Config["DATABASE_URL"])
	aURL, _ := url.Parse(a.Config["DATABASE_URL"])

	// a's credentials against b's database.
	cross := *aURL
	cross.Path = bURL.Path
	_, err := connect(t, cross.String())
	if err == nil || !strings.Contains(err.Error(), "permission denied for database") {
		t.Fatalf("add-on a connecting to b's database: %v, want permission denied", err)
	}
	// b's role name with a's password: passwords are really checked.
	wrong := *bURL
	wrong.User = url.UserPassword(bURL.User.Username(), aURL.User.String())
	if _, err := connect(t, wrong.String()); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v, want password authentication failed", err)
	}
	// a cannot read the provider's bookkeeping (other add-ons' passwords).
	maint := *aURL
	maint.Path = "/postgres"
	conn := mustConnect(t, maint.String())
	var n int
	err = conn.QueryRow(ctx(t), "SELECT count(*) FROM dynokit_addons.resources").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("reading the bookkeeping table as an add-on: %v, want permission denied", err)
	}
	// a cannot become b.
	own := mustConnect(t, a.Config["DATABASE_URL"])
	if _, err := own.Exec(ctx(t), "SET ROLE "+pgx.Identifier{b.ID}.Sanitize()); err == nil {
		t.Fatal("SET ROLE to another add-on's role succeeded")
	}
}

func TestConnectionLimitPerPlan(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "tiny")
	dsn := res.Config["DATABASE_URL"]
	mustConnect(t, dsn)
	mustConnect(t, dsn)
	if _, err := connect(t, dsn); err == nil || !strings.Contains(err.Error(), "too many connections") {
		t.Fatalf("third connection on a 2-connection plan: %v, want too many connections", err)
	}
	changed, err := p.ChangePlan(ctx(t), res.ID, "hobby")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Config["DATABASE_URL"] != dsn {
		t.Error("plan change altered DATABASE_URL")
	}
	mustConnect(t, dsn) // the bigger plan allows it
}

func TestBackupRestore(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	conn := mustConnect(t, res.Config["DATABASE_URL"])
	if _, err := conn.Exec(ctx(t), "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'tea'), (2, 'cake')"); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if err := p.Backup(ctx(t), res.ID, &dump); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(dump.Bytes(), []byte("PGDMP")) {
		t.Fatalf("backup is not a pg_dump custom archive: %q", dump.Bytes()[:min(16, dump.Len())])
	}
	if _, err := conn.Exec(ctx(t), "DELETE FROM orders; CREATE TABLE extra (x int)"); err != nil {
		t.Fatal(err)
	}
	tables := func() string {
		t.Helper()
		var names string
		if err := conn.QueryRow(ctx(t), "SELECT coalesce(string_agg(tablename, ',' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user").Scan(&names); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx(t), "SELECT count(*) FROM orders").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s; %d orders", names, n)
	}
	// Archives that cannot be applied whole change nothing: garbage, one
	// cut off halfway, and one whose statements fail (it creates a table
	// whose name is taken by a table the role does not own, which
	// DROP OWNED keeps).
	other := provision(t, p, "hobby")
	if _, err := mustConnect(t, other.Config["DATABASE_URL"]).Exec(ctx(t), "CREATE TABLE blocked (x int)"); err != nil {
		t.Fatal(err)
	}
	var failing bytes.Buffer
	if err := p.Backup(ctx(t), other.ID, &failing); err != nil {
		t.Fatal(err)
	}
	adminURL, _ := url.Parse(server.Start(t).AdminURL)
	adminURL.Path = "/" + res.ID
	if _, err := mustConnect(t, adminURL.String()).Exec(ctx(t), "CREATE TABLE public.blocked (y int)"); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"garbage":             []byte("not a dump"),
		"cut off":             dump.Bytes()[:dump.Len()/2],
		"failing a statement": failing.Bytes(),
	} {
		err := p.Restore(ctx(t), res.ID, bytes.NewReader(bad))
		if err == nil {
			t.Errorf("restoring %s succeeded", name)
		}
		if got := tables(); got != "extra,orders; 0 orders" {
			t.Errorf("after restoring %s (err %v): %s, want the database unchanged", name, err, got)
		}
	}
	// A source that fails midway (a download cut off) is named as the
	// cause, not pg_restore's complaint about a short archive.
	cut := errors.New("connection reset while downloading")
	err := p.Restore(ctx(t), res.ID, io.MultiReader(bytes.NewReader(dump.Bytes()[:dump.Len()/2]), iotest.ErrReader(cut)))
	if !errors.Is(err, cut) {
		t.Errorf("restore from a failing source: %v, want it to wrap the source's error", err)
	}
	if got := tables(); got != "extra,orders; 0 orders" {
		t.Errorf("after restoring from a failing source: %s, want the database unchanged", got)
	}
	if err := p.Restore(ctx(t), res.ID, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	// The database is what the backup holds: the table made after it is gone.
	if got := tables(); got != "orders; 2 orders" {
		t.Fatalf("after restore: %s, want orders; 2 orders", got)
	}
	if err := p.Backup(ctx(t), "pg000000000000000000000000", &dump); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("backup of unknown resource: %v", err)
	}
}

// The database's settings name the extensions its role may create, where
// heroku pg:extensions reads them: trusted ones, not superuser-only ones.
func TestAllowedExtensionsSettings(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	var untrusted string
	if err := mustConnect(t, server.Start(t).AdminURL).QueryRow(ctx(t),
		"SELECT name FROM pg_available_extension_versions WHERE superuser AND NOT trusted ORDER BY name LIMIT 1").Scan(&untrusted); err != nil {
		t.Fatalf("find a superuser-only extension: %v", err)
	}
	conn := mustConnect(t, res.Config["DATABASE_URL"])
	for _, setting := range []string{"rds.allowed_extensions", "extwlist.extensions"} {
		var list string
		if err := conn.QueryRow(ctx(t), "SELECT current_setting($1)", setting).Scan(&list); err != nil {
			t.Fatalf("%s: %v", setting, err)
		}
		if names := strings.Split(list, ","); !slices.Contains(names, "pgcrypto") || slices.Contains(names, untrusted) {
			t.Errorf("%s = %q, want pgcrypto listed and %s not", setting, list, untrusted)
		}
	}
	// What is listed, the role can create.
	if _, err := conn.Exec(ctx(t), "CREATE EXTENSION pgcrypto"); err != nil {
		t.Errorf("create pgcrypto as the add-on's role: %v", err)
	}
}

// An archive made elsewhere (as a Heroku backup is) creates extensions the
// add-on's role cannot: superuser-only pg_stat_statements, and one the
// target has already under another owner, whose COMMENT would fail. The
// restore leaves those out, says so in the log, and restores the rest.
func TestRestoreForeignArchive(t *testing.T) {
	t.Parallel()
	info := server.Start(t)
	var logged bytes.Buffer
	p := newProvider(t)
	p.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	res := provision(t, p, "hobby")

	admin := mustConnect(t, info.AdminURL)
	scratch := fmt.Sprintf("elsewhere_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx(t), "CREATE DATABASE "+scratch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE "+scratch) })
	sourceURL, _ := url.Parse(info.AdminURL)
	sourceURL.Path = "/" + scratch
	if _, err := mustConnect(t, sourceURL.String()).Exec(ctx(t), `CREATE SCHEMA heroku_ext;
		CREATE EXTENSION pg_stat_statements WITH SCHEMA heroku_ext;
		CREATE EXTENSION pgcrypto WITH SCHEMA heroku_ext;
		CREATE EXTENSION pg_trgm WITH SCHEMA heroku_ext;
		CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hello'); COMMENT ON TABLE notes IS 'kept';
		CREATE VIEW hashed AS SELECT encode(heroku_ext.digest(body, 'sha256'), 'hex') AS h FROM notes`); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	dump := exec.Command(filepath.Join(info.BinDir, "pg_dump"), "--format=custom", "--dbname="+sourceURL.String())
	var dumpErr bytes.Buffer
	dump.Stdout, dump.Stderr = &archive, &dumpErr
	if err := dump.Run(); err != nil {
		t.Fatalf("pg_dump: %v %s", err, dumpErr.Bytes())
	}
	targetURL, _ := url.Parse(info.AdminURL)
	targetURL.Path = "/" + res.ID
	if _, err := mustConnect(t, targetURL.String()).Exec(ctx(t), "CREATE EXTENSION pg_trgm"); err != nil {
		t.Fatal(err)
	}

	if err := p.Restore(ctx(t), res.ID, bytes.NewReader(archive.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	conn := mustConnect(t, res.Config["DATABASE_URL"])
	var body, hash, owner, extensions string
	if err := conn.QueryRow(ctx(t), `SELECT n.body, h.h, (SELECT tableowner FROM pg_tables WHERE tablename = 'notes'),
		(SELECT string_agg(extname || ':' || pg_get_userbyid(extowner), ',' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql')
		FROM notes n, hashed h`).Scan(&body, &hash, &owner, &extensions); err != nil {
		t.Fatal(err)
	}
	if body != "hello" || len(hash) != 64 || owner != res.ID {
		t.Errorf("restored %q, %q owned by %s", body, hash, owner)
	}
	// pg_stat_statements is the provider's own (TestStatementStats), not
	// the archive's.
	if want := "pg_stat_statements:postgres,pg_trgm:postgres,pgcrypto:" + res.ID; extensions != want {
		t.Errorf("extensions %s, want %s (pgcrypto created by the role, the others as they were)", extensions, want)
	}
	if log := logged.String(); !strings.Contains(log, "leaves out extensions") || !strings.Contains(log, "pg_stat_statements") || !strings.Contains(log, "pg_trgm") || strings.Contains(log, "pgcrypto") {
		t.Errorf("log does not name the extensions left out:\n%s", log)
	}
}

// With the library loaded (the test server loads it, as Heroku's do),
// every database has pg_stat_statements, where the role sees its own
// statements; a reset keeps it.
func TestStatementStats(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	conn := mustConnect(t, res.Config["DATABASE_URL"])
	if _, err := conn.Exec(ctx(t), "SELECT 4711 AS marker_for_stats"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx(t), `SELECT count(*) FROM public.pg_stat_statements
			WHERE userid = (SELECT usesysid FROM pg_user WHERE usename = current_user) AND query LIKE '%marker_for_stats%'`).Scan(&n); err != nil {
			t.Fatalf("read pg_stat_statements as the add-on's role: %v", err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("the role's statement is counted %d times, want 1", n)
	}
	if err := p.Reset(ctx(t), res.ID, nil); err != nil {
		t.Fatal(err)
	}
	count() // still there after a reset
}

func TestFork(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	src := provision(t, p, "hobby")
	conn := mustConnect(t, src.Config["DATABASE_URL"]) // stays open: an app is connected
	if _, err := conn.Exec(ctx(t), "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	req := addons.ProvisionRequest{ID: "fork-" + t.Name() + fmt.Sprint(time.Now().UnixNano()), Plan: "hobby"}
	fork, err := p.Fork(ctx(t), src.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(context.Background(), fork.ID) })
	if fork.ID == src.ID || fork.Config["DATABASE_URL"] == src.Config["DATABASE_URL"] {
		t.Fatal("fork shares the source's identity")
	}
	if !strings.Contains(fork.Message, "dump and restore") {
		t.Errorf("fork message %q does not say how it copied", fork.Message)
	}
	fconn := mustConnect(t, fork.Config["DATABASE_URL"])
	var body, owner string
	if err := fconn.QueryRow(ctx(t), "SELECT body, (SELECT tableowner FROM pg_tables WHERE tablename = 'notes') FROM notes").Scan(&body, &owner); err != nil {
		t.Fatal(err)
	}
	if body != "hello" || owner != fork.ID {
		t.Errorf("fork has %q owned by %s, want hello owned by %s", body, owner, fork.ID)
	}
	// Writes to the fork do not reach the source.
	if _, err := fconn.Exec(ctx(t), "INSERT INTO notes VALUES ('fork only')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx(t), "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 1 {
		t.Errorf("source has %d notes, want 1 (%v)", n, err)
	}
	// A retried fork returns the same resource without copying again.
	again, err := p.Fork(ctx(t), src.ID, req)
	if err != nil || again.ID != fork.ID {
		t.Fatalf("retried fork: %v, %v", again.ID, err)
	}
	if err := fconn.QueryRow(ctx(t), "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 2 {
		t.Errorf("retried fork copied again: %d notes (%v)", n, err)
	}
	if _, err := p.Fork(ctx(t), "pg000000000000000000000000", addons.ProvisionRequest{ID: "x", Plan: "hobby"}); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("fork of unknown source: %v", err)
	}
}

func TestErrorsKeepSecrets(t *testing.T) {
	t.Parallel()
	info := server.Start(t)
	u, _ := url.Parse(info.AdminURL)
	u.User = url.UserPassword("postgres", "wrong-secret-xyz")
	p := &postgres.Provider{AdminURL: u.String()}
	_, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "hobby"})
	if err == nil || strings.Contains(err.Error(), "wrong-secret-xyz") {
		t.Fatalf("error %v (must fail and not show the password)", err)
	}
	p = &postgres.Provider{AdminURL: "postgres://u:wrong-secret-xyz@%zz"}
	if _, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "hobby"}); err == nil || strings.Contains(err.Error(), "wrong-secret-xyz") {
		t.Fatalf("error %v (must fail and not show the password)", err)
	}
	p = newProvider(t)
	if _, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "gold"}); !errors.Is(err, addons.ErrUnknownPlan) {
		t.Errorf("unknown plan: %v", err)
	}
}

func TestManagerOnRealPostgres(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	cfg := &addonstest.MemConfig{}
	m := &addons.Manager{Catalog: addons.Catalog{Services: []addons.Service{{
		Name: "postgres", ConfigPrefix: postgres.ConfigPrefix, Plans: p.Plans(), Provider: p}}}, Config: cfg}
	if err := m.Catalog.Validate(); err != nil {
		t.Fatal(err)
	}
	db, err := m.Create(ctx(t), addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(ctx(t), db.Name, "reports", "SHOP_DB"); err != nil {
		t.Fatal(err)
	}
	shared := mustConnect(t, cfg.Vars("reports")["SHOP_DB_URL"])
	if _, err := shared.Exec(ctx(t), "CREATE TABLE users (name text); INSERT INTO users VALUES ('ada')"); err != nil {
		t.Fatal(err)
	}
	fork, err := m.Fork(ctx(t), db.Name, addons.CreateRequest{App: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := mustConnect(t, cfg.Vars("staging")["DATABASE_URL"]).QueryRow(ctx(t), "SELECT name FROM users").Scan(&name); err != nil || name != "ada" {
		t.Fatalf("forked add-on's data: %q, %v", name, err)
	}
	if err := m.Destroy(ctx(t), fork.Name); err != nil {
		t.Fatal(err)
	}
	// Backup and Restore through the Manager (heroku pg:backups).
	var dump bytes.Buffer
	if err := m.Backup(ctx(t), db.Name, &dump); err != nil || !bytes.HasPrefix(dump.Bytes(), []byte("PGDMP")) {
		t.Fatalf("Manager.Backup: %d bytes, %v", dump.Len(), err)
	}
	if _, err := shared.Exec(ctx(t), "UPDATE users SET name = 'grace'"); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx(t), db.Name, &dump); err != nil {
		t.Fatalf("Manager.Restore: %v", err)
	}
	if err := shared.QueryRow(ctx(t), "SELECT name FROM users").Scan(&name); err != nil || name != "ada" {
		t.Errorf("after Manager.Restore: %q, %v", name, err)
	}
	if _, err := m.ChangePlan(ctx(t), db.Name, "tiny"); err != nil {
		t.Fatal(err)
	}
	dsn := cfg.Vars("shop")["DATABASE_URL"]
	if err := m.Destroy(ctx(t), db.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, dsn); err == nil {
		t.Error("destroyed add-on still accepts connections")
	}
}

func TestResourceID(t *testing.T) {
	a, b := postgres.ResourceID("req-1"), postgres.ResourceID("req-2")
	if a == b || a != postgres.ResourceID("req-1") || len(a) != 26 || !strings.HasPrefix(a, "pg") {
		t.Fatalf("ResourceID: %s %s", a, b)
	}
}

func BenchmarkProvisionDeprovision(b *testing.B) {
	info := server.Start(b)
	p := &postgres.Provider{AdminURL: info.AdminURL}
	c := context.Background()
	i := 0
	for b.Loop() {
		i++
		res, err := p.Provision(c, addons.ProvisionRequest{ID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i), Plan: "hobby"})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Deprovision(c, res.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// Named credentials log in to the database with no privileges until the
// default credential grants them; destroy and deprovision remove them.
func TestNamedCredentials(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	put(t, res, "owned by the default credential")
	reader, err := p.CreateCredential(ctx(t), res.ID, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := p.CreateCredential(ctx(t), res.ID, "reader"); err != nil || again.URL != reader.URL {
		t.Errorf("creating reader again: %v, same URL %v", err, again.URL == reader.URL)
	}
	cred := addons.Resource{Config: addons.Config{"DATABASE_URL": reader.URL}}
	withConn(t, cred, func(c *pgx.Conn) error {
		var user string
		if err := c.QueryRow(ctx(t), "SELECT current_user").Scan(&user); err != nil || user != res.ID+"_reader" {
			return fmt.Errorf("logged in as %q (%v)", user, err)
		}
		if _, err := c.Exec(ctx(t), "SELECT * FROM note"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			return fmt.Errorf("read before any grant: %v, want permission denied", err)
		}
		return nil
	})
	withConn(t, res, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx(t), "GRANT SELECT ON note TO "+res.ID+"_reader")
		return err
	})
	if got := get(t, cred); got != "owned by the default credential" {
		t.Errorf("the reader reads %q after the grant", got)
	}
	list, err := p.Credentials(ctx(t), res.ID)
	if err != nil || len(list) != 1 || list[0].Name != "reader" || list[0].URL != reader.URL {
		t.Errorf("Credentials = %+v, %v", list, err)
	}
	for _, bad := range []string{"default", "Reader", "1x", "x;drop", strings.Repeat("a", 31)} {
		if _, err := p.CreateCredential(ctx(t), res.ID, bad); !errors.Is(err, addons.ErrInvalid) {
			t.Errorf("CreateCredential(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := p.CreateCredential(ctx(t), "pg000000000000000000000000", "reader"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("credential of an unknown resource: %v", err)
	}
	// Rotation: the new password logs in, the old one is refused.
	rotated, err := p.RotateCredential(ctx(t), res.ID, "reader")
	if err != nil || rotated.URL == reader.URL {
		t.Fatalf("RotateCredential: %v (same URL: %v)", err, rotated.URL == reader.URL)
	}
	refused(t, cred)
	reader, cred = rotated, addons.Resource{Config: addons.Config{"DATABASE_URL": rotated.URL}}
	if got := get(t, cred); got != "owned by the default credential" {
		t.Errorf("the rotated reader reads %q", got)
	}
	if _, err := p.RotateCredential(ctx(t), res.ID, "nobody"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("rotating an unknown credential: %v", err)
	}
	// Destroy: the open session ends and the login is refused.
	held, err := pgx.Connect(ctx(t), reader.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())
	if err := p.DestroyCredential(ctx(t), res.ID, "reader"); err != nil {
		t.Fatal(err)
	}
	if err := held.Ping(ctx(t)); err == nil {
		t.Error("a session of the destroyed credential is still open")
	}
	refused(t, cred)
	if err := p.DestroyCredential(ctx(t), res.ID, "reader"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("destroying it again: %v", err)
	}
	// Deprovision removes the roles of credentials left.
	if _, err := p.CreateCredential(ctx(t), res.ID, "etl"); err != nil {
		t.Fatal(err)
	}
	if err := p.Deprovision(ctx(t), res.ID); err != nil {
		t.Fatal(err)
	}
	var roles int
	if err := mustConnect(t, server.Start(t).AdminURL).QueryRow(ctx(t), "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", res.ID+"%").Scan(&roles); err != nil || roles != 0 {
		t.Errorf("roles left after deprovision: %d, %v", roles, err)
	}
}

// Objects a named credential made pass to the default credential on
// repair-default and on destroy, with their data, as on Heroku.
func TestCredentialObjectsOwnership(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	etl, err := p.CreateCredential(ctx(t), res.ID, "etl")
	if err != nil {
		t.Fatal(err)
	}
	role := res.ID + "_etl"
	withConn(t, res, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx(t), "GRANT CREATE ON SCHEMA public TO "+role)
		return err
	})
	cred := addons.Resource{Config: addons.Config{"DATABASE_URL": etl.URL}}
	made := func(table string) {
		t.Helper()
		withConn(t, cred, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx(t), "CREATE TABLE "+table+" (v text); INSERT INTO "+table+" VALUES ('made by etl'); REVOKE ALL ON "+table+" FROM PUBLIC")
			return err
		})
	}
	readByDefault := func(table string) error {
		var v string
		var c *pgx.Conn
		c, err := pgx.Connect(ctx(t), res.Config["DATABASE_URL"])
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		if err := c.QueryRow(ctx(t), "SELECT v FROM "+table).Scan(&v); err != nil {
			return err
		}
		if v != "made by etl" {
			return fmt.Errorf("read %q", v)
		}
		_, err = c.Exec(ctx(t), "ALTER TABLE "+table+" ADD COLUMN w int") // an owner's right
		return err
	}
	made("staging")
	if err := readByDefault("staging"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("the default credential reads etl's table before the repair: %v", err)
	}
	if err := p.RepairDefaultCredential(ctx(t), res.ID); err != nil {
		t.Fatal(err)
	}
	if err := readByDefault("staging"); err != nil {
		t.Errorf("after the repair: %v", err)
	}
	// Destroy keeps what the credential made.
	made("loads")
	if err := p.DestroyCredential(ctx(t), res.ID, "etl"); err != nil {
		t.Fatal(err)
	}
	if err := readByDefault("loads"); err != nil {
		t.Errorf("after destroying etl, its table: %v", err)
	}
	if err := p.RepairDefaultCredential(ctx(t), "pg000000000000000000000000"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("repair of an unknown resource: %v", err)
	}
	if err := p.RepairDefaultCredential(ctx(t), res.ID); err != nil {
		t.Errorf("repair with no named credentials: %v", err)
	}
}
