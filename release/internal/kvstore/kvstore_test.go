package kvstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/internal/store/boltkv"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/internal/kvstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

// Damaged records are reported as errors naming the app and version, never
// returned as releases or turned into panics.
func TestCorruptRecords(t *testing.T) {
	ctx := context.Background()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "x.db"), boltkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := kvstore.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(ctx, "app", releasetest.Sample(1), 0); err != nil {
		t.Fatal(err)
	}
	key := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	cases := []struct {
		name string
		key  []byte
		val  string
		want string
	}{
		{"torn JSON", key(2), `{"app":"app","version":2,"sta`, "app v2: corrupt record"},
		{"wrong version inside", key(2), `{"app":"app","version":7}`, "record under key v2 says app v7"},
		{"short key", []byte{1, 2}, `{}`, "corrupt key 0102"},
	}
	for _, c := range cases {
		if err := db.Update(ctx, func(tx store.Tx) error {
			if err := tx.Delete("release/app", key(2)); err != nil {
				return err
			}
			if err := tx.Delete("release/app", []byte{1, 2}); err != nil {
				return err
			}
			return tx.Put("release/app", c.key, []byte(c.val))
		}); err != nil {
			t.Fatal(err)
		}
		_, lerr := s.List(ctx, "app", release.ListOptions{Order: release.Asc})
		if lerr == nil || !strings.Contains(lerr.Error(), c.want) {
			t.Errorf("%s: List error %v, want %q", c.name, lerr, c.want)
		}
		if errors.Is(lerr, release.ErrNotFound) || errors.Is(lerr, release.ErrConflict) {
			t.Errorf("%s: corruption reported as a sentinel: %v", c.name, lerr)
		}
	}
	v, err := store.Version(ctx, db, kvstore.Component)
	if err != nil || v != 1 {
		t.Fatalf("migration version %d, %v; want 1", v, err)
	}
}
