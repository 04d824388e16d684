package buildpacktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/buildpack/buildpacktest"
)

func TestWriteAndCopy(t *testing.T) {
	bp := buildpacktest.Write(t, "x", buildpacktest.Scripts{Detect: "#!/bin/sh\necho X\n"})
	if _, err := os.Stat(filepath.Join(bp.Dir, "bin", "compile")); err == nil {
		t.Error("empty Compile wrote bin/compile")
	}
	os.Chmod(filepath.Join(bp.Dir, "bin", "detect"), 0o644)
	os.Symlink("detect", filepath.Join(bp.Dir, "bin", "alias"))
	cp := buildpacktest.Copy(t, bp.Dir)
	fi, err := os.Stat(filepath.Join(cp.Dir, "bin", "detect"))
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("Copy did not make bin/detect executable: %v %v", fi, err)
	}
	if link, err := os.Readlink(filepath.Join(cp.Dir, "bin", "alias")); err != nil || link != "detect" {
		t.Errorf("symlink not copied as a link: %q %v", link, err)
	}
	if cp.Name != "x" {
		t.Errorf("Name = %q", cp.Name)
	}
}
