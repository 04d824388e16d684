package slug_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dynokit/dynokit/slug"
	"github.com/dynokit/dynokit/slug/slugtest"
)

func TestMemStore(t *testing.T) {
	slugtest.StoreSuite(t, func(t *testing.T) slug.Store { return &slug.MemStore{} })
}

func TestFSStore(t *testing.T) {
	slugtest.StoreSuite(t, func(t *testing.T) slug.Store { return &slug.FSStore{Dir: t.TempDir()} })
}

func TestFSStoreLayoutAndNoLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := &slug.FSStore{Dir: dir}
	data := []byte("layout")
	d := slug.DigestOf(data)
	if _, err := s.Put(context.Background(), bytes.NewReader(data), d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), bytes.NewReader([]byte("bad")), d); err == nil {
		t.Fatal("Put with mismatching digest succeeded")
	}
	want := filepath.Join(dir, "sha256", d.Hex()[:2], d.Hex()+".tgz")
	fi, err := os.Stat(want)
	if err != nil {
		t.Fatalf("published slug not at %s: %v", want, err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("published slug mode = %v, want read-only 0444", fi.Mode().Perm())
	}
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("tmp dir holds %d entries (err %v), want none after Put", len(tmp), err)
	}
	// A file that is not a slug is ignored by List.
	os.WriteFile(filepath.Join(dir, "sha256", d.Hex()[:2], "README"), []byte("x"), 0o644)
	n := 0
	for _, err := range s.List(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("List yielded %d, want 1", n)
	}
}

func TestFSStoreRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	s := &slug.FSStore{Dir: dir}
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	old := filepath.Join(dir, "tmp", "put-old")
	fresh := filepath.Join(dir, "tmp", "put-fresh")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(fresh, []byte("x"), 0o644)
	now := time.Now()
	os.Chtimes(old, now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	n, err := s.RemoveStaleTemp(context.Background(), time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemp = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temp still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp removed: %v", err)
	}
}

func TestStoreMaxSize(t *testing.T) {
	for name, s := range map[string]slug.Store{
		"mem": &slug.MemStore{MaxSize: 10},
		"fs":  &slug.FSStore{Dir: t.TempDir(), MaxSize: 10},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Put(context.Background(), bytes.NewReader(make([]byte, 11)), "")
			var le *slug.LimitError
			if !errorsAs(err, &le) || le.Field != "MaxCompressedSize" || le.Limit != 10 {
				t.Fatalf("Put of 11 bytes with MaxSize 10: err = %v", err)
			}
			if _, err := s.Put(context.Background(), bytes.NewReader(make([]byte, 10)), ""); err != nil {
				t.Fatalf("Put of exactly MaxSize: %v", err)
			}
		})
	}
}
