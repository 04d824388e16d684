package copytree_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dynokit/dynokit/internal/copytree"
)

func write(t *testing.T, path, body string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
}

func TestCopy(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "bin", "run"), "#!/bin/sh\n", 0o750)
	write(t, filepath.Join(src, "ro", "data"), "d", 0o444)
	write(t, filepath.Join(src, ".git", "HEAD"), "ref", 0o644)
	if err := os.Chmod(filepath.Join(src, "ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "ro"), 0o755) })
	if err := os.Symlink("../outside", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "copy")
	if err := copytree.Copy(context.Background(), src, dst, ".git"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{"bin/run": 0o750, "ro/data": 0o444, "ro": fs.ModeDir | 0o755} {
		fi, err := os.Lstat(filepath.Join(dst, path))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst, "bin", "run")); err != nil || string(b) != "#!/bin/sh\n" {
		t.Errorf("bin/run = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "../outside" {
		t.Errorf("link = %q, %v; want the link itself", l, err)
	}
	for _, gone := range []string{".git", "fifo"} {
		if _, err := os.Lstat(filepath.Join(dst, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was copied (%v)", gone, err)
		}
	}

	// Into an existing directory: new names are added, existing ones are an error.
	if err := copytree.Copy(context.Background(), filepath.Join(src, ".git"), dst); err != nil {
		t.Errorf("copy into an existing directory: %v", err)
	}
	if err := copytree.Copy(context.Background(), src, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("copy over existing files = %v, want ErrExist", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := copytree.Copy(ctx, src, filepath.Join(t.TempDir(), "c")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy = %v", err)
	}
}

func TestRemoveAllReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	ro := filepath.Join(dir, "a", "ro")
	if err := os.MkdirAll(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{ro, filepath.Dir(ro)} {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	if err := copytree.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
}
