package boltkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/dynokit/dynokit/internal/store"
)

// DB is a bbolt-backed store.DB.
type DB struct {
	bolt *bolt.DB
}

var _ store.DB = (*DB)(nil)

// Options tunes Open. The zero value is the safe default.
type Options struct {
	// LockTimeout bounds waiting for another process to release the file
	// lock; 0 means 5 s.
	LockTimeout time.Duration
}

// Open opens or creates the file at path.
func Open(path string, opt Options) (*DB, error) {
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = 5 * time.Second
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	return &DB{bolt: b}, nil
}

// Close releases the file.
func (d *DB) Close() error { return d.bolt.Close() }

// Path returns the file's path.
func (d *DB) Path() string { return d.bolt.Path() }

// View implements store.DB.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.bolt.View(func(b *bolt.Tx) error { return fn(tx{b}) })
}

// Update implements store.DB.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.bolt.Update(func(b *bolt.Tx) error { return fn(tx{b}) })
}

type tx struct{ b *bolt.Tx }

func (t tx) bucket(ns string, create bool) (*bolt.Bucket, error) {
	if ns == "" {
		return nil, errors.New("boltkv: empty namespace")
	}
	if b := t.b.Bucket([]byte(ns)); b != nil || !create {
		return b, nil
	}
	return t.b.CreateBucket([]byte(ns))
}

func (t tx) Get(ns string, key []byte) ([]byte, error) {
	b, err := t.bucket(ns, false)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, store.ErrNotFound
	}
	v := b.Get(key)
	if v == nil {
		return nil, store.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (t tx) Insert(ns string, key, value []byte) error {
	b, err := t.bucket(ns, true)
	if err != nil {
		return err
	}
	if b.Get(key) != nil {
		return store.ErrExists
	}
	return b.Put(key, value)
}

func (t tx) Put(ns string, key, value []byte) error {
	b, err := t.bucket(ns, true)
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

func (t tx) Delete(ns string, key []byte) error {
	b, err := t.bucket(ns, false)
	if err != nil || b == nil {
		return err
	}
	return b.Delete(key)
}

func (t tx) Scan(ns string, from []byte, desc bool, limit int, fn func(key, value []byte) bool) error {
	b, err := t.bucket(ns, false)
	if err != nil || b == nil {
		return err
	}
	c := b.Cursor()
	var k, v []byte
	switch {
	case from == nil && desc:
		k, v = c.Last()
	case from == nil:
		k, v = c.First()
	default:
		k, v = c.Seek(from)
		if desc && (k == nil || bytes.Compare(k, from) > 0) {
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
	}
	for n := 0; k != nil && (limit <= 0 || n < limit); n++ {
		if !fn(bytes.Clone(k), bytes.Clone(v)) {
			return nil
		}
		if desc {
			k, v = c.Prev()
		} else {
			k, v = c.Next()
		}
	}
	return nil
}
