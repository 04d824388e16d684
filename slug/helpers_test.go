package slug_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

// treeSpec describes a file tree: path → content. Special prefixes:
// "dir:" a directory, "link:<target>" a symlink, otherwise a regular file
// with that content. modes overrides permissions.
type treeSpec map[string]string

func makeTree(t testing.TB, dir string, spec treeSpec, modes map[string]fs.FileMode) {
	t.Helper()
	paths := make([]string, 0, len(spec))
	for p := range spec {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		v := spec[p]
		switch {
		case v == "dir:":
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(v, "link:"):
			if err := os.Symlink(strings.TrimPrefix(v, "link:"), full); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes last, deepest first, so read-only dirs do not block creation.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for p, m := range modes {
		if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(p)), m); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes every entry under dir as "type mode content/target".
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm()|fi.Mode()&fs.ModeSticky)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %v %q", fi.Mode().Perm(), b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// requireTool returns the path of a command-line tool, or skips the test
// (fails with DYNOKIT_TEST_REQUIRE=1) when it is missing.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("%s not found on PATH (DYNOKIT_TEST_REQUIRE=1): %v", name, err)
		}
		t.Skipf("%s not found on PATH: %v", name, err)
	}
	return p
}

// writableOnCleanup makes every directory under dir writable before the
// test's temporary directories are removed, so trees with read-only
// directories can be cleaned up by a non-root user.
func writableOnCleanup(t testing.TB, dir string) {
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}
