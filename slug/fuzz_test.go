package slug_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/slug"
	"github.com/dynokit/dynokit/slug/slugtest"
)

// FuzzExtract feeds arbitrary bytes to Extract and checks the safety
// property: nothing is created outside the target, a failure leaves
// nothing behind, a success leaves no escaping link, device or setuid
// file, and a success is never a silently swallowed error (the archive
// reads cleanly with the standard library too).
func FuzzExtract(f *testing.F) {
	for _, h := range slugtest.HostileCorpus() {
		if len(h.Data) < 64<<10 {
			f.Add(h.Data)
		}
	}
	E := func(e ...slugtest.Entry) []byte { return slugtest.BuildTar(e...) }
	f.Add(E(slugtest.Entry{Name: "./app/", Type: tar.TypeDir, Mode: 0o755}, slugtest.Entry{Name: "./app/a", Body: "a"}, slugtest.Entry{Name: "./app/l", Type: tar.TypeSymlink, Linkname: "a"}))
	f.Add(E(slugtest.Entry{Name: "./app/d/", Type: tar.TypeDir, Mode: 0o555}, slugtest.Entry{Name: "./app/d/f", Mode: 0o4755, Body: "x"}, slugtest.Entry{Name: "./app/h", Type: tar.TypeLink, Linkname: "./app/d/f"}))
	f.Fuzz(checkExtractSafety)
}

// FuzzExtractTar is FuzzExtract with the gzip layer added after mutation,
// so that the fuzzer explores tar headers, names and links rather than
// mostly producing gzip checksum errors.
func FuzzExtractTar(f *testing.F) {
	for _, h := range slugtest.HostileCorpus() {
		zr, err := gzip.NewReader(bytes.NewReader(h.Data))
		if err != nil {
			continue
		}
		raw, err := io.ReadAll(zr)
		if err == nil && len(raw) < 64<<10 {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(raw)
		zw.Close()
		checkExtractSafety(t, zb.Bytes())
	})
}

func checkExtractSafety(t *testing.T, data []byte) {
	// Both layouts: a slug's ./app, and a source archive's whole tree.
	for _, source := range []bool{false, true} {
		sandbox := t.TempDir()
		marker := filepath.Join(sandbox, "outside")
		if err := os.WriteFile(marker, []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(sandbox, "x", "app")
		writableOnCleanup(t, dst)
		info, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{Limits: slugtest.HostileLimits(), Source: source})

		var extra []string
		filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, werr error) error {
			rel, _ := filepath.Rel(sandbox, p)
			rel = filepath.ToSlash(rel)
			switch {
			case rel == "." || rel == "outside" || rel == "x":
			case err == nil && (rel == "x/app" || strings.HasPrefix(rel, "x/app/")):
			default:
				extra = append(extra, rel)
			}
			return nil
		})
		if len(extra) > 0 {
			t.Fatalf("Extract (err %v) left %q in the sandbox", err, extra)
		}
		if b, _ := os.ReadFile(marker); string(b) != "untouched" {
			t.Fatalf("the file beside the target changed")
		}
		if err != nil {
			var ee *slug.EntryError
			var le *slug.LimitError
			if !errors.As(err, &ee) && !errors.As(err, &le) && !strings.HasPrefix(err.Error(), "slug: ") {
				t.Fatalf("error without context: %v", err)
			}
			continue
		}
		checkExtractedTree(t, dst)
		// A success must agree with an independent reader.
		zr, zerr := gzip.NewReader(bytes.NewReader(data))
		if zerr != nil {
			t.Fatalf("Extract succeeded but compress/gzip says: %v", zerr)
		}
		zr.Multistream(false)
		tr := tar.NewReader(zr)
		n := 0
		for {
			_, terr := tr.Next()
			if terr == io.EOF {
				break
			}
			if terr != nil {
				t.Fatalf("Extract succeeded but archive/tar fails at entry %d: %v", n, terr)
			}
			n++
		}
		if n != info.Entries {
			t.Fatalf("Extract saw %d entries, archive/tar %d", info.Entries, n)
		}
	}
}

// checkExtractedTree asserts that a successful extraction holds only
// regular files, directories and in-tree relative symlinks, and no
// setuid/setgid bits.
func checkExtractedTree(t *testing.T, dst string) {
	t.Helper()
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatalf("walking the result: %v", err)
		}
		rel, _ := filepath.Rel(dst, p)
		rel = filepath.ToSlash(rel)
		fi, _ := d.Info()
		switch typ := fi.Mode().Type(); typ {
		case 0, fs.ModeDir:
		case fs.ModeSymlink:
			target, _ := os.Readlink(p)
			if linkMayEscape(rel, target) {
				t.Fatalf("extracted symlink %s -> %s may leave the tree", rel, target)
			}
		default:
			t.Fatalf("extracted %s has type %v", rel, typ)
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Fatalf("extracted %s keeps setuid/setgid (%v)", rel, fi.Mode())
		}
		return nil
	})
}

// FuzzRoundTrip builds a tree from the fuzzer's bytes, packs it, extracts
// it, and checks that the result is the same tree and that packing is
// deterministic. Symlinks that leave the tree must be refused by Pack.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("\x00\x01hello\x02\x03\x04\x05"))
	f.Add([]byte("\x01\x02\x00\x10\x20\x02\x05\x01\x03\x06"))
	f.Add([]byte{2, 9, 0, 2, 2, 1, 3, 6, 0, 7, 1, 0, 0, 4, 4, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			return
		}
		src := filepath.Join(t.TempDir(), "src")
		os.Mkdir(src, 0o755)
		writableOnCleanup(t, src)
		escapes := buildFuzzTree(src, ops)
		var buf bytes.Buffer
		info, err := slug.Pack(context.Background(), &buf, src, slug.PackOptions{})
		if escapes != "" {
			if !errors.Is(err, slug.ErrEscapingSymlink) {
				t.Fatalf("tree has escaping symlink %s but Pack err = %v", escapes, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Pack: %v", err)
		}
		var again bytes.Buffer
		if _, err := slug.Pack(context.Background(), &again, src, slug.PackOptions{}); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatalf("packing twice gave different bytes (err %v)", err)
		}
		dst := filepath.Join(t.TempDir(), "app")
		writableOnCleanup(t, dst)
		if _, err := slug.Extract(context.Background(), &buf, dst, slug.ExtractOptions{Want: info.Digest}); err != nil {
			t.Fatalf("Extract of our own slug: %v", err)
		}
		if a, b := snapshot(t, src), snapshot(t, dst); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("round trip changed the tree:\nsource    %v\nextracted %v", a, b)
		}
	})
}

// buildFuzzTree interprets ops as a small program creating files,
// directories and symlinks under src. It returns the path of a symlink
// that leaves the tree, if it made one.
func buildFuzzTree(src string, ops []byte) (escaping string) {
	names := []string{"a", "b", "dir", ".hidden", "名前", "x y", strings.Repeat("long", 30)}
	targets := []string{"a", "../a", "../../a", "dir/b", ".", "..", "/etc", "missing", "dir/../a", "./a/"}
	modes := []fs.FileMode{0o644, 0o755, 0o600, 0o444, 0o700, 0o555}
	next := func() int {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return int(b)
	}
	var dirs []string // relative, "" for the top
	dirs = append(dirs, "")
	var readOnly []string
	for len(ops) > 0 {
		op := next() % 4
		parent := dirs[next()%len(dirs)]
		name := names[next()%len(names)]
		rel := path.Join(parent, name)
		full := filepath.Join(src, filepath.FromSlash(rel))
		if _, err := os.Lstat(full); err == nil {
			continue
		}
		switch op {
		case 0, 1:
			body := bytes.Repeat([]byte{byte(next())}, next()*next())
			mode := modes[next()%len(modes)]
			if os.WriteFile(full, body, 0o644) == nil {
				os.Chmod(full, mode)
			}
		case 2:
			if os.Mkdir(full, 0o755) == nil {
				dirs = append(dirs, rel)
				if m := modes[next()%len(modes)]; m&0o200 == 0 || m&0o100 == 0 {
					readOnly = append(readOnly, rel) // chmod at the end
				}
			}
		case 3:
			target := targets[next()%len(targets)]
			if os.Symlink(target, full) == nil && escaping == "" && linkMayEscape(rel, target) {
				escaping = rel
			}
		}
	}
	for i := len(readOnly) - 1; i >= 0; i-- {
		os.Chmod(filepath.Join(src, filepath.FromSlash(readOnly[i])), 0o555)
	}
	return escaping
}

// linkMayEscape is the test's own statement of the symlink rule: a target
// is safe when it is relative, its ".." elements all come first, and there
// are no more of them than directories above the link.
func linkMayEscape(rel, target string) bool {
	if target == "" || path.IsAbs(target) {
		return true
	}
	var elems []string
	for _, e := range strings.Split(target, "/") {
		if e != "" && e != "." {
			elems = append(elems, e)
		}
	}
	lead := 0
	for lead < len(elems) && elems[lead] == ".." {
		lead++
	}
	for _, e := range elems[lead:] {
		if e == ".." {
			return true
		}
	}
	return lead > len(strings.Split(rel, "/"))-1
}
