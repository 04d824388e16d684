package pgstore

import (
	"context"

	"github.com/dynokit/dynokit/internal/store/pgkv"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/internal/kvstore"
)

// Options tunes Open; the zero value works.
type Options struct {
	MaxConns int // open connections at most; 0 means 8
}

// Store is a release.Store in PostgreSQL. Safe for concurrent use.
//
// Its methods are those of the store layer every dynokit release store
// shares: Append, Get, Latest, Current, SetStatus and List implement
// [release.Store], DeleteApp implements [release.AppDeleter], and Close
// closes the connections.
type Store struct {
	*kv // unexported, so that only its methods are promoted
}

// kv names the shared implementation; see [Store] for its methods.
type kv = kvstore.Store

var (
	_ release.Store      = (*Store)(nil)
	_ release.AppDeleter = (*Store)(nil)
)

// Open connects to dsn ("postgres://user@host:5432/db" or
// "host=… dbname=…") and runs pending migrations.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	db, err := pgkv.Open(ctx, dsn, pgkv.Options{MaxConns: opt.MaxConns})
	if err != nil {
		return nil, err
	}
	shared, err := kvstore.New(ctx, db)
	if err != nil {
		return nil, err
	}
	return &Store{shared}, nil
}
