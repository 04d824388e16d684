package boltstore

import (
	"context"
	"time"

	"github.com/dynokit/dynokit/internal/store/boltkv"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/internal/kvstore"
)

// Options tunes Open; the zero value works.
type Options struct {
	LockTimeout time.Duration // waiting for another process's lock; 0 means 5 s
}

// Store is a release.Store in a bbolt file. Safe for concurrent use.
type Store struct {
	kv *kvstore.Store
}

var _ release.Store = (*Store)(nil)

// Open opens or creates the file at path and runs pending migrations.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	db, err := boltkv.Open(path, boltkv.Options{LockTimeout: opt.LockTimeout})
	if err != nil {
		return nil, err
	}
	kv, err := kvstore.New(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{kv: kv}, nil
}

// Close releases the file.
func (s *Store) Close() error { return s.kv.Close() }

// Append implements [release.Store].
func (s *Store) Append(ctx context.Context, app string, r release.Release, expectVersion int) (release.Release, error) {
	return s.kv.Append(ctx, app, r, expectVersion)
}

// DeleteApp implements [release.AppDeleter].
func (s *Store) DeleteApp(ctx context.Context, app string) error {
	return s.kv.DeleteApp(ctx, app)
}

// Get implements [release.Store].
func (s *Store) Get(ctx context.Context, app string, version int) (release.Release, error) {
	return s.kv.Get(ctx, app, version)
}

// Latest implements [release.Store].
func (s *Store) Latest(ctx context.Context, app string) (release.Release, error) {
	return s.kv.Latest(ctx, app)
}

// Current implements [release.Store].
func (s *Store) Current(ctx context.Context, app string) (release.Release, error) {
	return s.kv.Current(ctx, app)
}

// SetStatus implements [release.Store].
func (s *Store) SetStatus(ctx context.Context, app string, version int, to release.Status) (release.Release, error) {
	return s.kv.SetStatus(ctx, app, version, to)
}

// List implements [release.Store].
func (s *Store) List(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	return s.kv.List(ctx, app, opt)
}
