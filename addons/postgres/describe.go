package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Describer = (*Provider)(nil)

// Describe implements addons.Describer with the rows of heroku pg:info,
// in this order: Status ["Available"], Connections ["3/20": backends on
// the database / the role's connection limit, "unlimited" when it has
// none], PG Version ["16.4"], Data Size ["7.6 MB", or "7.6 MB / 1 GB
// (0.74%)" when the plan's Limits.Bytes is set], Tables [user tables in
// the database], Fork/Follow ["Unsupported"] and Rollback
// ["Unsupported"].
//
// Everything but Tables comes from the server's catalogs through the
// admin connection. Tables needs a connection to the add-on's database,
// and it is made as the add-on's own role, not as the admin: the role
// owns the database and may have set its search path or defined
// functions there, which a superuser session should never run. That
// connection counts against the plan's limit, so when every connection
// is in use Tables reads "unknown (all connections in use)". Describe
// takes no per-resource lock: it only reads.
func (p *Provider) Describe(ctx context.Context, id string) ([]addons.Fact, error) {
	conn, rec, err := p.readOnlyRecord(ctx, "describe", id)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Counted before this call's own connection to the database exists;
	// an earlier call's may still be closing, so those are left out by name.
	var (
		backends int
		limit    *int
		version  string
		size     int64
	)
	err = conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_catalog.pg_stat_activity
				WHERE datname = d.datname AND application_name IS DISTINCT FROM $2),
			(SELECT rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = d.datname),
			current_setting('server_version'),
			pg_catalog.pg_database_size(d.oid)
		FROM pg_catalog.pg_database d WHERE d.datname = $1`, id, describeApp).Scan(&backends, &limit, &version, &size)
	if errors.Is(err, pgx.ErrNoRows) || isGone(err) {
		return nil, fmt.Errorf("postgres: describe %s: database is gone: %w", id, addons.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: describe %s: %w", id, err)
	}
	if limit == nil {
		return nil, fmt.Errorf("postgres: describe %s: role is gone: %w", id, addons.ErrNotFound)
	}
	connections := strconv.Itoa(backends) + "/unlimited"
	if *limit >= 0 {
		connections = fmt.Sprintf("%d/%d", backends, *limit)
	}
	var maxBytes int64
	if plan, err := p.plan(rec.plan); err == nil {
		maxBytes = plan.Limits.Bytes
	}
	if v := strings.Fields(version); len(v) > 0 {
		version = v[0] // "16.4 (Ubuntu 16.4-1.pgdg22.04+1)"
	}
	tables, err := p.countTables(ctx, id, rec.password)
	if isGone(err) { // deprovisioned since the first query
		return nil, fmt.Errorf("postgres: describe %s: database is gone: %w", id, addons.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: describe %s: %w", id, err)
	}
	return []addons.Fact{
		{Name: "Status", Values: []string{"Available"}},
		{Name: "Connections", Values: []string{connections}},
		{Name: "PG Version", Values: []string{version}},
		{Name: "Data Size", Values: []string{dataSize(size, maxBytes)}},
		{Name: "Tables", Values: []string{tables}},
		{Name: "Fork/Follow", Values: []string{"Unsupported"}},
		{Name: "Rollback", Values: []string{"Unsupported"}},
	}, nil
}

// describeApp is the application_name of Describe's connections, which
// Connections does not count.
const describeApp = "dynokit-addons-describe"

// countTables counts the tables in the resource's database, connected
// as its role. It reaches the server the way the admin connection does
// (Host and Port are for apps and may not be reachable from here).
func (p *Provider) countTables(ctx context.Context, id, password string) (string, error) {
	conn, err := p.roleConn(ctx, id, password, describeApp)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53300" { // too_many_connections: the plan's limit
		return "unknown (all connections in use)", nil
	}
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p')
		AND s.nspname NOT IN ('pg_catalog', 'information_schema')
		AND s.nspname NOT LIKE 'pg\_toast%' AND s.nspname NOT LIKE 'pg\_temp\_%'`).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("count tables: %w", err)
	}
	return strconv.Itoa(n), nil
}

// isGone says whether err is PostgreSQL's invalid_catalog_name: the
// database was dropped, by a Deprovision running alongside Describe.
func isGone(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// dataSize formats like pg:info: "7.6 MB", or "7.6 MB / 1 GB (0.74%)"
// when the plan has a storage limit (max > 0).
func dataSize(size, max int64) string {
	if max <= 0 {
		return humanBytes(size)
	}
	return fmt.Sprintf("%s / %s (%.2f%%)", humanBytes(size), humanBytes(max), 100*float64(size)/float64(max))
}

// humanBytes formats n in 1024-based units with at most one decimal,
// as pg_size_pretty names them: "512 bytes", "8 kB", "7.6 MB", "1 GB".
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1023.95 && i < len(units)-1 { // 1023.95 would print as "1024.0"
		f /= 1024
		i++
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + " " + units[i]
}

// roleConn connects to the resource's database as its role, named app in
// pg_stat_activity. It reaches the server the way the admin connection
// does (Host and Port are for apps and may not be reachable from here).
func (p *Provider) roleConn(ctx context.Context, id, password, app string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("Provider.AdminURL does not parse as a connection string: %w", addons.ErrInvalid)
	}
	cfg.User, cfg.Database, cfg.Password = id, id, password
	cfg.RuntimeParams["application_name"] = app
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect as the add-on's role: %w", err)
	}
	return conn, nil
}

// readOnlyRecord opens an admin connection for a call that only reads and
// reads id's bookkeeping, taking no per-resource lock; an unknown id (or
// nothing provisioned yet) gives an error wrapping addons.ErrNotFound.
func (p *Provider) readOnlyRecord(ctx context.Context, op, id string) (*pgx.Conn, record, error) {
	if !resourceIDPattern.MatchString(id) {
		return nil, record{}, fmt.Errorf("postgres: %s %q: %w", op, truncate(id), addons.ErrNotFound)
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, record{}, err
	}
	var rec record
	err = conn.QueryRow(ctx, "SELECT plan, password FROM dynokit_addons.resources WHERE id = $1", id).Scan(&rec.plan, &rec.password)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: nothing provisioned yet
		err = fmt.Errorf("postgres: %s %s: %w", op, id, addons.ErrNotFound)
	} else if err != nil {
		err = fmt.Errorf("postgres: %s %s: read bookkeeping: %w", op, id, err)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, record{}, err
	}
	return conn, rec, nil
}
