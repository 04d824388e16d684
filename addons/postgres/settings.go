package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Configurer = (*Provider)(nil)

// setting is one PostgreSQL parameter a user may set on their database
// (heroku pg:settings): Heroku's list, less data-connector logs (no data
// connectors here). "auto_explain" is not a parameter: it loads the
// auto_explain library into the database's sessions
// (session_preload_libraries), whose own parameters follow it.
type setting struct {
	name, kind, desc string            // kind: "bool", "int" or "enum"
	values           map[string]string // enum values and what each does
	// def is the value of a library's parameter the server does not
	// know until the library is loaded (auto_explain.*).
	def string
}

// autoExplain is the pseudo-setting that loads auto_explain.
const autoExplain = "auto_explain"

var settings = []setting{
	{name: "log_connections", kind: "bool", desc: "Log each successful connection."},
	{name: "log_lock_waits", kind: "bool", desc: "Log when a session waits longer than deadlock_timeout to acquire a lock."},
	{name: "log_min_duration_statement", kind: "int", desc: "Log the duration of each statement that runs at least this many milliseconds (0: all, -1: none)."},
	{name: "log_min_error_statement", kind: "enum", desc: "Log the statement that causes an error at or above this level.", values: map[string]string{
		"debug5":  "Statements that cause DEBUG5 and higher messages are logged.",
		"debug4":  "Statements that cause DEBUG4 and higher messages are logged.",
		"debug3":  "Statements that cause DEBUG3 and higher messages are logged.",
		"debug2":  "Statements that cause DEBUG2 and higher messages are logged.",
		"debug1":  "Statements that cause DEBUG1 and higher messages are logged.",
		"info":    "Statements that cause INFO and higher messages are logged.",
		"notice":  "Statements that cause NOTICE and higher messages are logged.",
		"warning": "Statements that cause WARNING and higher messages are logged.",
		"error":   "Statements that cause ERROR and higher messages are logged.",
		"log":     "Statements that cause LOG and higher messages are logged.",
		"fatal":   "Statements that cause FATAL and higher messages are logged.",
		"panic":   "Statements that cause PANIC messages are logged.",
	}},
	{name: "log_statement", kind: "enum", desc: "Which SQL statements are logged.", values: map[string]string{
		"none": "No statements are logged.",
		"ddl":  "Data definition statements (CREATE, ALTER, DROP…) are logged.",
		"mod":  "Data definition statements and data-modifying ones (INSERT, UPDATE, DELETE, TRUNCATE, COPY FROM…) are logged.",
		"all":  "All statements are logged.",
	}},
	{name: autoExplain, kind: "bool", desc: "Log the execution plans of slow statements (the auto_explain library; sessions load it when they connect)."},
	{name: "auto_explain.log_analyze", kind: "bool", def: "off", desc: "Log EXPLAIN ANALYZE output rather than EXPLAIN (it times every statement: costly)."},
	{name: "auto_explain.log_buffers", kind: "bool", def: "off", desc: "Log buffer usage with the plans (needs log_analyze)."},
	{name: "auto_explain.log_format", kind: "enum", def: "text", desc: "The format of the logged plans.", values: map[string]string{
		"text": "Plans are logged as text.", "xml": "Plans are logged as XML.", "json": "Plans are logged as JSON.", "yaml": "Plans are logged as YAML.",
	}},
	{name: "auto_explain.log_min_duration", kind: "int", def: "-1", desc: "Log the plan of each statement that runs at least this many milliseconds (0: all, -1: none)."},
	{name: "auto_explain.log_nested_statements", kind: "bool", def: "off", desc: "Log the plans of statements run inside functions too."},
	{name: "auto_explain.log_triggers", kind: "bool", def: "off", desc: "Log trigger statistics with the plans (needs log_analyze)."},
	{name: "auto_explain.log_verbose", kind: "bool", def: "off", desc: "Log EXPLAIN VERBOSE output."},
	{name: "track_functions", kind: "enum", desc: "Which function calls are counted and timed (pg_stat_user_functions).", values: map[string]string{
		"none": "No function calls are tracked.",
		"pl":   "Calls of procedural-language functions are tracked.",
		"all":  "Calls of SQL, C and procedural-language functions are tracked.",
	}},
}

func findSetting(name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// Settings implements addons.Configurer: each setting's value for the
// add-on's database, which is its own (ALTER DATABASE … SET) if it has
// one and else the server's.
func (p *Provider) Settings(ctx context.Context, id string) ([]addons.Setting, error) {
	conn, err := p.resourceConn(ctx, "read the settings of", id)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return readSettings(ctx, conn, id)
}

// UpdateSettings implements addons.Configurer: each value is checked
// against its setting, then ALTER DATABASE … SET runs for all of them in
// one transaction. Sessions take the new values when they connect. The admin role needs the right to set
// these parameters (a superuser, or GRANT SET ON PARAMETER).
func (p *Provider) UpdateSettings(ctx context.Context, id string, changes map[string]string) ([]addons.Setting, error) {
	stmts, err := settingStatements(id, changes)
	if err != nil {
		return nil, fmt.Errorf("postgres: update the settings of %s: %w", id, err)
	}
	conn, err := p.resourceConn(ctx, "update the settings of", id)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := applySettings(ctx, conn, stmts); err != nil {
		return nil, fmt.Errorf("postgres: update the settings of %s: %w", id, err)
	}
	return readSettings(ctx, conn, id)
}

// HerokuSettings are the settings Heroku gives a new database: statements
// that run 2 s or more, DDL and lock waits are logged. Set them as
// Provider.InitialSettings to start each new database with them.
func HerokuSettings() map[string]string {
	return map[string]string{"log_min_duration_statement": "2000", "log_statement": "ddl", "log_lock_waits": "on"}
}

// settingStatement is one ALTER DATABASE of a change, with the setting's
// name for errors.
type settingStatement struct{ name, sql string }

// settingStatements checks changes and turns them into ALTER DATABASE
// statements, in a stable order.
func settingStatements(id string, changes map[string]string) ([]settingStatement, error) {
	db := pgx.Identifier{id}.Sanitize()
	var out []settingStatement
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		s, ok := findSetting(name)
		if !ok {
			return nil, fmt.Errorf("setting %q: want one of %s: %w", truncate(name), settingNames(), addons.ErrInvalid)
		}
		v, err := settingSQLValue(s, changes[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		stmt := fmt.Sprintf("ALTER DATABASE %s SET %s = %s", db, name, v)
		switch {
		case name == autoExplain && v == "on":
			stmt = fmt.Sprintf("ALTER DATABASE %s SET session_preload_libraries = 'auto_explain'", db)
		case name == autoExplain:
			stmt = fmt.Sprintf("ALTER DATABASE %s RESET session_preload_libraries", db)
		}
		out = append(out, settingStatement{name, stmt})
	}
	return out, nil
}

// applySettings runs stmts in one transaction.
func applySettings(ctx context.Context, conn *pgx.Conn, stmts []settingStatement) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return fmt.Errorf("%s: %w", st.name, settingError(err))
			}
		}
		return nil
	})
}

func readSettings(ctx context.Context, conn *pgx.Conn, id string) ([]addons.Setting, error) {
	names := []string{"session_preload_libraries"}
	for _, s := range settings {
		names = append(names, s.name)
	}
	// The database's own values are "name=value" entries of setconfig;
	// the rest come from the server (reset_val: its configuration, as the
	// admin's session sees it). auto_explain's parameters are unknown to a
	// server that has not loaded the library: their own values, or their
	// defaults.
	rows, err := conn.Query(ctx, `
		WITH own AS (
			SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value
			FROM pg_catalog.pg_db_role_setting r, pg_catalog.unnest(r.setconfig) c
			WHERE r.setrole = 0 AND r.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)
		)
		SELECT n, coalesce((SELECT value FROM own WHERE name = n), (SELECT reset_val FROM pg_settings WHERE name = n))
		FROM pg_catalog.unnest($2::text[]) n`, id, names)
	if err != nil {
		return nil, fmt.Errorf("postgres: read the settings of %s: %w", id, err)
	}
	values := map[string]string{}
	for rows.Next() {
		var name string
		var value *string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("postgres: read the settings of %s: %w", id, err)
		}
		if value != nil {
			values[name] = *value
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read the settings of %s: %w", id, err)
	}
	values[autoExplain] = "off"
	for _, lib := range strings.Split(values["session_preload_libraries"], ",") {
		if strings.Trim(strings.TrimSpace(lib), `"`) == "auto_explain" {
			values[autoExplain] = "on"
		}
	}
	out := make([]addons.Setting, 0, len(settings))
	for _, s := range settings {
		v, ok := values[s.name]
		if !ok && s.def != "" {
			v, ok = s.def, true
		}
		if !ok {
			continue // not a parameter of this server's version
		}
		out = append(out, addons.Setting{Name: s.name, Value: typedValue(s, v), Description: s.desc, Values: s.values})
	}
	return out, nil
}

// typedValue is a parameter's text as the Data API reports it.
func typedValue(s setting, v string) any {
	switch s.kind {
	case "bool":
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			return true
		}
		return false
	case "int":
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return v
}

// settingSQLValue checks value against s and quotes it for ALTER DATABASE.
func settingSQLValue(s setting, value string) (string, error) {
	switch s.kind {
	case "bool":
		switch strings.ToLower(value) {
		case "true", "on":
			return "on", nil
		case "false", "off":
			return "off", nil
		}
		return "", fmt.Errorf("value %q: want true or false: %w", truncate(value), addons.ErrInvalid)
	case "int":
		n, err := strconv.Atoi(value)
		if err != nil || n < -1 || n > math.MaxInt32 {
			return "", fmt.Errorf("value %q: want a whole number of milliseconds, or -1 to turn it off: %w", truncate(value), addons.ErrInvalid)
		}
		return strconv.Itoa(n), nil
	}
	if _, ok := s.values[value]; !ok {
		opts := slices.Sorted(maps.Keys(s.values))
		return "", fmt.Errorf("value %q: want one of %s: %w", truncate(value), strings.Join(opts, ", "), addons.ErrInvalid)
	}
	return "'" + value + "'", nil // one of the fixed values: no quoting needed within
}

// settingError names what PostgreSQL refused.
func settingError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("the server's admin role may not set it (it needs to be a superuser, or be granted SET on the parameter): %w", err)
	}
	return err
}

func settingNames() string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}
