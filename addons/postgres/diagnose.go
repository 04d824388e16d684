package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Diagnoser = (*Provider)(nil)

// diagnoseApp is the application_name of Diagnose's connections, which its
// own checks leave out.
const diagnoseApp = "dynokit-addons-diagnose"

// Diagnose implements addons.Diagnoser with heroku pg:diagnose's checks:
//
//   - Connection Count: the database's connections against the plan's
//     limit (yellow from 70%, red from 90%);
//   - Long Queries (red): statements running for over a minute;
//   - Long Transactions (yellow): transactions open for over an hour;
//   - Idle in Transaction (red): sessions idle inside a transaction for
//     over a minute;
//   - Blocking Queries (red): statements waiting on another's lock;
//   - Database Transaction ID Wraparound and Table Transaction ID
//     Wraparound: how far the oldest unfrozen transaction ID is towards
//     wraparound (yellow from 25%, red from 50%);
//   - Indexes (yellow): non-unique indexes over 1 MB never scanned;
//   - Bloat (yellow): tables with over 10,000 dead rows, a fifth of their
//     live ones;
//   - Hit Rate (yellow): table or index reads served from the buffer cache
//     under 99%, once there have been 10,000 block reads;
//   - Sequences (red): sequences past 75% of their maximum.
//
// Activity and the database's age are read from the server's views over
// the admin connection; the per-table checks connect to the database as
// the add-on's role (never as a superuser, as for Describe). When every
// connection is in use those are "skipped".
func (p *Provider) Diagnose(ctx context.Context, id string) ([]addons.Check, error) {
	conn, rec, err := p.readOnlyRecord(ctx, "diagnose", id)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var checks []addons.Check
	add := func(name string, rows []map[string]string, err error, found addons.CheckStatus) error {
		if err != nil {
			return fmt.Errorf("postgres: diagnose %s: %s: %w", id, name, err)
		}
		c := addons.Check{Name: name, Status: addons.CheckGreen}
		if len(rows) > 0 {
			c.Status, c.Rows = found, rows
		}
		checks = append(checks, c)
		return nil
	}

	// The server's views, through the admin connection.
	var count, limit int
	if err := conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_catalog.pg_stat_activity
				WHERE datname = $1 AND backend_type = 'client backend' AND application_name NOT IN ($2, $3)),
			(SELECT rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = $1)`, id, describeApp, diagnoseApp).Scan(&count, &limit); err != nil {
		return nil, fmt.Errorf("postgres: diagnose %s: connection count: %w", id, err)
	}
	cc := addons.Check{Name: "Connection Count", Status: addons.CheckGreen, Value: map[string]string{"count": strconv.Itoa(count)}}
	switch {
	case limit > 0 && count*10 >= limit*9:
		cc.Status = addons.CheckRed
	case limit > 0 && count*10 >= limit*7:
		cc.Status = addons.CheckYellow
	}
	checks = append(checks, cc)
	// Each activity check measures from its own start: the statement's,
	// the transaction's, or the last change of state.
	activity := []struct {
		name, since, where, longer string
		found                      addons.CheckStatus
	}{
		{"Long Queries", "query_start", "state = 'active'", "1 minute", addons.CheckRed},
		{"Long Transactions", "xact_start", "true", "1 hour", addons.CheckYellow},
		{"Idle in Transaction", "state_change", "state LIKE 'idle in transaction%'", "1 minute", addons.CheckRed},
	}
	for _, a := range activity {
		rows, err := rowMaps(ctx, conn, `SELECT pid::text, date_trunc('second', now() - `+a.since+`)::text AS duration,
				left(query, 100) AS query
			FROM pg_catalog.pg_stat_activity
			WHERE datname = $1 AND backend_type = 'client backend' AND application_name NOT IN ($2, $3)
				AND pid <> pg_catalog.pg_backend_pid() AND `+a.where+` AND now() - `+a.since+` > interval '`+a.longer+`'
			ORDER BY now() - `+a.since+` DESC LIMIT 20`, id, describeApp, diagnoseApp)
		if err := add(a.name, rows, err, a.found); err != nil {
			return nil, err
		}
	}
	// A blocker in another database (a lock on a shared catalog) is
	// named, but its statement is not that database's owner's to see.
	rows, err := rowMaps(ctx, conn, `SELECT blocked.pid::text AS blocked_pid, blocking.pid::text AS blocking_pid,
			date_trunc('second', now() - blocked.query_start)::text AS waiting, left(blocked.query, 80) AS blocked_query,
			CASE WHEN blocking.datname = $1 THEN left(blocking.query, 80) ELSE '(another database)' END AS blocking_query
		FROM pg_catalog.pg_stat_activity blocked
		CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(blocked.pid)) AS b(pid)
		JOIN pg_catalog.pg_stat_activity blocking ON blocking.pid = b.pid
		WHERE blocked.datname = $1 ORDER BY now() - blocked.query_start DESC LIMIT 20`, id)
	if err := add("Blocking Queries", rows, err, addons.CheckRed); err != nil {
		return nil, err
	}
	var age int64
	if err := conn.QueryRow(ctx, "SELECT age(datfrozenxid) FROM pg_catalog.pg_database WHERE datname = $1", id).Scan(&age); err != nil {
		return nil, fmt.Errorf("postgres: diagnose %s: database transaction ID wraparound: %w", id, err)
	}
	checks = append(checks, wraparound("Database Transaction ID Wraparound", age))

	// The database's own tables, as the add-on's role.
	db, err := p.roleConn(ctx, id, rec.password, diagnoseApp)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53300" { // too_many_connections
		for _, name := range []string{"Table Transaction ID Wraparound", "Indexes", "Bloat", "Hit Rate", "Sequences"} {
			checks = append(checks, addons.Check{Name: name, Status: addons.CheckSkipped, Value: map[string]string{"reason": "all connections in use"}})
		}
		return checks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: diagnose %s: %w", id, err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	rows, err = rowMaps(ctx, db, `SELECT c.oid::regclass::text AS table,
			round(100 * age(c.relfrozenxid)::numeric / 2147483648, 1)::text AS percent_towards_wraparound
		FROM pg_catalog.pg_class c
		WHERE c.relkind IN ('r', 'm', 't') AND age(c.relfrozenxid)::numeric / 2147483648 >= 0.25
		ORDER BY age(c.relfrozenxid) DESC LIMIT 20`)
	if err != nil {
		return nil, fmt.Errorf("postgres: diagnose %s: table transaction ID wraparound: %w", id, err)
	}
	tw := addons.Check{Name: "Table Transaction ID Wraparound", Status: addons.CheckGreen}
	if len(rows) > 0 { // the oldest first
		tw.Rows, tw.Status = rows, addons.CheckYellow
		if pct, _ := strconv.ParseFloat(rows[0]["percent_towards_wraparound"], 64); pct >= 50 {
			tw.Status = addons.CheckRed
		}
	}
	checks = append(checks, tw)
	perDB := []struct {
		name, sql string
		found     addons.CheckStatus
	}{
		{"Indexes", `SELECT s.relname::text AS table, s.indexrelname::text AS index,
				pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(s.indexrelid)) AS index_size, s.idx_scan::text AS scans
			FROM pg_catalog.pg_stat_user_indexes s JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid
			WHERE s.idx_scan = 0 AND NOT i.indisunique AND pg_catalog.pg_relation_size(s.indexrelid) > 1048576
			ORDER BY pg_catalog.pg_relation_size(s.indexrelid) DESC LIMIT 20`, addons.CheckYellow},
		{"Bloat", `SELECT relname::text AS table, n_dead_tup::text AS dead_rows, n_live_tup::text AS live_rows
			FROM pg_catalog.pg_stat_user_tables
			WHERE n_dead_tup > 10000 AND n_dead_tup * 5 > n_live_tup
			ORDER BY n_dead_tup DESC LIMIT 20`, addons.CheckYellow},
		{"Hit Rate", `SELECT name, round(100 * hit / (hit + read), 2)::text AS percent_from_cache FROM (
				SELECT 'tables' AS name, coalesce(sum(heap_blks_hit), 0)::numeric AS hit, coalesce(sum(heap_blks_read), 0)::numeric AS read
					FROM pg_catalog.pg_statio_user_tables
				UNION ALL
				SELECT 'indexes', coalesce(sum(idx_blks_hit), 0)::numeric, coalesce(sum(idx_blks_read), 0)::numeric
					FROM pg_catalog.pg_statio_user_indexes) t
			WHERE hit + read >= 10000 AND hit / (hit + read) < 0.99`, addons.CheckYellow},
		// How far each sequence has gone from its start towards the end it
		// counts to (min_value for a descending one); cycling ones never
		// run out.
		{"Sequences", `SELECT sequence, value, max FROM (
				SELECT schemaname || '.' || sequencename AS sequence, last_value::text AS value,
					(CASE WHEN increment_by > 0 THEN max_value ELSE min_value END)::text AS max,
					CASE WHEN increment_by > 0
						THEN (last_value::numeric - min_value) / nullif(max_value::numeric - min_value, 0)
						ELSE (max_value::numeric - last_value) / nullif(max_value::numeric - min_value, 0) END AS used
				FROM pg_catalog.pg_sequences WHERE last_value IS NOT NULL AND NOT cycle) s
			WHERE used > 0.75 ORDER BY used DESC LIMIT 20`, addons.CheckRed},
	}
	for _, c := range perDB {
		rows, err := rowMaps(ctx, db, c.sql)
		if err := add(c.name, rows, err, c.found); err != nil {
			return nil, err
		}
	}
	return checks, nil
}

// wraparound rates a transaction ID age as heroku pg:diagnose does: the
// share of the 2^31 IDs before wraparound that it has used up.
func wraparound(name string, age int64) addons.Check {
	pct := 100 * float64(age) / (1 << 31)
	c := addons.Check{Name: name, Status: addons.CheckGreen, Value: map[string]string{"percent_towards_wraparound": strconv.FormatFloat(pct, 'f', 1, 64)}}
	switch {
	case pct >= 50:
		c.Status = addons.CheckRed
	case pct >= 25:
		c.Status = addons.CheckYellow
	}
	return c
}

// rowMaps runs a query whose columns are all text and returns its rows as
// column → value maps.
func rowMaps(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]map[string]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var out []map[string]string
	for rows.Next() {
		vals := make([]*string, len(fields))
		dest := make([]any, len(fields))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(fields))
		for i, f := range fields {
			m[f.Name] = "" // every row has every column: the CLI's table takes them from the first
			if vals[i] != nil {
				m[f.Name] = *vals[i]
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
