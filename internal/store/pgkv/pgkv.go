package pgkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dynokit/dynokit/internal/store"
)

// DB is a PostgreSQL-backed store.DB.
type DB struct {
	pool *pgxpool.Pool
}

// Options tunes Open. The zero value works.
type Options struct {
	// MaxConns bounds open connections; 0 means 8.
	MaxConns int
}

var _ store.DB = (*DB)(nil)

// schema lists the backend's own migrations, applied in order; entry i
// moves the schema to version i+1. Append, never edit.
var schema = [...]string{
	`CREATE TABLE dynokit_kv (
		ns    text  NOT NULL,
		key   bytea NOT NULL,
		value bytea NOT NULL,
		PRIMARY KEY (ns, key)
	)`,
	// Histories grow by appends; re-analyze early so that the planner
	// keeps using the primary key for newest-first pages.
	`ALTER TABLE dynokit_kv SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200)`,
}

// migrationLock is the advisory lock key that serialises schema migration
// ("dynokit" in ASCII).
const migrationLock = 0x64796e6f6b6974

// Open connects to dsn (a libpq-style URL or key=value string) and
// migrates the schema.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgkv: parse dsn: %w", err)
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = 8
	}
	cfg.MaxConns = int32(opt.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgkv: connect: %w", err)
	}
	d := &DB{pool: pool}
	if err := d.migrate(ctx); err != nil {
		d.pool.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) migrate(ctx context.Context) error {
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("pgkv: lock for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS dynokit_kv_schema (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("pgkv: create schema table: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM dynokit_kv_schema`).Scan(&cur); err != nil {
			return fmt.Errorf("pgkv: read schema version: %w", err)
		}
		if cur > len(schema) {
			return fmt.Errorf("pgkv: database schema is at version %d but this program knows only %d: upgrade the program", cur, len(schema))
		}
		for v := cur; v < len(schema); v++ {
			if _, err := tx.Exec(ctx, schema[v]); err != nil {
				return fmt.Errorf("pgkv: schema migration %d: %w", v+1, err)
			}
		}
		if cur < len(schema) {
			if _, err := tx.Exec(ctx, `DELETE FROM dynokit_kv_schema`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO dynokit_kv_schema (version) VALUES ($1)`, len(schema)); err != nil {
				return fmt.Errorf("pgkv: record schema version: %w", err)
			}
		}
		return nil
	})
}

// Close closes every connection. Calls in flight finish first.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction: one consistent
// snapshot for every read fn makes.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(t pgx.Tx) error {
		return fn(&tx{ctx: ctx, t: t})
	})
}

// Update runs fn in a READ COMMITTED transaction (see package store for
// why that is enough).
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		return fn(&tx{ctx: ctx, t: t, write: true})
	})
}

type tx struct {
	ctx   context.Context
	t     pgx.Tx
	write bool
}

func (t *tx) Get(ns string, key []byte) ([]byte, error) {
	q := `SELECT value FROM dynokit_kv WHERE ns = $1 AND key = $2`
	if t.write {
		q += ` FOR UPDATE`
	}
	var v []byte
	err := t.t.QueryRow(t.ctx, q, ns, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgkv: get %s: %w", ns, err)
	}
	return v, nil
}

func (t *tx) Insert(ns string, key, value []byte) error {
	if len(key) == 0 {
		return errEmptyKey
	}
	value = nonNil(value)
	tag, err := t.t.Exec(t.ctx, `INSERT INTO dynokit_kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, ns, key, value)
	if err != nil {
		return fmt.Errorf("pgkv: insert into %s: %w", ns, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

func (t *tx) Put(ns string, key, value []byte) error {
	if len(key) == 0 {
		return errEmptyKey
	}
	value = nonNil(value)
	_, err := t.t.Exec(t.ctx, `INSERT INTO dynokit_kv (ns, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value`, ns, key, value)
	if err != nil {
		return fmt.Errorf("pgkv: put into %s: %w", ns, err)
	}
	return nil
}

func (t *tx) Delete(ns string, key []byte) error {
	if _, err := t.t.Exec(t.ctx, `DELETE FROM dynokit_kv WHERE ns = $1 AND key = $2`, ns, key); err != nil {
		return fmt.Errorf("pgkv: delete from %s: %w", ns, err)
	}
	return nil
}

func (t *tx) Scan(ns string, from []byte, desc bool, limit int, fn func(key, value []byte) bool) error {
	q := `SELECT key, value FROM dynokit_kv WHERE ns = $1`
	args := []any{ns}
	if from != nil {
		args = append(args, from)
		if desc {
			q += ` AND key <= $2`
		} else {
			q += ` AND key >= $2`
		}
	}
	if desc {
		q += ` ORDER BY key DESC`
	} else {
		q += ` ORDER BY key ASC`
	}
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := t.t.Query(t.ctx, q, args...)
	if err != nil {
		return fmt.Errorf("pgkv: scan %s: %w", ns, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("pgkv: scan %s: %w", ns, err)
		}
		if !fn(k, v) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgkv: scan %s: %w", ns, err)
	}
	return nil
}

// errEmptyKey matches bbolt, which refuses empty keys.
var errEmptyKey = errors.New("pgkv: empty key")

// nonNil maps a nil value to an empty one: the column is NOT NULL.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
