package slug

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RemoveIgnored applies dir's .slugignore as Heroku does, before the
// build: it deletes every file and directory the patterns match (a
// symlink itself, never its target) and returns how many it deleted. A
// directory without .slugignore is left as it is. dir should be the
// build's private copy of the source.
//
// After RemoveIgnored, pack the built tree with PackOptions.Ignore set to
// &Ignore{}: the buildpacks never saw the ignored files, and what they
// made stays in the slug even where a pattern would match it (Pack's
// default, applying .slugignore at pack time, would leave it out).
func RemoveIgnored(ctx context.Context, dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, IgnoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("slug: reading %s: %w", IgnoreFile, err)
	}
	ign, err := ParseIgnore(data)
	if err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("slug: %s: %w", IgnoreFile, err)
	}
	defer root.Close()
	removed := 0
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !ign.Match(name, d.IsDir()) {
			return nil
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		removed++
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("slug: removing the files %s lists: %w", IgnoreFile, err)
	}
	return removed, nil
}
