package slug_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dynokit/dynokit/slug"
)

func TestRemoveIgnored(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	files := map[string]string{
		slug.IgnoreFile:   "*.pdf\n/tmp/\nlogs\n# a comment\n",
		"a.txt":           "kept",
		"docs/manual.pdf": "gone",
		"docs/readme":     "kept",
		"tmp/x":           "gone",
		"sub/tmp/keep":    "kept (/tmp/ is anchored)",
		"logs/x":          "gone",
		"sub/logs/y":      "gone (logs is not anchored)",
		"pdfs.txt":        "kept",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(outside, "target.pdf")
	if err := os.WriteFile(target, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link.pdf")); err != nil {
		t.Fatal(err)
	}
	n, err := slug.RemoveIgnored(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(left)
	want := []string{".slugignore", "a.txt", "docs/readme", "pdfs.txt", "sub/tmp/keep"}
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	if n != 5 { // docs/manual.pdf, tmp, logs, sub/logs, link.pdf
		t.Errorf("removed %d, want 5", n)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the symlink's target outside the tree: %v", err)
	}

	// Nothing to do without a .slugignore; a bad one is refused, and
	// nothing is removed.
	if n, err := slug.RemoveIgnored(context.Background(), t.TempDir()); n != 0 || err != nil {
		t.Errorf("no .slugignore: %d, %v", n, err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, slug.IgnoreFile), []byte("*.log\n!keep.log\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "x.log"), nil, 0o644)
	var ie *slug.IgnoreError
	if _, err := slug.RemoveIgnored(context.Background(), bad); !errors.As(err, &ie) || ie.Line != 2 {
		t.Errorf("negation: %v, want an *IgnoreError on line 2", err)
	}
	if _, err := os.Stat(filepath.Join(bad, "x.log")); err != nil {
		t.Errorf("a refused .slugignore removed files: %v", err)
	}
}
