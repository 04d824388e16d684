package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(context.Background(), path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store {
		s := open(t, filepath.Join(t.TempDir(), "releases.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "releases.db")
	s := open(t, path)
	for i := 1; i <= 3; i++ {
		if _, err := s.Append(ctx, "app", releasetest.Sample(i), i-1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	for i := 1; i <= 3; i++ {
		r, err := s.Get(ctx, "app", i)
		want := releasetest.Sample(i)
		want.App, want.Version = "app", i
		if err != nil || !releasetest.Equal(r, want) {
			t.Fatalf("after reopen v%d = %+v, %v", i, r, err)
		}
	}
}
