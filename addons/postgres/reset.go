package postgres

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Resetter = (*Provider)(nil)

// extensionPattern is what Reset accepts as an extension name.
var extensionPattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,62}$`)

// Reset implements addons.Resetter (heroku pg:reset): it drops every
// object the add-on's role owns in its database (DROP OWNED BY … CASCADE,
// in one transaction), keeping the database, the role and its password,
// then creates the extensions asked for. It runs as the add-on's own role,
// like Describe, so only extensions a database owner may create (trusted
// ones, such as pgcrypto, hstore or citext) can be asked for; another
// fails the reset, which then changes nothing. Sessions other apps hold on
// the database stay open; a lock they hold makes Reset wait (bounded by
// ctx).
func (p *Provider) Reset(ctx context.Context, id string, extensions []string) error {
	for _, e := range extensions {
		if !extensionPattern.MatchString(e) {
			return fmt.Errorf("postgres: reset %s: extension %q: want a lower-case name of letters, digits, '_' or '-': %w", id, truncate(e), addons.ErrInvalid)
		}
	}
	conninfo, password, err := p.credentials(ctx, id)
	if err != nil {
		return fmt.Errorf("postgres: reset: %w", err)
	}
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return fmt.Errorf("postgres: reset %s: %w", id, err)
	}
	cfg.Password = password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: reset %s: connect as the add-on's role: %w", id, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP OWNED BY CURRENT_USER CASCADE"); err != nil {
			return err
		}
		for _, e := range extensions {
			if _, err := tx.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{e}.Sanitize()); err != nil {
				return fmt.Errorf("extension %s: %w", e, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: reset %s: %w", id, err)
	}
	return nil
}

var _ addons.ConnectionResetter = (*Provider)(nil)

// ResetConnections implements addons.ConnectionResetter (heroku
// pg:killall): every backend connected to the add-on's database is
// terminated, from the admin connection (nothing runs inside the add-on's
// database).
func (p *Provider) ResetConnections(ctx context.Context, id string) (int, error) {
	conn, err := p.resourceConn(ctx, "reset connections of", id)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: reset connections of %s: %w", id, err)
	}
	return n, nil
}
