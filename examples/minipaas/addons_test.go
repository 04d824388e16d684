package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/internal/testutil"
)

// startRedis runs a throw-away redis-server whose default user needs a
// password, stopped when t ends. It returns the admin URL.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal("redis-server not found in PATH (DYNOKIT_TEST_REQUIRE=1)")
		}
		t.Skip("redis-server not found in PATH")
	}
	dir := t.TempDir()
	ln := listenLoopback(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	password, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	// The password goes in a config file, not argv, so ps does not show it.
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte("requirepass "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf formationtest.Buffer
	cmd := exec.Command(bin, conf, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	// A dying test binary takes the server along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	proc, err := testutil.Start(cmd)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { proc.Stop(syscall.SIGTERM, 20*time.Second) })
	adminURL := "redis://:" + password + "@127.0.0.1:" + strconv.Itoa(port)
	opt, err := goredis.ParseURL(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return adminURL
		}
		select {
		case <-proc.Exited():
			t.Fatalf("redis-server exited during startup:\n%s", logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not ready after 20 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type addonOut struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	State        string   `json:"state"`
	ConfigVars   []string `json:"config_vars"`
	ProviderID   string   `json:"provider_id"`
	AddonService struct {
		Name string `json:"name"`
	} `json:"addon_service"`
	Plan struct {
		Name string `json:"name"`
	} `json:"plan"`
	App struct {
		Name string `json:"name"`
	} `json:"app"`
}

func (m *minipaas) releases(app string) []releaseOut {
	m.t.Helper()
	var rels []releaseOut
	if st := m.api("GET", "/apps/"+app+"/releases", "", &rels); st != 200 {
		m.t.Fatalf("GET releases of %s: %d", app, st)
	}
	return rels
}

func (m *minipaas) listAddons(app string) []addonOut {
	m.t.Helper()
	var list []addonOut
	if st := m.api("GET", "/apps/"+app+"/addons", "", &list); st != 200 {
		m.t.Fatalf("GET addons of %s: %d", app, st)
	}
	return list
}

func (m *minipaas) config(app string) map[string]string {
	m.t.Helper()
	var cfg map[string]string
	if st := m.api("GET", "/apps/"+app+"/config-vars", "", &cfg); st != 200 {
		m.t.Fatalf("GET config-vars of %s: %d", app, st)
	}
	return cfg
}

// dynoEnv runs a one-off dyno printing $name, as heroku run would.
func (m *minipaas) dynoEnv(app, name string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code, err := m.p.RunOneOff(ctx, app, "printf %s \"$"+name+"\"", platform.OneOffIO{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 0 {
		m.t.Fatalf("one-off dyno: exit %d, %v: %s", code, err, errOut.String())
	}
	return out.String()
}

func TestAddons(t *testing.T) {
	pg := &pgtest.Server{RequirePassword: true}
	t.Cleanup(pg.Stop)
	pgAdmin := pg.AdminURL(t)
	redisAdmin := startRedis(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	flags := []string{"-postgres-url", pgAdmin, "-redis-url", redisAdmin}
	m := startMinipaasWith(t, dataDir, token, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const app = "shop"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	m.pushHello(newGitClient(t), app)
	before := len(m.releases(app))

	// PostgreSQL, as the CLI asks for it.
	var pgAddon addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0","attachment":{"name":"DATABASE"},"config":{}}`, &pgAddon); st != 201 {
		t.Fatalf("create postgres add-on: %d", st)
	}
	if !strings.HasPrefix(pgAddon.Name, "postgresql-") || pgAddon.State != "provisioned" ||
		pgAddon.AddonService.Name != "heroku-postgresql" || pgAddon.Plan.Name != "heroku-postgresql:essential-0" ||
		pgAddon.App.Name != app || strings.Join(pgAddon.ConfigVars, ",") != "DATABASE_URL,HEROKU_POSTGRESQL_AMBER_URL" || pgAddon.ID == "" {
		t.Errorf("postgres add-on = %+v", pgAddon)
	}
	// As on Heroku, the first database is also HEROKU_POSTGRESQL_<COLOR>,
	// set in the same release.
	rels := m.releases(app)
	if len(rels) != before+1 || !strings.Contains(rels[len(rels)-1].Description, "Attach DATABASE, HEROKU_POSTGRESQL_AMBER") {
		t.Errorf("after attach: %d releases (want %d), last %+v", len(rels), before+1, rels[len(rels)-1])
	}
	dbURL := m.config(app)["DATABASE_URL"]
	if !strings.HasPrefix(dbURL, "postgres") {
		t.Fatalf("DATABASE_URL not set (config has %d vars)", len(m.config(app)))
	}
	if m.config(app)["HEROKU_POSTGRESQL_AMBER_URL"] != dbURL {
		t.Error("HEROKU_POSTGRESQL_AMBER_URL is not the first database's URL")
	}
	if got := m.dynoEnv(app, "DATABASE_URL"); got != dbURL {
		t.Errorf("the dyno's DATABASE_URL differs from the config var (len %d vs %d)", len(got), len(dbURL))
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect with DATABASE_URL: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE items (n int); INSERT INTO items VALUES (42)"); err != nil {
		t.Errorf("use the add-on database: %v", err)
	}
	conn.Close(ctx)

	// Redis.
	var rdAddon addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-redis:mini"}`, &rdAddon); st != 201 {
		t.Fatalf("create redis add-on: %d", st)
	}
	if !strings.HasPrefix(rdAddon.Name, "redis-") || rdAddon.State != "provisioned" {
		t.Errorf("redis add-on = %+v", rdAddon)
	}
	cfg := m.config(app)
	checkRedis := func(cfg map[string]string) {
		t.Helper()
		opt, err := goredis.ParseURL(cfg["REDIS_URL"])
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		c := goredis.NewClient(opt)
		defer c.Close()
		key := cfg["REDIS_KEY_PREFIX"] + "greeting"
		if err := c.Set(ctx, key, "hi", 0).Err(); err != nil {
			t.Errorf("SET with REDIS_URL: %v", err)
		}
		if v, err := c.Get(ctx, key).Result(); err != nil || v != "hi" {
			t.Errorf("GET with REDIS_URL = %q, %v", v, err)
		}
	}
	checkRedis(cfg)

	// A second add-on of a service the app has gets a colour, as on Heroku.
	var second addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-redis:mini"}`, &second); st != 201 || !slices.Equal(second.ConfigVars, []string{"HEROKU_REDIS_AMBER_KEY_PREFIX", "HEROKU_REDIS_AMBER_URL"}) {
		t.Errorf("second redis add-on: %d %+v, want HEROKU_REDIS_AMBER_URL and _KEY_PREFIX", st, second)
	}
	if st := m.api("DELETE", "/apps/"+app+"/addons/"+second.ID, "", nil); st != 200 {
		t.Errorf("destroy the second redis add-on: %d", st)
	}

	// Failures change nothing and say why.
	n := len(m.releases(app))
	m.expectError("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0","attachment":{"name":"DATABASE"}}`, 422, "invalid_params")
	m.expectError("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:gigantic"}`, 404, "not_found")
	m.expectError("POST", "/apps/"+app+"/addons", `{"plan":"heroku-kafka:basic-0"}`, 404, "not_found")
	if got := len(m.releases(app)); got != n {
		t.Errorf("failed creates made %d releases", got-n)
	}

	if list := m.listAddons(app); len(list) != 2 {
		t.Fatalf("list add-ons: %d add-ons, want 2", len(list))
	}
	var atts []struct {
		Name string `json:"name"`
	}
	if st := m.api("GET", "/apps/"+app+"/addon-attachments", "", &atts); st != 200 || len(atts) != 3 ||
		atts[0].Name != "DATABASE" || atts[1].Name != "HEROKU_POSTGRESQL_AMBER" || atts[2].Name != "REDIS" {
		t.Errorf("list attachments: %d, %+v; want DATABASE, HEROKU_POSTGRESQL_AMBER, REDIS", st, atts)
	}

	// The Redis add-on shared with a second app (addons:attach): that app
	// gets the vars under its attachment name.
	const app2 = "shop-admin"
	if st := m.api("POST", "/apps", `{"name":"`+app2+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var shared struct {
		ID, Name string
		App      struct{ Name string }
	}
	if st := m.api("POST", "/addon-attachments", `{"addon":{"name":"`+rdAddon.Name+`"},"app":{"name":"`+app2+`"},"name":"cache"}`, &shared); st != 201 ||
		shared.Name != "CACHE" || shared.App.Name != app2 {
		t.Fatalf("attach redis to %s: %d %+v", app2, st, shared)
	}
	if got := m.config(app2)["CACHE_URL"]; got == "" || got != cfg["REDIS_URL"] {
		t.Errorf("%s: CACHE_URL is not the add-on's REDIS_URL", app2)
	}
	m.expectError("POST", "/addon-attachments", `{"addon":{"name":"`+rdAddon.Name+`"},"app":{"name":"`+app2+`"},"name":"cache"}`, 422, "invalid_params")
	// Attached again to its own app without a name, it gets an alias, as
	// on Heroku (pg:promote's first step); under a name it has, refused.
	var alias struct{ Name string }
	if st := m.api("POST", "/addon-attachments", `{"addon":{"name":"`+rdAddon.Name+`"},"app":{"name":"`+app+`"}}`, &alias); st != 201 || alias.Name != "HEROKU_REDIS_AMBER" {
		t.Errorf("attach to its own app without a name: %d %+v", st, alias)
	}
	m.expectError("POST", "/addon-attachments", `{"addon":{"name":"`+rdAddon.Name+`"},"app":{"name":"`+app+`"},"name":"REDIS"}`, 422, "invalid_params")
	if st := m.api("DELETE", "/addon-attachments/"+nameUUIDOfAttachment(rdAddon.ID, app, "HEROKU_REDIS_AMBER"), "", nil); st != 200 {
		t.Errorf("detach the alias: %d", st)
	}
	m.expectError("DELETE", "/addon-attachments/"+nameUUIDOfAttachment(rdAddon.ID, app, "REDIS"), "", 422, "invalid_params")
	if list := m.listAddons(app2); len(list) != 1 || list[0].Name != rdAddon.Name || list[0].App.Name != app {
		t.Errorf("add-ons of %s: %+v", app2, list)
	}
	n2 := len(m.releases(app2))

	// Destroying an app an add-on is shared with detaches it first.
	if st := m.api("POST", "/apps", `{"name":"shop-tmp"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	if st := m.api("POST", "/addon-attachments", `{"addon":{"name":"`+pgAddon.Name+`"},"app":{"name":"shop-tmp"}}`, nil); st != 201 {
		t.Fatalf("attach postgres to shop-tmp: %d", st)
	}
	if st := m.api("DELETE", "/apps/shop-tmp", "", nil); st != 200 {
		t.Fatalf("destroy shop-tmp: %d", st)
	}
	var pgAtts []struct{ App struct{ Name string } }
	if st := m.api("GET", "/addons/"+pgAddon.Name+"/addon-attachments", "", &pgAtts); st != 200 || len(pgAtts) != 2 || pgAtts[0].App.Name != app || pgAtts[1].App.Name != app {
		t.Errorf("attachments of %s after destroying shop-tmp: %d %+v", pgAddon.Name, st, pgAtts)
	}

	// A restart on the same data dir brings the add-ons back, with no new
	// release and the same credentials.
	n = len(m.releases(app))
	m.stop()
	m = startMinipaasWith(t, dataDir, token, flags...)
	list := m.listAddons(app)
	if len(list) != 2 {
		t.Fatalf("after restart: %d add-ons, want 2", len(list))
	}
	for _, a := range list {
		if a.State != "provisioned" || len(a.ConfigVars) == 0 {
			t.Errorf("after restart: %+v", a)
		}
	}
	if got := len(m.releases(app)); got != n {
		t.Errorf("the restart made %d releases", got-n)
	}
	if got := len(m.releases(app2)); got != n2 {
		t.Errorf("the restart made %d releases of %s", got-n2, app2)
	}
	var att struct{ Name string }
	if st := m.api("GET", "/apps/"+app2+"/addon-attachments/CACHE", "", &att); st != 200 || att.Name != "CACHE" {
		t.Errorf("after restart: attachment CACHE of %s: %d %+v", app2, st, att)
	}
	if m.config(app)["DATABASE_URL"] != dbURL {
		t.Error("DATABASE_URL changed across the restart")
	}
	var one addonOut
	if st := m.api("GET", "/addons/"+pgAddon.Name, "", &one); st != 200 || one.ID != pgAddon.ID {
		t.Errorf("GET /addons/%s: %d %+v", pgAddon.Name, st, one)
	}

	// Destroy the database: a release without the var, and it is gone.
	if st := m.api("DELETE", "/apps/"+app+"/addons/"+pgAddon.ID, "", nil); st != 200 {
		t.Fatalf("destroy postgres add-on: %d", st)
	}
	rels = m.releases(app)
	if !strings.Contains(rels[len(rels)-1].Description, "Detach DATABASE") {
		t.Errorf("after destroy: last release %+v", rels[len(rels)-1])
	}
	if _, ok := m.config(app)["DATABASE_URL"]; ok {
		t.Error("DATABASE_URL still set after destroy")
	}
	admin, err := pgx.Connect(ctx, pgAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var dbs int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", pgAddon.ProviderID).Scan(&dbs); err != nil || dbs != 0 {
		t.Errorf("database %s after destroy: %d (%v)", pgAddon.ProviderID, dbs, err)
	}
	m.expectError("DELETE", "/apps/"+app+"/addons/"+pgAddon.Name, "", 404, "not_found")

	// The real CLI: create, list, destroy (a few commands: ~2 s each).
	t.Run("heroku CLI", func(t *testing.T) {
		cli := herokucli.Require(t, m.apiURL, m.token)
		heroku := func(args ...string) string {
			t.Helper()
			res, err := cli.Run(ctx, args...)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("heroku %s: %v %s", strings.Join(args, " "), err, res)
			}
			return res.Stdout + res.Stderr
		}
		out := heroku("addons:create", "heroku-postgresql:essential-0", "-a", app)
		if !strings.Contains(out, "as DATABASE_URL") {
			t.Errorf("addons:create output:\n%s", out)
		}
		url := m.config(app)["DATABASE_URL"]
		if url == "" || url == dbURL {
			t.Errorf("after addons:create: DATABASE_URL is empty or the destroyed database's")
		}
		var cliAddon addonOut
		for _, a := range m.listAddons(app) {
			if a.AddonService.Name == "heroku-postgresql" {
				cliAddon = a
			}
		}
		out = heroku("addons", "-a", app)
		for _, want := range []string{cliAddon.Name, "essential-0", "as DATABASE", rdAddon.Name, "as REDIS"} {
			if want == "" || !strings.Contains(out, want) {
				t.Errorf("addons output lacks %q:\n%s", want, out)
			}
		}
		// pg:psql finds the database through the attachments (their plan
		// and config var names) and runs the local psql on DATABASE_URL.
		// The test server has no TLS, which the CLI requires unless told.
		if _, err := exec.LookPath("psql"); err == nil {
			psqlCLI := *cli
			psqlCLI.Env = append(slices.Clone(cli.Env), "PGSSLMODE=prefer")
			res, err := psqlCLI.Run(ctx, "pg:psql", "-a", app, "-c", "SELECT 40 + 2 AS answer")
			if err != nil || res.ExitCode != 0 || !strings.Contains(res.Stdout, "42") || !strings.Contains(res.Stderr, "Connecting to "+cliAddon.Name) {
				t.Errorf("heroku pg:psql: %v %s", err, res)
			}
			// pg:outliers reads pg_stat_statements, which the provider
			// installs when the server loads it (the test server does).
			res, err = psqlCLI.Run(ctx, "pg:outliers", "-a", app)
			if err != nil || res.ExitCode != 0 || !strings.Contains(res.Stdout, "total_exec_time") {
				t.Errorf("heroku pg:outliers: %v %s", err, res)
			}
			// pg:extensions lists what the database's role may create.
			res, err = psqlCLI.Run(ctx, "pg:extensions", "-a", app)
			if err != nil || res.ExitCode != 0 || !strings.Contains(res.Stdout, "pgcrypto") || strings.Contains(res.Stdout, "plpython3u") {
				t.Errorf("heroku pg:extensions: %v %s", err, res)
			}
		}
		// pg:info and redis:info ask the Data API (HEROKU_DATA_HOST), which
		// minipaas serves on its API listener with the providers' reports.
		dataCLI := *cli
		dataCLI.Env = append(slices.Clone(cli.Env), "HEROKU_DATA_HOST=127.0.0.1")
		if conn, err := pgx.Connect(ctx, url); err != nil {
			t.Errorf("connect with DATABASE_URL: %v", err)
		} else {
			if _, err := conn.Exec(ctx, "CREATE TABLE orders (n int); CREATE TABLE items (n int)"); err != nil {
				t.Errorf("create tables: %v", err)
			}
			conn.Close(ctx)
		}
		res, err := dataCLI.Run(ctx, "pg:info", "-a", app)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("heroku pg:info: %v %s", err, res)
		}
		t.Logf("$ heroku pg:info -a %s\n%s", app, res.Stdout)
		expectIn(t, res.Stdout, "=== DATABASE_URL", "Plan:", "Essential 0", "Status:", "Available", "PG Version:", "Tables:", "2", "Data Size:", "Add-on:", cliAddon.Name)
		if strings.Contains(res.Stdout, "Connection Pooling") {
			t.Error("pg:info offers connection pooling without a pooler")
		}
		// pg:diagnose asks pgdiagnose (PGDIAGNOSE_URL), which minipaas
		// also serves: a healthy database, then one with a statement
		// waiting on another's lock; the report can be shown again by id.
		diagCLI := dataCLI
		diagCLI.Env = append(slices.Clone(dataCLI.Env), "PGDIAGNOSE_URL=127.0.0.1")
		res, err = diagCLI.Run(ctx, "pg:diagnose", "-a", app)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("heroku pg:diagnose: %v %s", err, res)
		}
		expectIn(t, res.Stdout, "for "+app+"::DATABASE_URL", "GREEN: Connection Count", "GREEN: Blocking Queries", "GREEN: Sequences")
		if locker, err := pgx.Connect(ctx, url); err != nil {
			t.Errorf("connect with DATABASE_URL: %v", err)
		} else {
			waiter, _ := pgx.Connect(ctx, url)
			locker.Exec(ctx, "BEGIN; LOCK TABLE orders")
			waited := make(chan struct{})
			go func() {
				defer close(waited)
				if waiter != nil {
					waiter.Exec(ctx, "SELECT count(*) FROM orders")
				}
			}()
			var report string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if res, err = diagCLI.Run(ctx, "pg:diagnose", "-a", app); err == nil && strings.Contains(res.Stdout, "RED: Blocking Queries") {
					report = res.Stdout
					break
				}
			}
			t.Logf("$ heroku pg:diagnose -a %s\n%s", app, report)
			expectIn(t, report, "RED: Blocking Queries", "SELECT count(*) FROM orders", "GREEN: Connection Count")
			locker.Exec(ctx, "COMMIT")
			<-waited
			locker.Close(ctx)
			if waiter != nil {
				waiter.Close(ctx)
			}
			if m := regexp.MustCompile(`Report (\S+) for`).FindStringSubmatch(report); m == nil {
				t.Errorf("no report id in %q", report)
			} else if res, err = diagCLI.Run(ctx, "pg:diagnose", m[1], "-a", app); err != nil || !strings.Contains(res.Stdout, "RED: Blocking Queries") {
				t.Errorf("heroku pg:diagnose %s: %v %s", m[1], err, res)
			}
		}
		m.expectError("POST", "/reports", `{"app":"`+app+`","database":"X","url":"postgres://u:p@elsewhere/d"}`, 422, "invalid_params")
		res, err = dataCLI.Run(ctx, "pg:credentials:url", "-a", app)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("heroku pg:credentials:url: %v %s", err, res)
		}
		if cfg, err := pgx.ParseConfig(url); err != nil {
			t.Errorf("DATABASE_URL: %v", err)
		} else {
			expectIn(t, res.Stdout, "Connection information for default credential", "dbname="+cfg.Database, "user="+cfg.User, "password="+cfg.Password)
		}
		res, err = dataCLI.Run(ctx, "pg:credentials", "-a", app)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("heroku pg:credentials: %v %s", err, res)
		}
		expectIn(t, res.Stdout, "default", "active")
		res, err = dataCLI.Run(ctx, "redis:info", "-a", app)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("heroku redis:info: %v %s", err, res)
		}
		t.Logf("$ heroku redis:info -a %s\n%s", app, res.Stdout)
		expectIn(t, res.Stdout, rdAddon.Name, "Plan:", "Mini", "Keys:", "Version:")
		if res, err := dataCLI.Run(ctx, "redis:wait", "-a", app); err != nil || res.ExitCode != 0 {
			t.Errorf("heroku redis:wait: %v %s", err, res)
		}
		redisCLISession(ctx, t, m, &dataCLI, app)
		redisCredentialsReset(ctx, t, m, &dataCLI, app)
		// data:maintenances: minipaas schedules none, which the CLI reports
		// as it does on Heroku for an app without any.
		if res, err := dataCLI.Run(ctx, "data:maintenances", "-a", app); err != nil || !strings.Contains(res.Stderr, "No maintenances found for app "+app) {
			t.Errorf("heroku data:maintenances: %v %s", err, res)
		}
		// addons:rename: the add-on's name, not its attachments or vars.
		vars := m.config(app)
		expectIn(t, heroku("addons:rename", rdAddon.Name, "session-cache"), "session-cache")
		m.expectError("GET", "/apps/"+app+"/addons/"+rdAddon.Name, "", 404, "not_found")
		rdAddon.Name = "session-cache" // the restart below finds it by this name
		if got := m.config(app); !maps.Equal(got, vars) {
			t.Error("addons:rename changed the app's config")
		}
		m.expectError("PATCH", "/apps/"+app+"/addons/session-cache", `{"name":"`+cliAddon.Name+`"}`, 422, "invalid_params")
		m.expectError("PATCH", "/apps/"+app+"/addons/session-cache", `{"name":"9lives"}`, 422, "invalid_params")
		// A service names the app's one add-on of it, as on Heroku.
		expectIn(t, heroku("addons:info", "heroku-redis", "-a", app), rdAddon.Name, "heroku-redis:mini", "REDIS")
		expectIn(t, heroku("addons:docs", "heroku-postgresql", "--show-url"), "https://devcenter.heroku.com/articles/heroku-postgresql")
		if res, err := dataCLI.Run(ctx, "pg:links", "-a", app); err != nil || res.ExitCode != 0 {
			t.Errorf("heroku pg:links: %v %s", err, res)
		}
		// redis:promote: another Redis add-on becomes REDIS in one step.
		var cache addonOut
		if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-redis:mini","attachment":{"name":"CACHE"}}`, &cache); st != 201 {
			t.Fatalf("create a second redis add-on: %d", st)
		}
		cacheURL := m.config(app)["CACHE_URL"]
		expectIn(t, heroku("redis:promote", cache.Name, "-a", app), "Promoting "+cache.Name+" to REDIS_URL")
		if cfg := m.config(app); cfg["REDIS_URL"] != cacheURL || cfg["REDIS_KEY_PREFIX"] != cfg["CACHE_KEY_PREFIX"] {
			t.Errorf("after redis:promote: REDIS_URL is CACHE's: %v", cfg["REDIS_URL"] == cacheURL)
		}
		// And back; then the second add-on goes.
		heroku("redis:promote", rdAddon.Name, "-a", app)
		heroku("addons:destroy", cache.Name, "--confirm", app, "-a", app)
		checkRedis(m.config(app))
		// Server-wide Redis settings are refused, saying why.
		res, err = dataCLI.Run(ctx, "redis:maxmemory", "-a", app, "-p", "allkeys-lru")
		if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "shares its Redis server") {
			t.Errorf("heroku redis:maxmemory: %v %s", err, res)
		}

		// addons:upgrade changes the plan: the connection limit follows,
		// the credentials (so the config) stay, and the app gets a release
		// for the add-on change, as on Heroku (heroku.md §4.1).
		n := len(m.releases(app))
		out = heroku("addons:upgrade", cliAddon.Name, "essential-1", "-a", app)
		if !strings.Contains(out, "to heroku-postgresql:essential-1") {
			t.Errorf("addons:upgrade output:\n%s", out)
		}
		var limit int
		if err := admin.QueryRow(ctx, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", cliAddon.ProviderID).Scan(&limit); err != nil || limit != 40 {
			t.Errorf("connection limit after the upgrade: %d (%v), want 40", limit, err)
		}
		if got := m.config(app)["DATABASE_URL"]; got != url {
			t.Error("DATABASE_URL changed with the plan")
		}
		if rels := m.releases(app); len(rels) != n+1 || !strings.HasPrefix(rels[len(rels)-1].Description, "Update DATABASE") {
			t.Errorf("the upgrade made %d releases (want 1, an add-on update), last %+v", len(rels)-n, rels[len(rels)-1])
		}
		var one addonOut
		if st := m.api("GET", "/addons/"+cliAddon.Name, "", &one); st != 200 || one.Plan.Name != "heroku-postgresql:essential-1" {
			t.Errorf("after the upgrade: %d %+v", st, one)
		}
		// Worded so that the CLI lists the plans.
		st, _, body := m.rawAPI("PATCH", "/apps/"+app+"/addons/"+cliAddon.Name, `{"plan":{"name":"heroku-postgresql:gigantic-9"}}`, m.authHeaders())
		if st != 422 || !strings.Contains(body, `"message":"Couldn't find either the add-on`) {
			t.Errorf("upgrade to an unknown plan: %d %s", st, body)
		}
		m.expectError("PATCH", "/apps/"+app+"/addons/"+cliAddon.Name, `{"plan":{"name":"heroku-redis:mini"}}`, 422, "invalid_params")

		// addons:attach gives the second app the database, addons:detach
		// takes it back.
		out = heroku("addons:attach", cliAddon.Name, "--as", "REPORTING_DB", "-a", app2)
		if !strings.Contains(out, "Setting REPORTING_DB config vars and restarting "+app2) {
			t.Errorf("addons:attach output:\n%s", out)
		}
		shared := m.config(app2)["REPORTING_DB_URL"]
		if shared != url {
			t.Errorf("%s: REPORTING_DB_URL is not the add-on's DATABASE_URL", app2)
		}
		conn, err := pgx.Connect(ctx, shared)
		if err != nil {
			t.Errorf("connect with REPORTING_DB_URL: %v", err)
		} else {
			conn.Close(ctx)
		}
		out = heroku("addons", "-a", app2)
		t.Logf("$ heroku addons -a %s\n%s", app2, out)
		for _, want := range []string{cliAddon.Name, "REPORTING_DB", rdAddon.Name, "CACHE"} {
			if !strings.Contains(out, want) {
				t.Errorf("addons -a %s lacks %q:\n%s", app2, want, out)
			}
		}
		heroku("addons:detach", "REPORTING_DB", "-a", app2)
		if _, ok := m.config(app2)["REPORTING_DB_URL"]; ok {
			t.Error("REPORTING_DB_URL still set after addons:detach")
		}
		out = heroku("addons:destroy", cliAddon.Name, "--confirm", app, "-a", app)
		if !strings.Contains(out, "Destroying "+cliAddon.Name) {
			t.Errorf("addons:destroy output:\n%s", out)
		}
		if _, ok := m.config(app)["DATABASE_URL"]; ok {
			t.Error("DATABASE_URL still set after addons:destroy")
		}
	})

	// Started while its Redis is unreachable, minipaas keeps the add-on's
	// record and lists it as provisioning; the next start restores it.
	m.stop()
	dead := listenLoopback(t)
	deadURL := "redis://:x@" + dead.Addr().String()
	dead.Close()
	m = startMinipaasWith(t, dataDir, token, "-postgres-url", pgAdmin, "-redis-url", deadURL)
	if list := m.listAddons(app); len(list) != 1 || list[0].Name != rdAddon.Name || list[0].State != "provisioning" {
		t.Errorf("with Redis down: %+v", list)
	}
	m.expectError("DELETE", "/apps/"+app+"/addons/"+rdAddon.Name, "", 503, "service_unavailable")
	// redis:wait takes a 404 for "keep waiting": an add-on that could not
	// be restored is an error instead.
	m.expectError("GET", "/redis/v0/databases/"+rdAddon.Name+"/wait", "", 503, "service_unavailable")
	m.stop()
	m = startMinipaasWith(t, dataDir, token, flags...)
	if list := m.listAddons(app); len(list) != 1 || list[0].State != "provisioned" {
		t.Errorf("with Redis back: %+v", list)
	}
	checkRedis(m.config(app))

	// Destroying the app destroys its Redis user too, and takes the
	// vars from the app it was shared with.
	if st := m.api("DELETE", "/apps/"+app, "", nil); st != 200 {
		t.Fatalf("destroy app: %d", st)
	}
	if _, ok := m.config(app2)["CACHE_URL"]; ok {
		t.Errorf("%s still has CACHE_URL after the add-on's app was destroyed", app2)
	}
	opt, _ := goredis.ParseURL(redisAdmin)
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if users, err := rc.Do(ctx, "ACL", "USERS").StringSlice(); err != nil || len(users) != 1 {
		t.Errorf("redis ACL users after destroying the app: %v (%v)", users, err)
	}
	if st := m.api("GET", "/addons", "", &list); st != 200 || len(list) != 0 {
		t.Errorf("add-ons after destroying the app: %d %+v", st, list)
	}
	if pw := pgURLPassword(pgAdmin); pw == "" || strings.Contains(m.out.String(), pw) {
		t.Error("the admin URL has no password, or it appears in the platform's output")
	}
}

// nameUUIDOfAttachment is the id the API gives an attachment.
func nameUUIDOfAttachment(addonID, app, name string) string {
	return nameUUID("addon-attachment", addonID, app, name)
}

func pgURLPassword(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	pw, _ := pu.User.Password()
	return pw
}

// Without add-on servers the services are absent and creating one says
// which flag would offer it.
func TestAddonsUnconfigured(t *testing.T) {
	m := startMinipaas(t)
	if st := m.api("POST", "/apps", `{"name":"plain"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	st, _, body := m.rawAPI("POST", "/apps/plain/addons", `{"plan":"heroku-postgresql:essential-0"}`, m.authHeaders())
	if st != 422 || !strings.Contains(body, "-postgres-url") || !strings.Contains(body, `"id":"invalid_params"`) {
		t.Errorf("postgres without -postgres-url: %d %s", st, body)
	}
	st, _, body = m.rawAPI("POST", "/apps/plain/addons", `{"plan":"heroku-redis"}`, m.authHeaders())
	if st != 422 || !strings.Contains(body, "-redis-url") {
		t.Errorf("redis without -redis-url: %d %s", st, body)
	}
	var list []addonOut
	if st := m.api("GET", "/apps/plain/addons", "", &list); st != 200 || len(list) != 0 {
		t.Errorf("list: %d %+v", st, list)
	}
}

// redisCLISession drives heroku redis:cli as a user at a terminal: the CLI
// sends AUTH <password> alone, which the Redis gateway on the rendezvous
// turns into the add-on user's login.
func redisCLISession(ctx context.Context, t *testing.T, m *minipaas, cli *herokucli.CLI, app string) {
	t.Helper()
	cfg := m.config(app)
	prefix := cfg["REDIS_KEY_PREFIX"]
	user := strings.TrimSuffix(prefix, ":")
	res, err := cli.Run(ctx, "redis:credentials", "-a", app)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("heroku redis:credentials: %v %s", err, res)
	}
	expectIn(t, res.Stdout, "rediss://:"+user+".", "@"+m.runAddr)

	// A value the app wrote, for the session to read.
	opt, err := goredis.ParseURL(cfg["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	app1 := goredis.NewClient(opt)
	defer app1.Close()
	written := "from-the-app-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := app1.Set(ctx, prefix+"note", written, 0).Err(); err != nil {
		t.Fatal(err)
	}

	rc, err := cli.StartOnTerminal(ctx, 160, 40, "redis:cli", "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	waitFor := func(what string) {
		t.Helper()
		if out, ok := rc.WaitOutput(30*time.Second, func(s string) bool { return strings.Contains(s, what) }); !ok {
			t.Fatalf("heroku redis:cli never showed %q:\n%s", what, out)
		}
	}
	waitFor(m.runAddr + "> ")
	rc.Type("ACL WHOAMI\r")
	waitFor("\n" + user) // typed text holds no user name: this is the reply
	rc.Type("GET " + prefix + "note\r")
	waitFor(written)
	rc.Type("SET " + prefix + "typed yes\r")
	deadline := time.Now().Add(20 * time.Second)
	for app1.Get(ctx, prefix+"typed").Val() != "yes" {
		if time.Now().After(deadline) {
			t.Fatalf("the SET typed in redis:cli never reached the add-on:\n%s", rc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc.Type("\x04") // ^D: the CLI sends QUIT
	waitFor("Disconnected from instance.")
	if out, ok := rc.WaitOutput(20*time.Second, func(string) bool { return rc.Exited() }); !ok || rc.ExitCode() != 0 {
		t.Errorf("heroku redis:cli: exit %d after ^D:\n%s", rc.ExitCode(), out)
	}
	t.Logf("$ heroku redis:cli -a %s\n%s", app, rc.Output())
}

// redisCredentialsReset drives heroku redis:credentials --reset: the
// add-on's user gets a new password, the app a new REDIS_URL in a
// release, and the old URL stops logging in.
func redisCredentialsReset(ctx context.Context, t *testing.T, m *minipaas, cli *herokucli.CLI, app string) {
	t.Helper()
	before := m.config(app)["REDIS_URL"]
	res, err := cli.Run(ctx, "redis:credentials", "--reset", "-a", app)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("heroku redis:credentials --reset: %v %s", err, res)
	}
	after := m.config(app)["REDIS_URL"]
	if after == before {
		t.Fatal("redis:credentials --reset left REDIS_URL as it was")
	}
	if rels := m.releases(app); !strings.Contains(rels[len(rels)-1].Description, "Update REDIS") {
		t.Errorf("the last release is %q", rels[len(rels)-1].Description)
	}
	ping := func(u string) error {
		opt, err := goredis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		c := goredis.NewClient(opt)
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	if err := ping(after); err != nil {
		t.Errorf("PING with the new REDIS_URL: %v", err)
	}
	if err := ping(before); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("PING with the old REDIS_URL: %v, want WRONGPASS", err)
	}
}

// TestInterruptedDestroyRestored: a destroy cut short (the record says
// deprovisioning) is finished at the next start, and takes every
// attachment the database had on the app with it, its colour alias too.
func TestInterruptedDestroyRestored(t *testing.T) {
	pg := &pgtest.Server{RequirePassword: true}
	t.Cleanup(pg.Stop)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	flags := []string{"-postgres-url", pg.AdminURL(t)}
	m := startMinipaasWith(t, dataDir, token, flags...)
	const app = "books"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var db addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0"}`, &db); st != 201 {
		t.Fatalf("create postgres add-on: %d", st)
	}
	if cfg := m.config(app); cfg["DATABASE_URL"] == "" || cfg["HEROKU_POSTGRESQL_AMBER_URL"] != cfg["DATABASE_URL"] {
		t.Fatalf("config before: %d vars, alias set: %v", len(cfg), cfg["HEROKU_POSTGRESQL_AMBER_URL"] != "")
	}
	// The destroy's first step, as it is recorded before the release.
	ctx := context.Background()
	recs, err := m.p.Records(ctx, platform.AddonRecords)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(recs[db.Name], &rec); err != nil {
		t.Fatalf("the add-on's record: %v", err)
	}
	rec["state"] = "deprovisioning"
	b, _ := json.Marshal(rec)
	if err := m.p.PutRecord(ctx, platform.AddonRecords, db.Name, b); err != nil {
		t.Fatal(err)
	}
	m.stop()

	m = startMinipaasWith(t, dataDir, token, flags...)
	if list := m.listAddons(app); len(list) != 0 {
		t.Errorf("after the restart: %d add-ons, want the destroy finished", len(list))
	}
	for k := range m.config(app) {
		if strings.HasPrefix(k, "DATABASE_") || strings.HasPrefix(k, "HEROKU_POSTGRESQL_") {
			t.Errorf("after the restart: %s is still set", k)
		}
	}
	// The colour is free again: a new first database gets it.
	var again addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0"}`, &again); st != 201 || !slices.Contains(again.ConfigVars, "HEROKU_POSTGRESQL_AMBER_URL") {
		t.Errorf("a new database after the restart: %d %+v", st, again)
	}
}
