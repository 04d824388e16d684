package slug

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"
)

// Info describes a stored slug.
type Info struct {
	Digest Digest
	Size   int64 // compressed bytes
	// CreatedAt is when the slug was last put: putting an existing slug
	// again refreshes it, so that garbage collection's grace period
	// protects a slug that a deploy in flight has just uploaded again.
	CreatedAt time.Time
}

// Getter is the part of a Store that a runtime needs to fetch slugs.
type Getter interface {
	// Open returns the slug's bytes, or an error matching ErrNotFound. The
	// reader is an io.ReadSeeker too when the store can seek (both stores
	// here can); callers close it.
	Open(ctx context.Context, d Digest) (io.ReadCloser, Info, error)
}

// Store keeps slugs by digest. Slugs are immutable: the same digest always
// names the same bytes. Implementations are safe for concurrent use, and
// run the conformance suite in package slugtest.
type Store interface {
	Getter
	// Put reads r to the end and stores it. If want is non-empty, the
	// bytes must have that digest or Put fails with a *DigestMismatchError
	// and stores nothing. Publication is atomic: readers see the whole
	// slug or nothing, and concurrent Puts of the same slug are safe.
	Put(ctx context.Context, r io.Reader, want Digest) (Info, error)
	// Stat returns the slug's Info, or an error matching ErrNotFound.
	Stat(ctx context.Context, d Digest) (Info, error)
	// Delete removes the slug, or returns an error matching ErrNotFound.
	// Readers that already opened it may finish reading.
	Delete(ctx context.Context, d Digest) error
	// List yields every stored slug once, in no particular order. Slugs put
	// or deleted while listing may or may not be yielded.
	List(ctx context.Context) iter.Seq2[Info, error]
}

// ErrNotFound is matched (with errors.Is) by errors for a slug that is not
// in a store.
var ErrNotFound = errors.New("slug: not found")

func notFound(d Digest) error { return fmt.Errorf("slug %s: %w", d, ErrNotFound) }

// MemStore is a Store that keeps slugs in memory, for tests of code that
// uses a Store. The zero value is ready to use.
type MemStore struct {
	// MaxSize bounds a slug's size in Put: 0 means
	// DefaultMaxCompressedSize, negative means no limit.
	MaxSize int64
	// Now returns the time recorded as CreatedAt; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	slugs map[Digest]memSlug
}

type memSlug struct {
	data    []byte
	created time.Time
}

var _ Store = (*MemStore)(nil)

func (s *MemStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put implements Store.
func (s *MemStore) Put(ctx context.Context, r io.Reader, want Digest) (Info, error) {
	if want != "" {
		var err error
		if want, err = want.canonical(); err != nil {
			return Info{}, err
		}
	}
	lr := &limitedReader{r: ctxReader{ctx, r}, d: newDigester(), max: pick(s.MaxSize, DefaultMaxCompressedSize), field: "MaxCompressedSize"}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(lr); err != nil {
		return Info{}, putErr(err)
	}
	got := lr.d.digest()
	if want != "" && got != want {
		return Info{}, &DigestMismatchError{Want: want, Got: got}
	}
	info := Info{Digest: got, Size: int64(buf.Len()), CreatedAt: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slugs == nil {
		s.slugs = map[Digest]memSlug{}
	}
	data := buf.Bytes()
	if old, ok := s.slugs[got]; ok {
		data = old.data // same bytes; keep readers' slice shared
	}
	s.slugs[got] = memSlug{data: data, created: info.CreatedAt}
	return info, nil
}

func putErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	return fmt.Errorf("slug: put: %w", err)
}

func (s *MemStore) get(d Digest) (memSlug, Info, error) {
	if _, err := d.canonical(); err != nil {
		return memSlug{}, Info{}, err
	}
	d, _ = d.canonical()
	s.mu.Lock()
	m, ok := s.slugs[d]
	s.mu.Unlock()
	if !ok {
		return memSlug{}, Info{}, notFound(d)
	}
	return m, Info{Digest: d, Size: int64(len(m.data)), CreatedAt: m.created}, nil
}

// Open implements Store. The reader is an io.ReadSeeker.
func (s *MemStore) Open(ctx context.Context, d Digest) (io.ReadCloser, Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	m, info, err := s.get(d)
	if err != nil {
		return nil, Info{}, err
	}
	return memReader{bytes.NewReader(m.data)}, info, nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

// Stat implements Store.
func (s *MemStore) Stat(ctx context.Context, d Digest) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	_, info, err := s.get(d)
	return info, err
}

// Delete implements Store.
func (s *MemStore) Delete(ctx context.Context, d Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := d.canonical()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.slugs[d]; !ok {
		return notFound(d)
	}
	delete(s.slugs, d)
	return nil
}

// List implements Store.
func (s *MemStore) List(ctx context.Context) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		s.mu.Lock()
		keys := slices.Sorted(maps.Keys(s.slugs))
		s.mu.Unlock()
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				yield(Info{}, err)
				return
			}
			_, info, err := s.get(k)
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

// ctxReader fails reads once ctx is done, so a long copy stops promptly.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
