package postgres

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dynokit/dynokit/addons"
)

// ConfigPrefix is the prefix of the config vars the provider returns:
// DATABASE_URL.
const ConfigPrefix = "DATABASE"

// DefaultPlans returns the plans offered when Provider.Offered is empty.
func DefaultPlans() []addons.Plan {
	return []addons.Plan{
		{Name: "hobby", Description: "shared server, 5 connections", Limits: addons.Limits{Connections: 5}},
		{Name: "standard", Description: "shared server, 20 connections", Limits: addons.Limits{Connections: 20}},
		{Name: "premium", Description: "shared server, 100 connections", Limits: addons.Limits{Connections: 100}},
	}
}

// Provider makes one role and one database per add-on on a PostgreSQL
// server it administers. Set AdminURL; the other fields have defaults.
// Safe for concurrent use; it holds no connection between calls.
type Provider struct {
	// AdminURL reaches the server as a superuser (or a role with
	// CREATEROLE and CREATEDB that can also read what it dumps), e.g.
	// postgres://postgres:pw@127.0.0.1:5432/postgres. The provider keeps
	// its own records in schema dynokit_addons of that database.
	AdminURL string
	// Host and Port go into DATABASE_URL; default: AdminURL's.
	Host string
	Port int
	// Offered lists the plans; empty means DefaultPlans. Limits.Connections
	// becomes the role's and the database's CONNECTION LIMIT (0: none).
	Offered []addons.Plan
	// BinDir holds pg_dump and pg_restore; empty: the newest
	// /usr/lib/postgresql/*/bin, else $PATH.
	BinDir string
	// PoolerAddr is the host:port of a connection pooler in front of the
	// server (PgBouncer.Addr), for PooledURL; empty: none.
	PoolerAddr string
	// InitialSettings are set on each database Provision creates, as
	// UpdateSettings takes them (HerokuSettings gives Heroku's), all or
	// none; empty: the server's. If the admin may not set them, that is
	// logged and the database keeps the server's values.
	InitialSettings map[string]string
	Logger          *slog.Logger // nil discards

	schemaReady atomic.Bool // bookkeeping schema known to exist
}

var (
	_ addons.Provider    = (*Provider)(nil)
	_ addons.PlanChanger = (*Provider)(nil)
	_ addons.PlanLister  = (*Provider)(nil)
	_ addons.Backuper    = (*Provider)(nil)
	_ addons.Forker      = (*Provider)(nil)
)

// Plans implements addons.PlanLister.
func (p *Provider) Plans() []addons.Plan {
	if len(p.Offered) == 0 {
		return DefaultPlans()
	}
	return slices.Clone(p.Offered)
}

func (p *Provider) plan(name string) (addons.Plan, error) {
	for _, pl := range p.Plans() {
		if pl.Name == name {
			return pl, nil
		}
	}
	return addons.Plan{}, fmt.Errorf("plan %q is not offered (plans: %s): %w", truncate(name), planNames(p.Plans()), addons.ErrUnknownPlan)
}

func (p *Provider) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// resourceIDPattern is what ResourceID makes; the id doubles as the
// role and database name, so it must be a plain lower-case identifier.
var resourceIDPattern = regexp.MustCompile(`^pg[0-9a-f]{24}$`)

// ResourceID is the resource id (and role and database name) for a
// provision request id: derived, so that retries converge on one name.
func ResourceID(requestID string) string {
	sum := sha256.Sum256([]byte("dynokit-addons-postgres\x00" + requestID))
	return "pg" + hex.EncodeToString(sum[:12])
}

// adminConfig parses an admin connection string with search_path set to
// pg_catalog alone: a function or operator that a tenant created in a
// schema on the path (public, in an add-on's database, or in the admin
// database on servers before 15, where anyone may create there) must never
// run as the admin. Without it, an exact-type match such as
// public.unnest(integer[]) wins over pg_catalog.unnest(anyarray).
func adminConfig(adminURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		// The URL holds a password: never echo it.
		return nil, fmt.Errorf("does not parse as a connection string: %w", addons.ErrInvalid)
	}
	cfg.RuntimeParams["search_path"] = "pg_catalog"
	return cfg, nil
}

// connectAdminURL connects with adminConfig's settings.
func connectAdminURL(ctx context.Context, adminURL string) (*pgx.Conn, error) {
	cfg, err := adminConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: AdminURL %w", err)
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func (p *Provider) connect(ctx context.Context) (*pgx.Conn, error) {
	return p.connectAdmin(ctx, "")
}

// connectAdmin connects as the admin to database (empty: AdminURL's own),
// such as an add-on's, for what only a superuser may do there.
func (p *Provider) connectAdmin(ctx context.Context, database string) (*pgx.Conn, error) {
	if p.AdminURL == "" {
		return nil, fmt.Errorf("postgres: Provider.AdminURL is empty: %w", addons.ErrInvalid)
	}
	cfg, err := adminConfig(p.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: Provider.AdminURL %w", err)
	}
	if database != "" {
		cfg.Database = database
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect as the admin to database %s at %s:%d: %w", cfg.Database, cfg.Host, cfg.Port, err)
	}
	return conn, nil
}

// closeAdmin closes an admin connection into an add-on's database and
// waits, up to two seconds, for its backend to exit: until then the
// server counts it against the database's connection limit, and an app
// connecting at once (at the limit) would be refused.
func (p *Provider) closeAdmin(ctx context.Context, conn *pgx.Conn) {
	pid := conn.PgConn().PID()
	conn.Close(context.WithoutCancel(ctx))
	admin, err := p.connect(ctx)
	if err != nil {
		return
	}
	defer admin.Close(context.WithoutCancel(ctx))
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var alive bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid).Scan(&alive); err != nil || !alive {
			return
		}
	}
}

// creatableExtensionsSQL lists the extensions the server offers that a
// database owner who is not a superuser may create.
const creatableExtensionsSQL = `SELECT DISTINCT name FROM pg_available_extension_versions WHERE trusted OR NOT superuser`

// lock opens an admin connection holding the advisory lock for id, so
// that concurrent calls for one resource run one at a time, and makes
// sure the bookkeeping table exists.
func (p *Provider) lock(ctx context.Context, id string) (*pgx.Conn, func(), error) {
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx) // closing the session releases the advisory lock
	}
	// One lock for schema creation: CREATE ... IF NOT EXISTS races
	// with itself on the catalogs.
	steps := []string{
		"SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('dynokit_addons schema'))",
		`CREATE SCHEMA IF NOT EXISTS dynokit_addons`,
		`REVOKE ALL ON SCHEMA dynokit_addons FROM PUBLIC`,
		`CREATE TABLE IF NOT EXISTS dynokit_addons.resources (
			id text PRIMARY KEY,
			request_id text NOT NULL UNIQUE,
			plan text NOT NULL,
			password text NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS dynokit_addons.credentials (
			resource_id text NOT NULL,
			name text NOT NULL,
			password text NOT NULL,
			PRIMARY KEY (resource_id, name))`,
		"SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('dynokit_addons schema'))",
	}
	if !p.schemaReady.Load() {
		for _, q := range steps {
			if _, err := conn.Exec(ctx, q); err != nil {
				release()
				return nil, nil, fmt.Errorf("postgres: prepare bookkeeping schema: %w", err)
			}
		}
		p.schemaReady.Store(true)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext($1))", id); err != nil {
		release()
		return nil, nil, fmt.Errorf("postgres: lock resource %s: %w", id, err)
	}
	return conn, release, nil
}

type record struct {
	plan, password string
}

// resourceConn is an admin connection, once id is known to be a
// provisioned resource (else an error wrapping addons.ErrNotFound, the
// connection closed); op names the operation in errors.
func (p *Provider) resourceConn(ctx context.Context, op, id string) (*pgx.Conn, error) {
	if !resourceIDPattern.MatchString(id) {
		return nil, fmt.Errorf("postgres: %s %q: %w", op, truncate(id), addons.ErrNotFound)
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, found, err := lookup(ctx, conn, id); err != nil || !found {
		conn.Close(context.WithoutCancel(ctx))
		if err == nil {
			err = fmt.Errorf("postgres: %s %s: %w", op, id, addons.ErrNotFound)
		}
		return nil, err
	}
	return conn, nil
}

func lookup(ctx context.Context, conn *pgx.Conn, id string) (record, bool, error) {
	var r record
	err := conn.QueryRow(ctx, "SELECT plan, password FROM dynokit_addons.resources WHERE id = $1", id).Scan(&r.plan, &r.password)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("postgres: read bookkeeping for %s: %w", id, err)
	}
	return r, true, nil
}

// Provision implements addons.Provider: a role and a database named
// ResourceID(req.ID), the role owning the database, CONNECT revoked from
// PUBLIC so no other add-on's role can connect.
func (p *Provider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	res, _, err := p.provision(ctx, req)
	return res, err
}

func (p *Provider) provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, bool, error) {
	if req.ID == "" {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision: request id must not be empty: %w", addons.ErrInvalid)
	}
	plan, err := p.plan(req.Plan)
	if err != nil {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision: %w", err)
	}
	id := ResourceID(req.ID)
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return addons.Resource{}, false, err
	}
	defer release()
	rec, found, err := lookup(ctx, conn, id)
	if err != nil {
		return addons.Resource{}, false, err
	}
	if !found {
		rec = record{plan: plan.Name, password: newPassword()}
		if _, err := conn.Exec(ctx, "INSERT INTO dynokit_addons.resources (id, request_id, plan, password) VALUES ($1, $2, $3, $4)",
			id, req.ID, rec.plan, rec.password); err != nil {
			return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: record: %w", id, err)
		}
	} else if plan, err = p.plan(rec.plan); err != nil {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: recorded %w", id, err)
	}
	// Each step checks first, so a retry after a partial failure
	// finishes the job.
	var exists bool
	ident := pgx.Identifier{id}.Sanitize()
	limit := connLimit(plan)
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", id).Scan(&exists); err != nil {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: %w", id, err)
	}
	if !exists {
		verifier, err := scramVerifier(rec.password)
		if err != nil {
			return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: hash password: %w", id, err)
		}
		// A SCRAM verifier, not the password, goes to the server: it
		// never appears in the server's statement log.
		q := fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT %d PASSWORD %s",
			ident, limit, quoteLiteral(verifier))
		if _, err := conn.Exec(ctx, q); err != nil {
			return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: create role: %w", id, err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", id).Scan(&exists); err != nil {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: %w", id, err)
	}
	if !exists {
		q := fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0 CONNECTION LIMIT %d", ident, ident, limit)
		if _, err := conn.Exec(ctx, q); err != nil {
			return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: create database: %w", id, err)
		}
		p.setInitialSettings(ctx, conn, id)
	}
	// Every database grants CONNECT and TEMP to PUBLIC by default.
	if _, err := conn.Exec(ctx, fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", ident)); err != nil {
		return addons.Resource{}, false, fmt.Errorf("postgres: provision %s: revoke public access: %w", id, err)
	}
	p.setAllowedExtensions(ctx, conn, id)
	p.installStatementStats(ctx, conn, id)
	res, err := p.resource(id, plan.Name, rec.password)
	if err != nil {
		return addons.Resource{}, false, err
	}
	if !found {
		p.log().Info("postgres: provisioned", "resource", id, "plan", plan.Name, "connections", limit)
	}
	return res, !found, nil
}

// setInitialSettings applies InitialSettings to a new database.
func (p *Provider) setInitialSettings(ctx context.Context, conn *pgx.Conn, id string) {
	if len(p.InitialSettings) == 0 {
		return
	}
	stmts, err := settingStatements(id, p.InitialSettings)
	if err == nil {
		err = applySettings(ctx, conn, stmts)
	}
	if err != nil {
		p.log().Warn("postgres: the new database keeps the server's settings", "resource", id, "err", err)
	}
}

// setAllowedExtensions records in the database's settings which
// extensions its role may create: the ones this server offers that a
// non-superuser database owner may install (trusted ones, such as
// pgcrypto, hstore or citext). heroku pg:extensions lists the database's
// extensions from these settings, rds.allowed_extensions on Essential
// plans and extwlist.extensions on others. They are custom settings,
// which only a superuser may set on a database; an admin role that is not
// one leaves them unset (and pg:extensions failing), which is logged.
// Provision runs it each time, so the list follows the server's packages.
func (p *Provider) setAllowedExtensions(ctx context.Context, conn *pgx.Conn, id string) {
	var allowed string
	err := conn.QueryRow(ctx, "SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM ("+creatableExtensionsSQL+") e").Scan(&allowed)
	for _, setting := range []string{"rds.allowed_extensions", "extwlist.extensions"} {
		if err != nil {
			break
		}
		_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET %s = %s", pgx.Identifier{id}.Sanitize(), setting, quoteLiteral(allowed)))
	}
	if err != nil {
		p.log().Warn("postgres: cannot record the allowed extensions (heroku pg:extensions reads them)", "resource", id, "err", err)
	}
}

// installStatementStats creates pg_stat_statements in the database when
// the server loads its library (shared_preload_libraries), as Heroku
// does in every database: heroku pg:outliers and pg:calls read it, and
// the add-on's role sees its own statements' statistics (other roles'
// rows show no query text). It is superuser-only, so the admin creates
// it; it belongs to the admin, so Reset and Restore, which drop what the
// role owns, keep it, and a restore leaves out the archive's copy. A
// server without the library gets nothing; a failure is logged.
func (p *Provider) installStatementStats(ctx context.Context, admin *pgx.Conn, id string) {
	var loaded bool
	err := admin.QueryRow(ctx, `SELECT 'pg_stat_statements' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
		AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')`).Scan(&loaded)
	if err == nil && loaded {
		var conn *pgx.Conn
		if conn, err = p.connectAdmin(ctx, id); err == nil {
			// Named: the admin's search_path is pg_catalog alone.
			_, err = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")
			p.closeAdmin(ctx, conn)
		}
	}
	if err != nil {
		p.log().Warn("postgres: cannot install pg_stat_statements (heroku pg:outliers reads it)", "resource", id, "err", err)
	}
}

func connLimit(p addons.Plan) int {
	if p.Limits.Connections <= 0 {
		return -1 // PostgreSQL's "no limit"
	}
	return p.Limits.Connections
}

func (p *Provider) endpoint() (string, int, error) {
	host, port := p.Host, p.Port
	if host == "" || port == 0 {
		cfg, err := pgx.ParseConfig(p.AdminURL)
		if err != nil {
			return "", 0, fmt.Errorf("postgres: Provider.AdminURL does not parse as a connection string: %w", addons.ErrInvalid)
		}
		if host == "" {
			host = cfg.Host
		}
		if port == 0 {
			port = int(cfg.Port)
		}
	}
	return host, port, nil
}

func (p *Provider) resource(id, plan, password string) (addons.Resource, error) {
	host, port, err := p.endpoint()
	if err != nil {
		return addons.Resource{}, err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(id, password),
		Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + id}
	return addons.Resource{ID: id, Plan: plan, Config: addons.Config{ConfigPrefix + "_URL": u.String()}}, nil
}

// Deprovision implements addons.Provider: it drops the database (closing
// its connections) and the role, and forgets the password.
func (p *Provider) Deprovision(ctx context.Context, id string) error {
	if !resourceIDPattern.MatchString(id) {
		return fmt.Errorf("postgres: deprovision %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	_, found, err := lookup(ctx, conn, id)
	if err != nil {
		return err
	}
	var role bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", id).Scan(&role); err != nil {
		return fmt.Errorf("postgres: deprovision %s: %w", id, err)
	}
	if !found && !role {
		return fmt.Errorf("postgres: deprovision %s: %w", id, addons.ErrNotFound)
	}
	named, err := credentialNames(ctx, conn, id)
	if err != nil {
		return fmt.Errorf("postgres: deprovision %s: %w", id, err)
	}
	ident := pgx.Identifier{id}.Sanitize()
	drops := []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", "DROP ROLE IF EXISTS " + ident}
	for _, name := range named { // their only privilege, CONNECT, went with the database
		drops = append(drops, "DROP ROLE IF EXISTS "+pgx.Identifier{credentialRole(id, name)}.Sanitize())
	}
	for _, q := range drops {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: deprovision %s: %w", id, err)
		}
	}
	if _, err := conn.Exec(ctx, "DELETE FROM dynokit_addons.credentials WHERE resource_id = $1", id); err != nil {
		return fmt.Errorf("postgres: deprovision %s: forget: %w", id, err)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM dynokit_addons.resources WHERE id = $1", id); err != nil {
		return fmt.Errorf("postgres: deprovision %s: forget: %w", id, err)
	}
	p.log().Info("postgres: deprovisioned", "resource", id)
	return nil
}

// ChangePlan implements addons.PlanChanger: it changes the role's and
// the database's connection limits. Config vars do not change.
func (p *Provider) ChangePlan(ctx context.Context, id, planName string) (addons.Resource, error) {
	if !resourceIDPattern.MatchString(id) {
		return addons.Resource{}, fmt.Errorf("postgres: change plan of %q: %w", truncate(id), addons.ErrNotFound)
	}
	plan, err := p.plan(planName)
	if err != nil {
		return addons.Resource{}, fmt.Errorf("postgres: change plan of %s: %w", id, err)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return addons.Resource{}, err
	}
	defer release()
	rec, found, err := lookup(ctx, conn, id)
	if err != nil {
		return addons.Resource{}, err
	}
	if !found {
		return addons.Resource{}, fmt.Errorf("postgres: change plan of %s: %w", id, addons.ErrNotFound)
	}
	ident := pgx.Identifier{id}.Sanitize()
	limit := connLimit(plan)
	for _, q := range []string{
		fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT %d", ident, limit),
		fmt.Sprintf("ALTER DATABASE %s CONNECTION LIMIT %d", ident, limit),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return addons.Resource{}, fmt.Errorf("postgres: change plan of %s: %w", id, err)
		}
	}
	if _, err := conn.Exec(ctx, "UPDATE dynokit_addons.resources SET plan = $2 WHERE id = $1", id, plan.Name); err != nil {
		return addons.Resource{}, fmt.Errorf("postgres: change plan of %s: record: %w", id, err)
	}
	return p.resource(id, plan.Name, rec.password)
}

// credentials returns the resource's connection parameters for the
// client tools: a libpq conninfo without the password, which goes in
// PGPASSWORD so it never shows in argv (ps) or errors.
func (p *Provider) credentials(ctx context.Context, id string) (conninfo, password string, err error) {
	if !resourceIDPattern.MatchString(id) {
		return "", "", fmt.Errorf("postgres: %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var rec record
	err = conn.QueryRow(ctx, "SELECT plan, password FROM dynokit_addons.resources WHERE id = $1", id).Scan(&rec.plan, &rec.password)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: nothing provisioned yet
		return "", "", fmt.Errorf("postgres: %s: %w", id, addons.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("postgres: read bookkeeping for %s: %w", id, err)
	}
	host, port, err := p.endpoint()
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=prefer", conninfoValue(host), port, id, id), rec.password, nil
}

// Backup implements addons.Backuper: pg_dump in custom format, as the
// add-on's own role, written to w.
func (p *Provider) Backup(ctx context.Context, id string, w io.Writer) error {
	conninfo, password, err := p.credentials(ctx, id)
	if err != nil {
		return fmt.Errorf("postgres: backup: %w", err)
	}
	if err := p.run(ctx, "pg_dump", password, nil, w, "--format=custom", "--no-owner", "--no-privileges", "--dbname="+conninfo); err != nil {
		return fmt.Errorf("postgres: backup %s: %w", id, err)
	}
	return nil
}

// Restore implements addons.Backuper: the resource's database becomes
// what the archive holds, as heroku pg:backups:restore and pg:copy
// promise. One transaction, as the add-on's own role, drops every object
// the role owns (what Reset drops, so tables made after the backup go
// too) and replays the archive, which pg_restore turns into SQL. The
// transaction commits only once pg_restore has read the whole archive and
// every statement has succeeded: a corrupt or cut-off archive, a failing
// statement or a cancelled ctx leaves the database as it was. Extensions
// the role cannot create are left out of the archive (restorelist.go),
// with a warning in the log.
func (p *Provider) Restore(ctx context.Context, id string, r io.Reader) error {
	conninfo, password, err := p.credentials(ctx, id)
	if err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	list, skipped, r, err := p.restoreList(ctx, id, r)
	if err != nil {
		return fmt.Errorf("postgres: restore %s: %w", id, err)
	}
	args := []string{"--no-owner", "--no-privileges", "--file=-"}
	if list != nil {
		f, err := os.CreateTemp("", "dynokit-restore-*.list")
		if err != nil {
			return fmt.Errorf("postgres: restore %s: %w", id, err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(list)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("postgres: restore %s: %w", id, err)
		}
		args = append(args, "--use-list="+f.Name())
		p.log().Warn("postgres: restore leaves out extensions the add-on's role cannot create", "resource", id, "extensions", skipped)
	}
	script, sw := io.Pipe()
	convErr := make(chan error, 1)
	go func() {
		err := func() error {
			if _, err := io.WriteString(sw, "BEGIN;\nDROP OWNED BY CURRENT_USER CASCADE;\n"); err != nil {
				return err
			}
			if err := p.run(ctx, "pg_restore", "", r, sw, args...); err != nil {
				return err
			}
			// Without this line psql reaches the end of its input inside
			// the transaction, and the server rolls it back.
			_, err := io.WriteString(sw, "COMMIT;\n")
			return err
		}()
		sw.CloseWithError(err)
		convErr <- err
	}()
	applyErr := p.run(ctx, "psql", password, script, io.Discard, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--file=-", "--dbname="+conninfo)
	_ = script.CloseWithError(errors.New("restore ended")) // unblocks pg_restore if psql stopped early
	// When pg_restore fails, psql reports that same error (its input
	// broke); when psql fails first, pg_restore's is only a closed pipe.
	err = <-convErr
	if err == nil || applyErr != nil && !errors.Is(applyErr, err) {
		err = applyErr
	}
	if err != nil {
		return fmt.Errorf("postgres: restore %s: %w", id, err)
	}
	return nil
}

// Fork implements addons.Forker. It provisions a new resource for req
// and copies the source's data by dump and restore (pg_dump piped into
// pg_restore), not CREATE DATABASE ... TEMPLATE: a template copy needs
// the source to have no connections (an app's database always has
// some) and keeps the source role as owner of every copied object. A
// retried Fork with the same req.ID returns the fork without copying
// again.
func (p *Provider) Fork(ctx context.Context, sourceID string, req addons.ProvisionRequest) (addons.Resource, error) {
	if _, _, err := p.credentials(ctx, sourceID); err != nil {
		return addons.Resource{}, fmt.Errorf("postgres: fork: source: %w", err)
	}
	res, created, err := p.provision(ctx, req)
	if err != nil {
		return addons.Resource{}, fmt.Errorf("postgres: fork %s: %w", sourceID, err)
	}
	if !created {
		return res, nil
	}
	pr, pw := io.Pipe()
	dumpErr := make(chan error, 1)
	go func() {
		err := p.Backup(ctx, sourceID, pw)
		pw.CloseWithError(err)
		dumpErr <- err
	}()
	restoreErr := p.Restore(ctx, res.ID, pr)
	_ = pr.CloseWithError(errors.New("restore ended")) // unblocks pg_dump if restore stopped early
	if err := errors.Join(<-dumpErr, restoreErr); err != nil {
		cause := fmt.Errorf("postgres: fork %s into %s: %w", sourceID, res.ID, err)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := p.Deprovision(dctx, res.ID); derr != nil {
			return addons.Resource{}, multierror.Append(cause, fmt.Errorf("postgres: removing the failed fork: %w", derr))
		}
		return addons.Resource{}, cause
	}
	res.Message = "forked from " + sourceID + " by dump and restore"
	return res, nil
}

// run runs a PostgreSQL client tool with the password in its
// environment; its stderr (capped) explains failures. When reading stdin
// failed (a download cut off, a sealed backup that does not
// authenticate), that error is the cause, not the tool's complaint
// about input that ended early.
func (p *Provider) run(ctx context.Context, tool, password string, stdin io.Reader, stdout io.Writer, args ...string) error {
	path, err := p.tool(tool)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
	var in *inputReader
	if stdin != nil {
		in = &inputReader{r: stdin}
		cmd.Stdin = in
	}
	cmd.Stdout = stdout
	var stderr capped
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if in != nil {
		if rerr := in.err.Load(); rerr != nil {
			return fmt.Errorf("%s: reading its input: %w", tool, *rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", tool, err, bytes.TrimSpace(stderr.buf))
	}
	return nil
}

// inputReader keeps the first error other than EOF its reader returned
// (set by exec's copying goroutine, which may outlive Wait by WaitDelay).
type inputReader struct {
	r   io.Reader
	err atomic.Pointer[error]
}

func (i *inputReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if err != nil && err != io.EOF {
		i.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (p *Provider) tool(name string) (string, error) {
	if p.BinDir != "" {
		return filepath.Join(p.BinDir, name), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	slices.SortFunc(matches, func(a, b string) int { return version(b) - version(a) })
	if len(matches) > 0 {
		return matches[0], nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (install postgresql-client): %w", name, err)
	}
	return path, nil
}

func version(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// capped keeps the first 4 KiB written to it.
type capped struct{ buf []byte }

func (c *capped) Write(b []byte) (int, error) {
	if room := 4096 - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// newPassword returns 32 random bytes, base64url: safe in URLs and SQL
// literals without escaping.
func newPassword() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// scramVerifier computes what PostgreSQL stores for a SCRAM-SHA-256
// password (RFC 5802/7677 keys, PostgreSQL's text format).
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	storedKey := sha256.Sum256(mac(salted, "Client Key"))
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func planNames(ps []addons.Plan) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// conninfoValue quotes a libpq conninfo value.
func conninfoValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
