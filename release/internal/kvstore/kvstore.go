package kvstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/release"
)

// Component is the name under which migrations are recorded.
const Component = "release"

var migrations = []store.Migration{
	{Version: 1, Name: "release/<app> namespaces, big-endian version keys, JSON records"},
}

// Store is a release.Store over a store.DB.
type Store struct {
	db store.DB
}

var _ release.Store = (*Store)(nil)

// New migrates db and returns a Store using it. The Store owns db: closing
// the Store closes db, and so does New when it fails.
func New(ctx context.Context, db store.DB) (*Store, error) {
	if err := store.Migrate(ctx, db, Component, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("release: open store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the underlying DB.
func (s *Store) Close() error { return s.db.Close() }

func ns(app string) string { return "release/" + app }

func key(v int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decode(app string, k, v []byte) (release.Release, error) {
	var r release.Release
	if len(k) != 8 {
		return r, fmt.Errorf("release: %s: corrupt key %x (want 8 bytes)", app, k)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("release: %s v%d: corrupt record: %w", app, binary.BigEndian.Uint64(k), err)
	}
	if r.Version != int(binary.BigEndian.Uint64(k)) || r.App != app {
		return r, fmt.Errorf("release: %s: record under key v%d says %s v%d", app, binary.BigEndian.Uint64(k), r.App, r.Version)
	}
	return r, nil
}

// latestIn returns the newest release of app, or version 0 when none.
func latestIn(tx store.Tx, app string) (release.Release, error) {
	var (
		r    release.Release
		derr error
	)
	err := tx.Scan(ns(app), nil, true, 1, func(k, v []byte) bool {
		r, derr = decode(app, k, v)
		return false
	})
	return r, errors.Join(err, derr)
}

// Append implements release.Store.
func (s *Store) Append(ctx context.Context, app string, r release.Release, expectVersion int) (release.Release, error) {
	if err := release.CheckAppend(app, r, expectVersion); err != nil {
		return release.Release{}, err
	}
	r.App, r.Version = app, expectVersion+1
	val, err := json.Marshal(r)
	if err != nil {
		return release.Release{}, fmt.Errorf("release: encode %s v%d: %w", app, r.Version, err)
	}
	err = s.db.Update(ctx, func(tx store.Tx) error {
		latest, err := latestIn(tx, app)
		if err != nil {
			return err
		}
		if latest.Version != expectVersion {
			return release.ConflictError(app, expectVersion, latest.Version)
		}
		return tx.Insert(ns(app), key(r.Version), val)
	})
	if errors.Is(err, store.ErrExists) {
		return release.Release{}, release.ConflictError(app, expectVersion, r.Version)
	}
	if err != nil {
		return release.Release{}, wrap("append to "+app, err)
	}
	return r, nil
}

func wrap(what string, err error) error {
	if err == nil || errors.Is(err, release.ErrConflict) || errors.Is(err, release.ErrNotFound) {
		return err
	}
	return fmt.Errorf("release: %s: %w", what, err)
}

// DeleteApp implements release.AppDeleter.
func (s *Store) DeleteApp(ctx context.Context, app string) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var keys [][]byte
		if err := tx.Scan(ns(app), nil, false, 0, func(k, _ []byte) bool {
			keys = append(keys, append([]byte(nil), k...))
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(ns(app), k); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("delete "+app, err)
}

// Get implements release.Store.
func (s *Store) Get(ctx context.Context, app string, version int) (release.Release, error) {
	var r release.Release
	err := s.db.View(ctx, func(tx store.Tx) error {
		if version < 1 {
			return store.ErrNotFound
		}
		v, err := tx.Get(ns(app), key(version))
		if err != nil {
			return err
		}
		r, err = decode(app, key(version), v)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return release.Release{}, fmt.Errorf("release: %s v%d: %w", app, version, release.ErrNotFound)
	}
	return r, wrap("get", err)
}

// Latest implements release.Store.
func (s *Store) Latest(ctx context.Context, app string) (release.Release, error) {
	var r release.Release
	err := s.db.View(ctx, func(tx store.Tx) (err error) {
		r, err = latestIn(tx, app)
		return err
	})
	if err != nil {
		return release.Release{}, wrap("latest of "+app, err)
	}
	if r.Version == 0 {
		return release.Release{}, fmt.Errorf("release: %s has no releases: %w", app, release.ErrNotFound)
	}
	return r, nil
}

// Current implements release.Store: it walks back from the newest release
// to the first succeeded one (usually the first or second it reads), in
// small batches so that PostgreSQL never ships the whole history.
func (s *Store) Current(ctx context.Context, app string) (release.Release, error) {
	var r release.Release
	err := s.db.View(ctx, func(tx store.Tx) error {
		var from []byte
		for batch := 8; ; batch = min(batch*4, release.MaxMax) {
			var derr error
			n := 0
			err := tx.Scan(ns(app), from, true, batch, func(k, v []byte) bool {
				n++
				var c release.Release
				if c, derr = decode(app, k, v); derr != nil {
					return false
				}
				if c.Status == release.StatusSucceeded {
					r = c
					return false
				}
				from = key(c.Version - 1)
				return c.Version > 1
			})
			if err != nil || derr != nil || r.Version != 0 || n < batch || len(from) == 0 || binary.BigEndian.Uint64(from) == 0 {
				return errors.Join(err, derr)
			}
		}
	})
	if err != nil {
		return release.Release{}, wrap("current of "+app, err)
	}
	if r.Version == 0 {
		return release.Release{}, fmt.Errorf("release: %s has no succeeded release: %w", app, release.ErrNotFound)
	}
	return r, nil
}

// SetStatus implements release.Store.
func (s *Store) SetStatus(ctx context.Context, app string, version int, to release.Status) (release.Release, error) {
	var r release.Release
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if version < 1 {
			return store.ErrNotFound
		}
		v, err := tx.Get(ns(app), key(version)) // locks the row on PostgreSQL
		if err != nil {
			return err
		}
		if r, err = decode(app, key(version), v); err != nil {
			return err
		}
		if r, err = release.Transition(r, to, time.Now()); err != nil {
			return err
		}
		val, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return tx.Put(ns(app), key(version), val)
	})
	if errors.Is(err, store.ErrNotFound) {
		return release.Release{}, fmt.Errorf("release: %s v%d: %w", app, version, release.ErrNotFound)
	}
	if err != nil {
		return release.Release{}, wrap("set status", err)
	}
	return r, nil
}

// List implements release.Store.
func (s *Store) List(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	opt, err := opt.Normalize()
	if err != nil {
		return nil, err
	}
	out := []release.Release{}
	var from []byte
	if opt.Start > 0 {
		from = key(opt.Start)
	}
	err = s.db.View(ctx, func(tx store.Tx) error {
		var derr error
		err := tx.Scan(ns(app), from, opt.Order == release.Desc, opt.Max, func(k, v []byte) bool {
			var r release.Release
			if r, derr = decode(app, k, v); derr != nil {
				return false
			}
			if !opt.Contains(r.Version) {
				return false
			}
			out = append(out, r)
			return true
		})
		return errors.Join(err, derr)
	})
	if err != nil {
		return nil, wrap("list "+app, err)
	}
	return out, nil
}
