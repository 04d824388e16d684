package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: key exists")
)

// Tx reads and writes namespaces inside one transaction. Byte slices passed
// to fn or returned are owned by the caller (copies), valid after the
// transaction ends. A Tx must not be used after its function returns.
type Tx interface {
	// Get returns the value of key, or ErrNotFound.
	Get(ns string, key []byte) ([]byte, error)
	// Insert adds key, or fails with ErrExists if it is present. Keys are
	// non-empty; a nil value is stored as an empty one.
	Insert(ns string, key, value []byte) error
	// Put sets key, adding or replacing it.
	Put(ns string, key, value []byte) error
	// Delete removes key; removing an absent key is not an error.
	Delete(ns string, key []byte) error
	// Scan visits up to limit entries (0 = all) in key order, ascending or
	// descending, starting at from (inclusive; nil = the first key in that
	// direction), until fn returns false.
	Scan(ns string, from []byte, desc bool, limit int, fn func(key, value []byte) bool) error
}

// DB is an open store. Implementations are safe for concurrent use.
type DB interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction that commits if fn
	// returns nil and rolls back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Migration moves one component's data from Version-1 to Version.
type Migration struct {
	Version int
	Name    string
	Up      func(Tx) error // nil for a migration that only records the version
}

// MigrationsNS holds each component's applied migration version.
const MigrationsNS = "dynokit.migrations"

// Migrate applies the migrations of component that are newer than the
// stored version, in one transaction. Versions must run 1, 2, 3 … without
// gaps. A database migrated by a newer program (stored version beyond the
// last known migration) is refused rather than misread.
func Migrate(ctx context.Context, db DB, component string, ms []Migration) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("store: migrations of %s: entry %d has version %d, want %d", component, i, m.Version, i+1)
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = db.Update(ctx, func(tx Tx) error { return migrateTx(tx, component, ms) })
		if !errors.Is(err, ErrExists) { // ErrExists: a concurrent opener migrated first; look again
			break
		}
	}
	if err != nil {
		return fmt.Errorf("store: migrating %s: %w", component, err)
	}
	return nil
}

func migrateTx(tx Tx, component string, ms []Migration) error {
	cur := 0
	raw, err := tx.Get(MigrationsNS, []byte(component))
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		if cur, err = strconv.Atoi(string(raw)); err != nil {
			return fmt.Errorf("stored version %q: %w", raw, err)
		}
	}
	if cur > len(ms) {
		return fmt.Errorf("database is at version %d but this program knows only %d: upgrade the program", cur, len(ms))
	}
	if cur == len(ms) {
		return nil
	}
	for _, m := range ms[cur:] {
		if m.Up != nil {
			if err := m.Up(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
	}
	v := []byte(strconv.Itoa(len(ms)))
	if cur == 0 {
		return tx.Insert(MigrationsNS, []byte(component), v)
	}
	return tx.Put(MigrationsNS, []byte(component), v)
}

// Version returns the applied migration version of component (0 if none).
func Version(ctx context.Context, db DB, component string) (int, error) {
	v := 0
	err := db.View(ctx, func(tx Tx) error {
		raw, err := tx.Get(MigrationsNS, []byte(component))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err = strconv.Atoi(string(raw))
		return err
	})
	return v, err
}
