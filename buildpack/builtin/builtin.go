package builtin

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dynokit/dynokit/buildpack"
)

// files holds the buildpacks' scripts (and the static site's server
// source). embed drops file modes; Write restores them.
//
//go:embed all:go all:nodejs all:static all:procfile
var files embed.FS

// Names of the builtin buildpacks in detection order: a Go module or a
// Node.js app is built as such even when it has an index.html; the
// Procfile buildpack is the catch-all.
var names = []string{"go", "nodejs", "static", "procfile"}

// Names returns the builtin buildpack names in detection order.
func Names() []string { return append([]string(nil), names...) }

// Label is the buildpack name used in build output and errors.
func Label(name string) string { return "dynokit/" + name }

// Write writes the builtin buildpack name into dir/<name> (replacing what
// was there) and returns it as a buildpack.Buildpack.
func Write(dir, name string) (buildpack.Buildpack, error) {
	found := false
	for _, n := range names {
		found = found || n == name
	}
	if !found {
		return buildpack.Buildpack{}, fmt.Errorf("builtin: no builtin buildpack %q (have %s)", name, strings.Join(names, ", "))
	}
	dst := filepath.Join(dir, name)
	if err := os.RemoveAll(dst); err != nil {
		return buildpack.Buildpack{}, fmt.Errorf("builtin: %w", err)
	}
	err := fs.WalkDir(files, name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if path.Base(path.Dir(p)) == "bin" {
			mode = 0o755
		}
		return os.WriteFile(target, data, mode)
	})
	if err != nil {
		return buildpack.Buildpack{}, fmt.Errorf("builtin: write %s: %w", name, err)
	}
	return buildpack.Buildpack{Name: Label(name), Dir: dst}, nil
}

// WriteAll writes every builtin buildpack under dir and returns them in
// detection order, ready for buildpack.BuildInput.Detect.
func WriteAll(dir string) ([]buildpack.Buildpack, error) {
	var out []buildpack.Buildpack
	for _, n := range names {
		bp, err := Write(dir, n)
		if err != nil {
			return nil, err
		}
		out = append(out, bp)
	}
	return out, nil
}
