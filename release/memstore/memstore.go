package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dynokit/dynokit/release"
)

// Store keeps every app's history in memory. The zero value is ready to
// use; it is safe for concurrent use.
type Store struct {
	mu   sync.RWMutex
	apps map[string][]release.Release // index i holds version i+1
}

var _ release.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{} }

// Append implements [release.Store].
func (s *Store) Append(ctx context.Context, app string, r release.Release, expectVersion int) (release.Release, error) {
	if err := release.CheckAppend(app, r, expectVersion); err != nil {
		return release.Release{}, err
	}
	if err := ctx.Err(); err != nil {
		return release.Release{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.apps[app]
	if len(h) != expectVersion {
		return release.Release{}, release.ConflictError(app, expectVersion, len(h))
	}
	r = r.Clone()
	r.App, r.Version = app, len(h)+1
	if s.apps == nil {
		s.apps = map[string][]release.Release{}
	}
	s.apps[app] = append(h, r)
	return r.Clone(), nil
}

// DeleteApp implements [release.AppDeleter].
func (s *Store) DeleteApp(ctx context.Context, app string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.apps, app)
	return nil
}

// Get implements [release.Store].
func (s *Store) Get(ctx context.Context, app string, version int) (release.Release, error) {
	if err := ctx.Err(); err != nil {
		return release.Release{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.apps[app]
	if version < 1 || version > len(h) {
		return release.Release{}, fmt.Errorf("release: %s v%d: %w", app, version, release.ErrNotFound)
	}
	return h[version-1].Clone(), nil
}

// Latest implements [release.Store].
func (s *Store) Latest(ctx context.Context, app string) (release.Release, error) {
	if err := ctx.Err(); err != nil {
		return release.Release{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.apps[app]
	if len(h) == 0 {
		return release.Release{}, fmt.Errorf("release: %s has no releases: %w", app, release.ErrNotFound)
	}
	return h[len(h)-1].Clone(), nil
}

// Current implements [release.Store].
func (s *Store) Current(ctx context.Context, app string) (release.Release, error) {
	if err := ctx.Err(); err != nil {
		return release.Release{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.apps[app]
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Status == release.StatusSucceeded {
			return h[i].Clone(), nil
		}
	}
	return release.Release{}, fmt.Errorf("release: %s has no succeeded release: %w", app, release.ErrNotFound)
}

// SetStatus implements [release.Store].
func (s *Store) SetStatus(ctx context.Context, app string, version int, to release.Status) (release.Release, error) {
	if err := ctx.Err(); err != nil {
		return release.Release{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.apps[app]
	if version < 1 || version > len(h) {
		return release.Release{}, fmt.Errorf("release: %s v%d: %w", app, version, release.ErrNotFound)
	}
	r, err := release.Transition(h[version-1], to, time.Now())
	if err != nil {
		return release.Release{}, err
	}
	h[version-1] = r
	return r.Clone(), nil
}

// List implements [release.Store].
func (s *Store) List(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	opt, err := opt.Normalize()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.apps[app]
	out := []release.Release{}
	if opt.Order == release.Asc {
		for i := max(opt.Start, 1) - 1; i < len(h) && len(out) < opt.Max && opt.Contains(i+1); i++ {
			out = append(out, h[i].Clone())
		}
		return out, nil
	}
	first := len(h)
	if opt.Start > 0 {
		first = min(first, opt.Start)
	}
	for i := first - 1; i >= 0 && len(out) < opt.Max && opt.Contains(i+1); i-- {
		out = append(out, h[i].Clone())
	}
	return out, nil
}
