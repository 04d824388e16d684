package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/jackc/pgx/v5"
)

type transferOut struct {
	UUID           string `json:"uuid"`
	Num            int    `json:"num"`
	FromType       string `json:"from_type"`
	ToType         string `json:"to_type"`
	ToURL          string `json:"to_url"`
	Succeeded      bool   `json:"succeeded"`
	FinishedAt     string `json:"finished_at"`
	CanceledAt     string `json:"canceled_at"`
	ProcessedBytes int64  `json:"processed_bytes"`
	Logs           []struct {
		Message string `json:"message"`
	} `json:"logs"`
}

// startWithPostgres starts minipaas with a throw-away PostgreSQL server
// for its heroku-postgresql add-ons (set: as startMinipaasOpts), and
// returns what a restart needs.
func startWithPostgres(t *testing.T, set func(*options)) (m *minipaas, dataDir, token string, flags []string) {
	t.Helper()
	pg := &pgtest.Server{RequirePassword: true, JSONLog: true}
	t.Cleanup(pg.Stop)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir = filepath.Join(t.TempDir(), "data")
	flags = []string{"-postgres-url", pg.AdminURL(t)}
	return startMinipaasOpts(t, dataDir, token, set, flags...), dataDir, token, flags
}

// waitTransfer polls a transfer until it finishes.
func (m *minipaas) waitTransfer(app string, num int) transferOut {
	m.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var tr transferOut
		st := m.api("GET", "/client/v11/apps/"+app+"/transfers/"+strconv.Itoa(num)+"?verbose=true", "", &tr)
		if st != 200 && st != 404 { // 404: a scheduled one not started yet
			m.t.Fatalf("transfer %d: HTTP %d", num, st)
		}
		if tr.FinishedAt != "" {
			return tr
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("transfer %d did not finish: %+v", num, tr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notes returns the ledger table's notes, or the error reading them.
func notes(ctx context.Context, t *testing.T, dbURL string) string {
	t.Helper()
	return queryText(ctx, t, dbURL, "SELECT string_agg(note, ',' ORDER BY note) FROM ledger")
}

// tables lists the public tables of the database at dbURL.
func tables(ctx context.Context, t *testing.T, dbURL string) string {
	t.Helper()
	return queryText(ctx, t, dbURL, "SELECT coalesce(string_agg(tablename, ',' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public'")
}

// queryText returns the one text value query reads from the database at
// dbURL, or the error reading it.
func queryText(ctx context.Context, t *testing.T, dbURL, query string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, query).Scan(&s); err != nil {
		return "error: " + err.Error()
	}
	return s
}

// appWithLedger creates app with a database whose table ledger holds the
// notes "first" and "second"; it returns the database and its URL.
func (m *minipaas) appWithLedger(ctx context.Context, app string) (addonOut, string) {
	m.t.Helper()
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		m.t.Fatalf("create app: %d", st)
	}
	var db addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0"}`, &db); st != 201 {
		m.t.Fatalf("create database: %d", st)
	}
	dbURL := m.config(app)["DATABASE_URL"]
	execSQL(ctx, m.t, dbURL, "CREATE TABLE ledger (note text); INSERT INTO ledger VALUES ('first'), ('second')")
	return db, dbURL
}

func execSQL(ctx context.Context, t *testing.T, dbURL, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestPGBackups drives heroku pg:backups with the real CLI against a real
// PostgreSQL: capture, list, info, restore, download, url, restore from
// another server's URL, cancel, delete, a restart, retention, destroy.
func TestPGBackups(t *testing.T) {
	m, dataDir, token, flags := startWithPostgres(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const app = "ledger"
	db, dbURL := m.appWithLedger(ctx, app)

	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1", "NODE_EXTRA_CA_CERTS="+filepath.Join(dataDir, "rendezvous-ca.pem"))
	heroku := herokuFunc(t, cli)

	heroku("pg:wait", "-a", app) // returns at once: the database is available
	expectIn(t, heroku("pg:backups:capture", "-a", app), "Backing up", db.Name, "b001", "done")
	expectIn(t, heroku("pg:backups", "-a", app), "=== Backups", "b001", "Completed", db.Name, "No restores found")
	expectIn(t, heroku("pg:backups:info", "b001", "-a", app), "Database:", db.Name, "Status:", "Completed", "Backup Size:", "% compression", "backup started", "backup completed")

	// A restore puts the database back as it was: the data, and no
	// table made since.
	execSQL(ctx, t, dbURL, "DELETE FROM ledger; INSERT INTO ledger VALUES ('wrong'); CREATE TABLE later (x int)")
	expectIn(t, heroku("pg:backups:restore", "b001", "DATABASE_URL", "-a", app, "--confirm", app), "Restoring", "done")
	if got := notes(ctx, t, dbURL); got != "first,second" {
		t.Errorf("after restoring b001: %q, want first,second", got)
	}
	if got := tables(ctx, t, dbURL); got != "ledger" {
		t.Errorf("tables after restoring b001: %q, want only ledger", got)
	}
	expectIn(t, heroku("pg:backups", "-a", app), "=== Restores", "r002", db.Name)

	// The dashboard lists the backup, captures another and serves the file.
	page := m.dashPage(app)
	expectIn(t, page, `<tr class="backup" data-name="b001">`, `<td class="status">Completed</td>`,
		`<a class="download" href="/dashboard/apps/`+app+`/backups/b001" download>`, `<option value="`+db.Name+`">`)
	if _, level, text := m.dashSubmit(app, "backups", url.Values{"database": {db.Name}}, nil); level != "ok" || !strings.HasPrefix(text, "Started backup b003 of "+db.Name) {
		t.Errorf("capture on the dashboard: %s %q", level, text)
	}
	if tr := m.waitTransfer(app, 3); !tr.Succeeded {
		t.Fatalf("the dashboard's backup: %+v", tr)
	}
	req, _ := http.NewRequest("GET", m.apiURL+"/dashboard/apps/"+app+"/backups/b003", nil)
	req.SetBasicAuth("", m.token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("download on the dashboard: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("PGDMP")) {
			t.Errorf("download on the dashboard: %d, %d bytes", resp.StatusCode, len(b))
		}
	}

	// download and url: signed HTTPS URLs on the rendezvous listener.
	dump := filepath.Join(t.TempDir(), "latest.dump")
	heroku("pg:backups:download", "b001", "-a", app, "-o", dump)
	raw, err := os.ReadFile(dump)
	if err != nil || !bytes.HasPrefix(raw, []byte("PGDMP")) {
		t.Fatalf("downloaded dump: %d bytes, %q…, %v", len(raw), raw[:min(len(raw), 16)], err)
	}
	publicURL := strings.TrimSpace(heroku("pg:backups:url", "b001", "-a", app))
	if !regexp.MustCompile(`^https://127\.0\.0\.1:\d+/backups/[-0-9a-f]+/[-0-9a-f]+\?expires=\d+&signature=[0-9a-f]{64}$`).MatchString(publicURL) {
		t.Fatalf("pg:backups:url = %q", publicURL)
	}
	get := func(u string) (int, []byte) {
		t.Helper()
		// The rendezvous CA is made at each start.
		ca, err := os.ReadFile(filepath.Join(dataDir, "rendezvous-ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca)
		https := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}
		resp, err := https.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := get(publicURL); st != 200 || !bytes.Equal(b, raw) {
		t.Errorf("GET the public URL: %d, %d bytes (want the %d downloaded)", st, len(b), len(raw))
	}
	unsigned, _, _ := strings.Cut(publicURL, "?")
	// The signature with its last digit changed (to one it is not).
	flipped := publicURL[:len(publicURL)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(publicURL, "0")]
	for _, u := range []string{unsigned, flipped, strings.Replace(publicURL, "expires=", "expires=9", 1)} {
		if st, b := get(u); st != http.StatusForbidden {
			t.Errorf("GET %s: %d %s, want 403", u, st, b)
		}
	}

	// A restore from a URL elsewhere, and cancel of one that stalls.
	dumpServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall.dump" {
			w.Write(raw[:16])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		w.Write(raw)
	}))
	defer dumpServer.Close()
	execSQL(ctx, t, dbURL, "DELETE FROM ledger")
	expectIn(t, heroku("pg:backups:restore", dumpServer.URL+"/b001.dump", "DATABASE_URL", "-a", app, "--confirm", app), "done")
	if got := notes(ctx, t, dbURL); got != "first,second" {
		t.Errorf("after restoring from a URL: %q, want first,second", got)
	}
	var stalled transferOut
	if st := m.api("POST", "/client/v11/databases/"+db.ID+"/restores", `{"backup_url":"`+dumpServer.URL+`/stall.dump"}`, &stalled); st != 201 {
		t.Fatalf("start a restore: %d", st)
	}
	// One transfer at a time per database.
	m.expectError("POST", "/client/v11/databases/"+db.ID+"/backups", "", 409, "conflict")
	expectIn(t, heroku("pg:backups:cancel", "-a", app), "Cancelling r005")
	if tr := m.waitTransfer(app, stalled.Num); tr.Succeeded || tr.CanceledAt == "" {
		t.Errorf("canceled restore: %+v", tr)
	}
	if got := notes(ctx, t, dbURL); got != "first,second" {
		t.Errorf("after a canceled restore: %q, want the data unchanged", got)
	}
	m.expectError("POST", "/client/v11/databases/"+db.ID+"/restores", `{"backup_url":"file:///etc/passwd"}`, 422, "invalid_params")

	// A restore the stop cuts short is failed at the next start; the
	// backups stay, and so do their numbers.
	if st := m.api("POST", "/client/v11/databases/"+db.ID+"/restores", `{"backup_url":"`+dumpServer.URL+`/stall.dump"}`, &stalled); st != 201 {
		t.Fatalf("start a restore: %d", st)
	}
	m.stop()
	m = startMinipaasWith(t, dataDir, token, flags...)
	cli = herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1", "NODE_EXTRA_CA_CERTS="+filepath.Join(dataDir, "rendezvous-ca.pem"))
	heroku = herokuFunc(t, cli)
	if tr := m.waitTransfer(app, stalled.Num); tr.Succeeded || len(tr.Logs) == 0 || !strings.Contains(tr.Logs[len(tr.Logs)-1].Message, "interrupted") {
		t.Errorf("restore cut short by a stop: %+v", tr)
	}
	expectIn(t, heroku("pg:backups", "-a", app), "b001", "Completed")
	// (The test's listeners move at a restart; minipaas's own stay put.)
	oldURL := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(publicURL, m.runAddr)
	if st, _ := get(oldURL); st != http.StatusForbidden {
		t.Errorf("a public URL of the previous start: %d, want 403", st)
	}

	// Retention: the newest five backups of a database are kept.
	var nums []int
	for range 5 {
		var tr transferOut
		if st := m.api("POST", "/client/v11/databases/"+db.Name+"/backups", "", &tr); st != 201 {
			t.Fatalf("capture: %d", st)
		}
		if done := m.waitTransfer(app, tr.Num); !done.Succeeded {
			t.Fatalf("backup %d: %+v", tr.Num, done)
		}
		nums = append(nums, tr.Num)
	}
	if nums[0] != 7 || nums[4] != 11 {
		t.Errorf("backup numbers %v, want 7…11 (never reused)", nums)
	}
	out := heroku("pg:backups", "-a", app)
	if strings.Contains(out, "b001") || strings.Contains(out, "b003") || !strings.Contains(out, "b007") || !strings.Contains(out, "b011") {
		t.Errorf("after five more backups, b001 and b003 should have expired:\n%s", out)
	}
	var appID struct {
		ID string `json:"id"`
	}
	m.api("GET", "/apps/"+app, "", &appID)
	files, _ := filepath.Glob(filepath.Join(dataDir, "backups", appID.ID, "*"))
	if len(files) != 5 {
		t.Errorf("backup files: %v, want 5", files)
	}

	heroku("pg:backups:delete", "b011", "-a", app, "--confirm", app)
	if out := heroku("pg:backups", "-a", app); strings.Contains(out, "b011") {
		t.Errorf("b011 listed after delete:\n%s", out)
	}
	if files, _ := filepath.Glob(filepath.Join(dataDir, "backups", appID.ID, "*")); len(files) != 4 {
		t.Errorf("backup files after a delete: %v, want 4", files)
	}

	// pg:copy between two databases of minipaas (the CLI names them by
	// their config vars).
	var staging addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:essential-0","attachment":{"name":"STAGING_DB"}}`, &staging); st != 201 {
		t.Fatalf("create a second database: %d", st)
	}
	// Two databases: the service alone no longer names one.
	if st, body := m.apiRaw("POST", "/actions/addons/resolve", `{"addon":"heroku-postgresql","app":"`+app+`"}`); st != 422 || !strings.Contains(body, "Ambiguous identifier") {
		t.Errorf("resolve heroku-postgresql with two databases: %d %s", st, body)
	}
	// The copy replaces what the target held.
	execSQL(ctx, t, m.config(app)["STAGING_DB_URL"], "CREATE TABLE staging_only (x int)")
	expectIn(t, heroku("pg:copy", "DATABASE_URL", "STAGING_DB_URL", "-a", app, "--confirm", "STAGING_DB"), "Copying", "done")
	if got := notes(ctx, t, m.config(app)["STAGING_DB_URL"]); got != "first,second" {
		t.Errorf("the copy's data: %q, want first,second", got)
	}
	if got := tables(ctx, t, m.config(app)["STAGING_DB_URL"]); got != "ledger" {
		t.Errorf("the copy's tables: %q, want only ledger", got)
	}
	expectIn(t, heroku("pg:backups", "-a", app), "=== Copies", "c012", db.Name, staging.Name)
	res, err := cli.Run(ctx, "pg:copy", "DATABASE_URL", "postgres://elsewhere.example:5432/db", "-a", app, "--confirm", "db")
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "not one") {
		t.Errorf("pg:copy to a database outside minipaas: %v %s", err, res)
	}

	// pg:credentials:rotate: a new password in a new release; the old one
	// no longer logs in.
	heroku("pg:credentials:rotate", "DATABASE_URL", "-a", app, "--confirm", app)
	newURL := m.config(app)["DATABASE_URL"]
	if newURL == dbURL || newURL == "" {
		t.Fatal("DATABASE_URL did not change with the rotation")
	}
	if conn, err := pgx.Connect(ctx, dbURL); err == nil {
		conn.Close(ctx)
		t.Error("the old DATABASE_URL still logs in after the rotation")
	}
	if got := notes(ctx, t, newURL); got != "first,second" {
		t.Errorf("the data through the rotated URL: %q", got)
	}
	// One release for both of the database's attachments on the app.
	if rels := m.releases(app); rels[len(rels)-1].Description != "Update DATABASE, HEROKU_POSTGRESQL_AMBER" {
		t.Errorf("the rotation's release: %q", rels[len(rels)-1].Description)
	}
	dbURL = newURL

	// pg:killall closes the connections to the database.
	held, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	heroku("pg:killall", "-a", app)
	if held.Ping(ctx) == nil {
		t.Error("a connection survived pg:killall")
	}
	held.Close(ctx)

	// pg:reset empties the database; its URL stays the same.
	expectIn(t, heroku("pg:reset", "DATABASE_URL", "-a", app, "--confirm", app), "Resetting")
	if got := notes(ctx, t, dbURL); !strings.Contains(got, "does not exist") {
		t.Errorf("after pg:reset: %q, want the table gone", got)
	}
	m.expectError("PUT", "/client/v11/databases/"+db.ID+"/reset", `{"extensions":["x;y"]}`, 422, "invalid_params")

	// pg:promote: STAGING_DB becomes DATABASE in one release; the old
	// primary keeps the alias it got when it was created
	// (HEROKU_POSTGRESQL_<COLOR>); both hold after a restart.
	stagingURL := m.config(app)["STAGING_DB_URL"]
	oldPrimary := m.config(app)["DATABASE_URL"]
	rels := len(m.releases(app))
	expectIn(t, heroku("pg:promote", "STAGING_DB_URL", "-a", app), "Ensuring an alternate alias for existing DATABASE_URL", "HEROKU_POSTGRESQL_", "Promoting")
	checkPromoted := func(when string) {
		t.Helper()
		cfg := m.config(app)
		var alias string
		for k, v := range cfg {
			if strings.HasPrefix(k, "HEROKU_POSTGRESQL_") && v == oldPrimary {
				alias = k
			}
		}
		if cfg["DATABASE_URL"] != stagingURL || cfg["STAGING_DB_URL"] != stagingURL || alias == "" {
			t.Errorf("%s: DATABASE_URL is STAGING_DB's: %v; the old primary's alias: %q", when, cfg["DATABASE_URL"] == stagingURL, alias)
		}
	}
	checkPromoted("after pg:promote")
	if got := len(m.releases(app)) - rels; got != 1 {
		t.Errorf("pg:promote made %d releases, want 1 (DATABASE moved in one step; the alias was there)", got)
	}
	m.stop()
	m = startMinipaasOpts(t, dataDir, token, nil, flags...)
	cli = herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1", "NODE_EXTRA_CA_CERTS="+filepath.Join(dataDir, "rendezvous-ca.pem"))
	heroku = herokuFunc(t, cli)
	checkPromoted("after a restart")
	expectIn(t, heroku("addons", "-a", app), "as DATABASE", "as STAGING_DB", "as HEROKU_POSTGRESQL_")

	// Destroying the app removes its backups.
	heroku("apps:destroy", "-a", app, "--confirm", app)
	if _, err := os.Stat(filepath.Join(dataDir, "backups", appID.ID)); !os.IsNotExist(err) {
		t.Errorf("backups of a destroyed app: %v", err)
	}
}

func TestBackupScheduleNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		sched backupSchedule
		after time.Time
		want  time.Time
	}{
		{"later today", backupSchedule{Hour: 2, Timezone: "UTC"}, time.Date(2026, 3, 1, 1, 59, 0, 0, time.UTC), time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)},
		{"at the hour: tomorrow", backupSchedule{Hour: 2, Timezone: "UTC"}, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)},
		{"year end", backupSchedule{Hour: 0, Timezone: "UTC"}, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"another zone", backupSchedule{Hour: 2, Timezone: "America/New_York"}, time.Date(2026, 7, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)},
		{"across the spring change", backupSchedule{Hour: 3, Timezone: "America/New_York"}, time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 8, 3, 0, 0, 0, ny)},
		{"across the autumn change", backupSchedule{Hour: 23, Timezone: "America/New_York"}, time.Date(2026, 10, 31, 23, 30, 0, 0, ny), time.Date(2026, 11, 1, 23, 0, 0, 0, ny)},
	}
	for _, tt := range tests {
		got, err := tt.sched.next(tt.after)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%s: next(%v) = %v, %v; want %v", tt.name, tt.after, got, err, tt.want)
		}
	}
	if _, err := (backupSchedule{Hour: 2, Timezone: "Mars/Olympus"}).next(time.Now()); err == nil {
		t.Error("an unknown time zone gave no error")
	}
	s := backupSchedule{Hour: 2, Timezone: "UTC", CreatedAt: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)}
	if s.due(time.Date(2026, 3, 2, 1, 59, 0, 0, time.UTC)) || !s.due(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)) {
		t.Error("a schedule made after today's hour is due at tomorrow's")
	}
	s.LastRun = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	if s.due(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)) || !s.due(time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)) {
		t.Error("after a run, the next is due the next day (once, however late)")
	}
}

// fakeClock is a settable clock for scheduled backups.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestPGBackupsSealed: with -config-key-file the dumps on disk are sealed
// and open for download (CLI, dashboard) and restore; a dump from before
// the key still works; an altered dump fails both. (Without the key
// minipaas does not start at all: its releases are sealed too.)
func TestPGBackupsSealed(t *testing.T) {
	m, dataDir, token, flags := startWithPostgres(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const app = "vault"
	db, dbURL := m.appWithLedger(ctx, app)
	capture := func() transferOut {
		t.Helper()
		var tr transferOut
		if st := m.api("POST", "/client/v11/databases/"+db.Name+"/backups", "", &tr); st != 201 {
			t.Fatalf("capture: %d", st)
		}
		done := m.waitTransfer(app, tr.Num)
		if !done.Succeeded {
			t.Fatalf("backup %d: %+v", tr.Num, done)
		}
		return done
	}
	var appID struct {
		ID string `json:"id"`
	}
	m.api("GET", "/apps/"+app, "", &appID)
	file := func(tr transferOut) string { return filepath.Join(dataDir, "backups", appID.ID, tr.UUID+".dump") }
	capture() // b001, before the key

	keyFile := writeConfigKey(t)
	m.stop()
	m = startMinipaasWith(t, dataDir, token, append(flags, "-config-key-file", keyFile)...)
	sealedTr := capture() // b002
	onDisk, err := os.ReadFile(file(sealedTr))
	if err != nil || !bytes.HasPrefix(onDisk, []byte(sealed.StreamPrefix)) || bytes.Contains(onDisk, []byte("PGDMP")) || bytes.Contains(onDisk, []byte("second")) {
		t.Fatalf("b002 on disk: %d bytes starting %q, %v; want a sealed stream", len(onDisk), onDisk[:min(len(onDisk), 24)], err)
	}

	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1", "NODE_EXTRA_CA_CERTS="+filepath.Join(dataDir, "rendezvous-ca.pem"))
	heroku := herokuFunc(t, cli)
	download := filepath.Join(t.TempDir(), "b002.dump")
	heroku("pg:backups:download", "b002", "-a", app, "-o", download)
	dump, err := os.ReadFile(download)
	if err != nil || !bytes.HasPrefix(dump, []byte("PGDMP")) || int64(len(dump)) != sealedTr.ProcessedBytes {
		t.Fatalf("downloaded b002: %d bytes starting %q (%v), want the %d-byte dump", len(dump), dump[:min(len(dump), 8)], err, sealedTr.ProcessedBytes)
	}
	dash := func(name string) (int, []byte, error) {
		req, _ := http.NewRequest("GET", m.apiURL+"/dashboard/apps/"+app+"/backups/"+name, nil)
		req.SetBasicAuth("", m.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	if st, b, err := dash("b002"); st != 200 || !bytes.Equal(b, dump) || err != nil {
		t.Errorf("dashboard download of b002: %d, %d bytes, %v", st, len(b), err)
	}
	if st, b, err := dash("b001"); st != 200 || !bytes.HasPrefix(b, []byte("PGDMP")) || err != nil {
		t.Errorf("dashboard download of b001 (from before the key): %d, %d bytes, %v", st, len(b), err)
	}
	// Restores open both.
	for _, name := range []string{"b002", "b001"} {
		execSQL(ctx, t, dbURL, "DELETE FROM ledger")
		expectIn(t, heroku("pg:backups:restore", name, "DATABASE_URL", "-a", app, "--confirm", app), "done")
		if got := notes(ctx, t, dbURL); got != "first,second" {
			t.Errorf("after restoring %s: %q", name, got)
		}
	}

	// An altered dump: the download breaks off, the restore fails and
	// changes nothing.
	altered := bytes.Clone(onDisk)
	altered[len(altered)-40] ^= 1
	if err := os.WriteFile(file(sealedTr), altered, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, b, err := dash("b002"); err == nil && bytes.Equal(b, dump) {
		t.Error("an altered dump downloaded whole")
	}
	execSQL(ctx, t, dbURL, "INSERT INTO ledger VALUES ('third')")
	var restore transferOut
	if st := m.api("POST", "/client/v11/databases/"+db.ID+"/restores", `{"backup_url":"`+sealedTr.ToURL+`"}`, &restore); st != 201 {
		t.Fatalf("restore of the altered dump: %d", st)
	}
	if tr := m.waitTransfer(app, restore.Num); tr.Succeeded {
		t.Errorf("restore of an altered dump succeeded: %+v", tr)
	} else if !slices.ContainsFunc(tr.Logs, func(l struct {
		Message string `json:"message"`
	}) bool {
		return strings.Contains(l.Message, "does not authenticate")
	}) {
		t.Errorf("restore of an altered dump: logs %+v do not say why", tr.Logs)
	}
	if got := notes(ctx, t, dbURL); got != "first,second,third" {
		t.Errorf("after the failed restore: %q, want the data unchanged", got)
	}
	if err := os.WriteFile(file(sealedTr), onDisk, 0o600); err != nil {
		t.Fatal(err)
	}

}

// TestPGBackupSchedule: heroku pg:backups:schedule, schedules and
// unschedule with the real CLI; the schedule's backup runs when the clock
// reaches its hour, and again the next day, kept across a restart.
func TestPGBackupSchedule(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	set := func(o *options) { o.backupClock, o.backupTick = clock.Now, 20*time.Millisecond }
	m, dataDir, token, flags := startWithPostgres(t, set)

	const app = "nightly"
	db, _ := m.appWithLedger(context.Background(), app)
	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
	heroku := herokuFunc(t, cli)
	heroku("pg:backups:schedule", "DATABASE_URL", "--at", "02:00 America/New_York", "-a", app)
	expectIn(t, heroku("pg:backups:schedules", "-a", app), "DATABASE_URL: daily at 2:00 America/New_York")
	m.expectError("POST", "/client/v11/databases/"+db.ID+"/transfer-schedules", `{"hour":"2","timezone":"Mars/Olympus"}`, 422, "invalid_params")
	m.expectError("POST", "/client/v11/databases/"+db.ID+"/transfer-schedules", `{"hour":"24","timezone":"UTC"}`, 422, "invalid_params")

	// Nothing runs before the hour (2:00 in New York is 06:00 UTC in June).
	clock.Set(time.Date(2026, 6, 2, 5, 59, 0, 0, time.UTC))
	time.Sleep(200 * time.Millisecond)
	var list []transferOut
	if m.api("GET", "/client/v11/apps/"+app+"/transfers", "", &list); len(list) != 0 {
		t.Fatalf("transfers before the scheduled hour: %+v", list)
	}
	clock.Set(time.Date(2026, 6, 2, 6, 0, 30, 0, time.UTC))
	if tr := m.waitTransfer(app, 1); !tr.Succeeded {
		t.Fatalf("the scheduled backup: %+v", tr)
	}
	expectIn(t, heroku("pg:backups", "-a", app), "a001", "Completed")
	expectIn(t, heroku("pg:backups:info", "a001", "-a", app), "Type:", "Scheduled")

	// The next day's runs after a restart; then unschedule stops them.
	m.stop()
	clock.Set(time.Date(2026, 6, 3, 7, 0, 0, 0, time.UTC))
	m = startMinipaasOpts(t, dataDir, token, set, flags...)
	if tr := m.waitTransfer(app, 2); !tr.Succeeded {
		t.Fatalf("the next day's scheduled backup: %+v", tr)
	}
	cli = herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
	heroku = herokuFunc(t, cli)
	heroku("pg:backups:unschedule", "DATABASE_URL", "-a", app)
	expectIn(t, heroku("pg:backups:schedules", "-a", app), "No backup schedules found")
	clock.Set(time.Date(2026, 6, 9, 7, 0, 0, 0, time.UTC))
	time.Sleep(200 * time.Millisecond)
	if m.api("GET", "/client/v11/apps/"+app+"/transfers", "", &list); len(list) != 2 {
		t.Errorf("transfers after unschedule: %d, want 2", len(list))
	}
}

// TestPGCredentials: heroku pg:credentials:create, pg:credentials,
// pg:credentials:url and pg:credentials:destroy on a Standard plan (the
// CLI refuses named credentials on Essential ones).
func TestPGCredentials(t *testing.T) {
	m, dataDir, token, flags := startWithPostgres(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const app = "reports"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var db addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:standard-0"}`, &db); st != 201 {
		t.Fatalf("create database: %d", st)
	}
	dbURL := m.config(app)["DATABASE_URL"]
	execSQL(ctx, t, dbURL, "CREATE TABLE ledger (note text); INSERT INTO ledger VALUES ('first')")
	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
	heroku := herokuFunc(t, cli)

	// pg:diagnose on a Standard plan also reads the server's metrics and
	// burst state (none here); pg:upgrade is refused, saying why.
	diagCLI := *cli
	diagCLI.Env = append(slices.Clone(cli.Env), "PGDIAGNOSE_URL=127.0.0.1")
	expectIn(t, herokuFunc(t, &diagCLI)("pg:diagnose", "-a", app), "for "+app+"::DATABASE_URL", "GREEN: Connection Count")
	if res, err := cli.Run(ctx, "pg:upgrade:run", "DATABASE_URL", "-a", app, "--confirm", app); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "shares its PostgreSQL server") {
		t.Errorf("heroku pg:upgrade:run: %v %s", err, res)
	}
	expectIn(t, heroku("pg:credentials:create", "DATABASE_URL", "--name", "analyst", "-a", app), "define the new grants")
	expectIn(t, heroku("pg:credentials", "-a", app), "default", "analyst", "active")
	out := heroku("pg:credentials:url", "--name", "analyst", "-a", app)
	m1 := regexp.MustCompile(`postgres://[^\s"]+`).FindString(out)
	if m1 == "" || !strings.Contains(out, "user="+db.ProviderID+"_analyst") {
		t.Fatalf("pg:credentials:url --name analyst:\n%s", out)
	}
	// No privileges until the default credential grants them.
	if got := notes(ctx, t, m1); !strings.Contains(got, "permission denied") {
		t.Errorf("the analyst reads %q before a grant", got)
	}
	execSQL(ctx, t, dbURL, "GRANT SELECT ON ledger TO "+db.ProviderID+"_analyst")
	if got := notes(ctx, t, m1); got != "first" {
		t.Errorf("the analyst reads %q after the grant", got)
	}
	// Rotation by name: the old password stops working.
	heroku("pg:credentials:rotate", "DATABASE_URL", "--name", "analyst", "-a", app, "--confirm", app)
	if conn, err := pgx.Connect(ctx, m1); err == nil {
		conn.Close(ctx)
		t.Error("the analyst's old password still logs in after rotation")
	}
	m1 = regexp.MustCompile(`postgres://[^\s"]+`).FindString(heroku("pg:credentials:url", "--name", "analyst", "-a", app))
	if got := notes(ctx, t, m1); got != "first" {
		t.Errorf("the analyst reads %q with the rotated password", got)
	}
	m.expectError("POST", "/postgres/v0/databases/"+db.Name+"/credentials", `{"name":"Bad Name"}`, 422, "invalid_params")
	m.expectError("DELETE", "/postgres/v0/databases/"+db.Name+"/credentials/default", "", 422, "invalid_params")

	// addons:attach --credential: another app gets the analyst's login.
	const bi = "bi-tool"
	if st := m.api("POST", "/apps", `{"name":"`+bi+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	if res, err := cli.Run(ctx, "addons:attach", db.Name, "--credential", "nobody", "-a", bi); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "Could not find credential nobody") {
		t.Errorf("addons:attach --credential nobody: %v %s", err, res)
	}
	heroku("addons:attach", db.Name, "--credential", "analyst", "--as", "ANALYST", "-a", bi)
	credentialAttached := func(m *minipaas) string {
		t.Helper()
		var ats []struct {
			Name       string   `json:"name"`
			Namespace  *string  `json:"namespace"`
			ConfigVars []string `json:"config_vars"`
		}
		m.api("GET", "/apps/"+bi+"/addon-attachments", "", &ats)
		if len(ats) != 1 || ats[0].Name != "ANALYST" || ats[0].Namespace == nil || *ats[0].Namespace != "credential:analyst" ||
			!slices.Equal(ats[0].ConfigVars, []string{"ANALYST_URL"}) {
			t.Errorf("bi's attachments: %+v", ats)
		}
		return m.config(bi)["ANALYST_URL"]
	}
	if got := credentialAttached(m); got != m1 {
		t.Errorf("ANALYST_URL is not the analyst's URL")
	}
	// pg:credentials shows where each credential is attached.
	expectIn(t, heroku("pg:credentials", "-a", app), "analyst", "as ANALYST on "+bi)
	if got := notes(ctx, t, m1); got != "first" {
		t.Errorf("bi reads %q with ANALYST_URL", got)
	}
	// The credential's rotation reaches the app; the add-on's own leaves it.
	heroku("pg:credentials:rotate", "DATABASE_URL", "--name", "analyst", "-a", app, "--confirm", app)
	rotated := m.config(bi)["ANALYST_URL"]
	if rotated == m1 || notes(ctx, t, rotated) != "first" {
		t.Errorf("after rotating the analyst, bi's ANALYST_URL changed %v and reads %q", rotated != m1, notes(ctx, t, rotated))
	}
	m1 = rotated
	heroku("pg:credentials:rotate", "DATABASE_URL", "-a", app, "--confirm", app)
	if got := m.config(bi)["ANALYST_URL"]; got != m1 {
		t.Error("rotating the default credential changed bi's ANALYST_URL")
	}
	// A restart keeps the attachment.
	m.stop()
	m = startMinipaasWith(t, dataDir, token, flags...)
	cli = herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
	heroku = herokuFunc(t, cli)
	if got := credentialAttached(m); got != m1 {
		t.Error("after a restart, ANALYST_URL is not the analyst's URL")
	}
	// An attached credential is not destroyed: the CLI says so, and so
	// does the API.
	if res, err := cli.Run(ctx, "pg:credentials:destroy", "--name", "analyst", "-a", app, "--confirm", app); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "must be detached") {
		t.Errorf("pg:credentials:destroy while attached: %v %s", err, res)
	}
	m.expectError("DELETE", "/postgres/v0/databases/"+db.Name+"/credentials/analyst", "", 422, "invalid_params")
	heroku("addons:detach", "ANALYST", "-a", bi)
	if _, ok := m.config(bi)["ANALYST_URL"]; ok {
		t.Error("addons:detach left ANALYST_URL")
	}
	// What the analyst makes passes to the default credential, with its
	// data: on pg:credentials:repair-default and on destroy.
	dbURL = m.config(app)["DATABASE_URL"] // rotated above
	execSQL(ctx, t, dbURL, "GRANT CREATE ON SCHEMA public TO "+db.ProviderID+"_analyst")
	execSQL(ctx, t, m1, "CREATE TABLE summary (note text); INSERT INTO summary VALUES ('made by the analyst'); REVOKE ALL ON summary FROM PUBLIC")
	heroku("pg:credentials:repair-default", "-a", app, "--confirm", app)
	if got := queryText(ctx, t, dbURL, "SELECT note FROM summary"); got != "made by the analyst" {
		t.Errorf("after repair-default the default credential reads %q", got)
	}
	execSQL(ctx, t, m1, "CREATE TABLE extract (note text); INSERT INTO extract VALUES ('kept')")

	heroku("pg:credentials:destroy", "--name", "analyst", "-a", app, "--confirm", app)
	if out := heroku("pg:credentials", "-a", app); strings.Contains(out, "analyst") {
		t.Errorf("pg:credentials after destroy:\n%s", out)
	}
	if conn, err := pgx.Connect(ctx, m1); err == nil {
		conn.Close(ctx)
		t.Error("the destroyed credential still logs in")
	}
	m.expectError("GET", "/postgres/v0/databases/"+db.Name+"/credentials/analyst", "", 404, "not_found")
	if got := queryText(ctx, t, dbURL, "SELECT note FROM extract"); got != "kept" {
		t.Errorf("after destroying the analyst, its table reads %q", got)
	}
}

// pg:connection-pooling:attach: the app reaches its database through the
// PgBouncer minipaas runs; rotations and restarts keep the URL working.
func TestPGConnectionPooling(t *testing.T) {
	if _, err := postgres.FindPgBouncer(); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("%v (DYNOKIT_TEST_REQUIRE=1; install pgbouncer)", err)
		}
		t.Skip(err)
	}
	ln := listenLoopback(t)
	poolerAddr := ln.Addr().String()
	ln.Close()
	withPooler := func(o *options) { o.PoolerAddr = poolerAddr }
	m, dataDir, token, flags := startWithPostgres(t, withPooler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const app = "pooled-app"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var db addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:standard-0"}`, &db); st != 201 {
		t.Fatalf("create database: %d", st)
	}
	execSQL(ctx, t, m.config(app)["DATABASE_URL"], "CREATE TABLE ledger (note text); INSERT INTO ledger VALUES ('through the pool')")
	cliFor := func(m *minipaas) func(args ...string) string {
		cli := herokucli.Require(t, m.apiURL, m.token)
		cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
		return herokuFunc(t, cli)
	}
	heroku := cliFor(m)
	expectIn(t, heroku("pg:info", "-a", app), "Connection Pooling:", "Available")
	expectIn(t, heroku("pg:connection-pooling:attach", "DATABASE_URL", "--as", "DB_POOL", "-a", app), "Setting DB_POOL config vars")
	// Transaction pooling: no named prepared statements.
	pooled := func(m *minipaas) string {
		t.Helper()
		u := m.config(app)["DB_POOL_URL"]
		if !strings.Contains(u, "@"+poolerAddr+"/") {
			t.Fatalf("DB_POOL_URL %q does not go through the pooler at %s", u, poolerAddr)
		}
		return u + "?default_query_exec_mode=simple_protocol"
	}
	if got := queryText(ctx, t, pooled(m), "SELECT note FROM ledger"); got != "through the pool" {
		t.Errorf("through the pooler: %q", got)
	}
	var ats []struct {
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
	}
	m.api("GET", "/apps/"+app+"/addon-attachments", "", &ats)
	if !slices.ContainsFunc(ats, func(a struct {
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
	}) bool {
		return a.Name == "DB_POOL" && a.Namespace != nil && *a.Namespace == "connection-pooling:default"
	}) {
		t.Errorf("attachments: %+v", ats)
	}
	// A rotation of the default credential reaches the pooled URL.
	before := m.config(app)["DB_POOL_URL"]
	heroku("pg:credentials:rotate", "DATABASE_URL", "-a", app, "--confirm", app)
	if m.config(app)["DB_POOL_URL"] == before {
		t.Error("DB_POOL_URL kept the old password after the rotation")
	}
	if got := queryText(ctx, t, pooled(m), "SELECT note FROM ledger"); got != "through the pool" {
		t.Errorf("through the pooler after the rotation: %q", got)
	}
	// A restart brings the pooler and the attachment back.
	m.stop()
	m = startMinipaasOpts(t, dataDir, token, withPooler, flags...)
	heroku = cliFor(m)
	if got := queryText(ctx, t, pooled(m), "SELECT note FROM ledger"); got != "through the pool" {
		t.Errorf("through the pooler after a restart: %q", got)
	}
	heroku("addons:detach", "DB_POOL", "-a", app)
	if _, ok := m.config(app)["DB_POOL_URL"]; ok {
		t.Error("addons:detach left DB_POOL_URL")
	}
}

// TestPGSettings drives heroku pg:settings and its setters: each value
// reaches the add-on's database, so the app's own sessions run with it.
func TestPGSettings(t *testing.T) {
	m, _, _, _ := startWithPostgres(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const app = "tuned-app"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var db addonOut
	if st := m.api("POST", "/apps/"+app+"/addons", `{"plan":"heroku-postgresql:standard-0"}`, &db); st != 201 {
		t.Fatalf("create database: %d", st)
	}
	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_DATA_HOST=127.0.0.1")
	heroku := herokuFunc(t, cli)
	// A new database logs as Heroku's do.
	expectIn(t, heroku("pg:settings", "-a", app), "=== "+db.Name, "log-statement:", "ddl", "log-min-duration-statement:", "2000", "log-lock-waits:", "true", "auto-explain:", "false")
	expectIn(t, heroku("pg:settings:log-statement", "DATABASE_URL", "all", "-a", app), "log-statement has been set to all for "+db.Name, "All statements are logged.")
	expectIn(t, heroku("pg:settings:log-min-duration-statement", "DATABASE_URL", "250", "-a", app), "log-min-duration-statement has been set to 250 for "+db.Name, "at least 250 milliseconds")
	expectIn(t, heroku("pg:settings:log-lock-waits", "DATABASE_URL", "on", "-a", app), "log-lock-waits has been set to true")
	expectIn(t, heroku("pg:settings:track-functions", "-a", app), "track-functions is set to none")
	url := m.config(app)["DATABASE_URL"]
	if got := queryText(ctx, t, url, "SELECT current_setting('log_statement') || ' ' || current_setting('log_min_duration_statement') || ' ' || current_setting('log_lock_waits')"); got != "all 250ms on" {
		t.Errorf("the app's session runs with %q, want the settings made: all 250ms on", got)
	}
	expectIn(t, heroku("pg:settings", "-a", app), "log-statement:", "all", "log-min-duration-statement:", "250")
	// The database's log lines reach the app's logs, as Heroku's
	// app[postgres.<pid>] lines: heroku logs -p postgres shows them.
	expectIn(t, heroku("pg:settings:auto-explain", "DATABASE_URL", "on", "-a", app), "auto-explain has been set to true", "Execution plans of queries will be logged for future connections.")
	expectIn(t, heroku("pg:settings:auto-explain:log-min-duration", "DATABASE_URL", "0", "-a", app), "All queries will have their execution plans logged.")
	execSQL(ctx, t, url, "SELECT 'settings-marker'")
	if got := queryText(ctx, t, url, "SELECT * FROM missing_marker_table"); !strings.HasPrefix(got, "error:") {
		t.Fatalf("a query of a missing table gave %q", got)
	}
	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		logs = heroku("logs", "-p", "postgres", "-n", "100", "-a", app)
		if strings.Contains(logs, "missing_marker_table") {
			break
		}
	}
	expectIn(t, logs, "app[postgres.", "[DATABASE] [", "sql_error_code = 00000 LOG:  statement: SELECT 'settings-marker'",
		`sql_error_code = 42P01 ERROR:  relation "missing_marker_table" does not exist`, "sql_error_code = 42P01 STATEMENT:  SELECT * FROM missing_marker_table",
		"LOG:  duration: ", "plan: Query Text: SELECT 'settings-marker'") // auto_explain's plan, on one line
	if strings.Contains(logs, "app[web") || strings.Contains(logs, "heroku[") {
		t.Errorf("heroku logs -p postgres shows other lines:\n%s", logs)
	}
	// A value a setting does not take, or a setting users may not change,
	// is refused, by the CLI for the values it knows and by the API, which
	// names the rule; nothing changes.
	res, err := cli.Run(ctx, "pg:settings:log-statement", "DATABASE_URL", "everything", "-a", app)
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "Expected everything to be one of") {
		t.Errorf("heroku pg:settings:log-statement everything: %v %s", err, res)
	}
	path := "/postgres/v0/databases/" + db.Name + "/config"
	for _, body := range []string{`{"log_statement":"everything"}`, `{"log_statement":"none","shared_buffers":"1GB"}`, `{"log_lock_waits":"maybe"}`, `{"log_min_duration_statement":[1]}`, `{}`} {
		m.expectError("PATCH", path, body, 422, "invalid_params")
	}
	if got := queryText(ctx, t, url, "SHOW log_statement"); got != "all" {
		t.Errorf("a refused value changed log_statement to %q", got)
	}
}
