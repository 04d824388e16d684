package buildpacktest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/internal/copytree"
)

// Scripts are the bodies of a buildpack's bin/ scripts; an empty field
// leaves that script out. Bodies are written as is, so start them with a
// #! line.
type Scripts struct {
	Detect, Compile, Release string
}

// Write creates a buildpack named name from s in a fresh temporary
// directory (removed when the test ends).
func Write(t testing.TB, name string, s Scripts) buildpack.Buildpack {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, body := range map[string]string{"detect": s.Detect, "compile": s.Compile, "release": s.Release} {
		if body == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", file), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return buildpack.Buildpack{Name: name, Dir: dir}
}

// Copy copies the buildpack directory src (for example one kept under
// testdata/) into a temporary directory and makes its bin/* executable,
// so tests do not depend on the file modes a checkout preserved. The
// buildpack is named after src's base name.
func Copy(t testing.TB, src string) buildpack.Buildpack {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	bins, _ := filepath.Glob(filepath.Join(dst, "bin", "*"))
	for _, b := range bins {
		if err := os.Chmod(b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return buildpack.Buildpack{Name: filepath.Base(src), Dir: dst}
}

// CopyTree copies the directory src to dst (created), following no links.
// Files and directories keep their permission bits (directories gain owner
// rwx); sockets, fifos and devices are left out.
func CopyTree(src, dst string) error {
	return copytree.Copy(context.Background(), src, dst)
}
