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
//
// Its methods are those of the store layer every dynokit release store
// shares: Append, Get, Latest, Current, SetStatus and List implement
// [release.Store], DeleteApp implements [release.AppDeleter], and Close
// releases the file.
type Store struct {
	*kv // unexported, so that only its methods are promoted
}

// kv names the shared implementation; see [Store] for its methods.
type kv = kvstore.Store

var (
	_ release.Store      = (*Store)(nil)
	_ release.AppDeleter = (*Store)(nil)
)

// Open opens or creates the file at path and runs pending migrations.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	db, err := boltkv.Open(path, boltkv.Options{LockTimeout: opt.LockTimeout})
	if err != nil {
		return nil, err
	}
	shared, err := kvstore.New(ctx, db)
	if err != nil {
		return nil, err
	}
	return &Store{shared}, nil
}
