package slug_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/slug"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// richTree exercises everything Pack keeps: modes, executables, empty
// files and directories, in-tree symlinks, long and non-ASCII names, and
// files on both sides of the prefetch and copy-buffer sizes.
func richTree(t testing.TB, dir string) {
	t.Helper()
	long := strings.Repeat("long-directory-name/", 8) + "file-with-a-name-longer-than-one-hundred-bytes.txt"
	makeTree(t, dir, treeSpec{
		"Procfile":            "web: bin/server\n",
		"bin/server":          "#!/bin/sh\necho hi\n",
		"bin/readonly":        "ro",
		"empty":               "",
		"emptydir":            "dir:",
		"private":             "dir:",
		"private/secret":      "s",
		"tmp":                 "dir:",
		"vendor/lib/a.rb":     "puts 1",
		"vendor/lib/current":  "link:a.rb",
		"vendor/up":           "link:../bin",
		"vendor/dangling":     "link:missing-but-inside",
		"dot/.hidden":         "h",
		"ünïcødé/名前.txt":      "utf-8",
		long:                  "long",
		"big/just-below":      strings.Repeat("b", 256<<10-1),
		"big/just-above":      strings.Repeat("c", 256<<10+1),
		"big/over-a-megabyte": strings.Repeat("0123456789abcdef", 70<<10),
	}, map[string]fs.FileMode{
		"bin/server":   0o755,
		"bin/readonly": 0o444,
		"private":      0o700,
		"tmp":          0o1777,
		"emptydir":     0o555,
	})
}

func packBytes(t testing.TB, dir string, opts slug.PackOptions) ([]byte, slug.PackInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := slug.Pack(context.Background(), &buf, dir, opts)
	if err != nil {
		t.Fatalf("Pack(%s): %v", dir, err)
	}
	return buf.Bytes(), info
}

func TestPackExtractRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	richTree(t, src)
	data, pinfo := packBytes(t, src, slug.PackOptions{})
	if pinfo.Digest != slug.DigestOf(data) || pinfo.Size != int64(len(data)) {
		t.Fatalf("PackInfo = %+v, but the bytes written have digest %s and size %d", pinfo, slug.DigestOf(data), len(data))
	}
	dst := filepath.Join(t.TempDir(), "app")
	einfo, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{Want: pinfo.Digest})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if einfo.Digest != pinfo.Digest || einfo.Entries != pinfo.Entries || einfo.UncompressedSize != pinfo.UncompressedSize {
		t.Errorf("ExtractInfo = %+v, PackInfo = %+v", einfo, pinfo)
	}
	assertSameTree(t, src, dst)
	fi, err := os.Stat(filepath.Join(dst, "big", "over-a-megabyte"))
	if err != nil || !fi.ModTime().Equal(slug.DefaultModTime()) {
		t.Errorf("extracted mtime = %v (err %v), want %v", fi.ModTime(), err, slug.DefaultModTime())
	}
}

func assertSameTree(t *testing.T, a, b string) {
	t.Helper()
	sa, sb := snapshot(t, a), snapshot(t, b)
	for k, v := range sa {
		if sb[k] != v {
			w := sb[k]
			if len(w) > 80 {
				w = w[:80] + "..."
			}
			if len(v) > 80 {
				v = v[:80] + "..."
			}
			t.Errorf("%s: source %s, extracted %s", k, v, w)
		}
	}
	for k := range sb {
		if _, ok := sa[k]; !ok {
			t.Errorf("%s: extracted but not in the source", k)
		}
	}
}

func TestPackDeterministic(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	richTree(t, a)
	first, info := packBytes(t, a, slug.PackOptions{})

	// Same tree built again elsewhere, later: different mtimes and inodes.
	b := filepath.Join(t.TempDir(), "b")
	richTree(t, b)
	os.Chtimes(filepath.Join(b, "Procfile"), slug.DefaultModTime().AddDate(30, 0, 0), slug.DefaultModTime().AddDate(30, 0, 0))
	second, _ := packBytes(t, b, slug.PackOptions{})
	if !bytes.Equal(first, second) {
		t.Fatalf("the same tree packed to different bytes (%d vs %d)", len(first), len(second))
	}

	// The output must not depend on the number of cores.
	old := runtime.GOMAXPROCS(1)
	third, _ := packBytes(t, a, slug.PackOptions{})
	runtime.GOMAXPROCS(old)
	if !bytes.Equal(first, third) {
		t.Fatalf("packing with GOMAXPROCS=1 gave different bytes")
	}

	// A changed byte changes the digest.
	os.WriteFile(filepath.Join(b, "Procfile"), []byte("web: bin/server  \n"), 0o644)
	_, changed := packBytes(t, b, slug.PackOptions{})
	if changed.Digest == info.Digest {
		t.Fatalf("different trees packed to the same digest")
	}
}

// TestPackFormat checks the archive as a stranger would read it.
func TestPackFormat(t *testing.T) {
	src := t.TempDir()
	richTree(t, src)
	data, info := packBytes(t, src, slug.PackOptions{})
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
		t.Errorf("gzip header carries name %q, mtime %v, comment %q; want none", zr.Name, zr.ModTime, zr.Comment)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !strings.HasPrefix(h.Name, "./app/") {
			t.Errorf("entry %q does not start with ./app/", h.Name)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(slug.DefaultModTime()) {
			t.Errorf("entry %q: uid %d gid %d uname %q gname %q mtime %v; want fixed values", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if h.Mode&0o6000 != 0 {
			t.Errorf("entry %q keeps setuid/setgid bits (mode %o)", h.Name, h.Mode)
		}
	}
	if len(names) == 0 || names[0] != "./app/" {
		t.Fatalf("first entry = %q, want ./app/", names)
	}
	if len(names) != info.Entries {
		t.Errorf("archive has %d entries, PackInfo says %d", len(names), info.Entries)
	}
	for i := 1; i < len(names); i++ {
		// Depth-first with sorted siblings: a directory's entries follow it.
		if names[i] == names[i-1] {
			t.Errorf("duplicate entry %q", names[i])
		}
	}
}

// TestPackGolden pins the exact bytes (via their digest) and the entry
// list of a small tree, so that an accidental format change, which would
// defeat deduplication across versions, is noticed.
func TestPackGolden(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, treeSpec{
		"Procfile":     "web: ./server\n",
		"server":       "#!/bin/sh\nexec sleep 1\n",
		"lib/x.txt":    "x\n",
		"lib/link":     "link:x.txt",
		"docs/a.pdf":   "ignored",
		".slugignore":  "*.pdf\n",
		"config/empty": "dir:",
	}, map[string]fs.FileMode{"server": 0o755, ".": 0o755})
	data, info := packBytes(t, src, slug.PackOptions{})
	var got strings.Builder
	fmt.Fprintf(&got, "digest %s\nsize %d\nignored %d\n", info.Digest, info.Size, info.Ignored)
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "%c %04o %6d %s", h.Typeflag, h.Mode, h.Size, h.Name)
		if h.Linkname != "" {
			fmt.Fprintf(&got, " -> %s", h.Linkname)
		}
		got.WriteString("\n")
	}
	testutil.Golden(t, filepath.Join("testdata", "pack.golden"), []byte(got.String()), *update)
}

func TestPackSlugignore(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, treeSpec{
		".slugignore":        "# comment\n*.psd\n/test\nspec/\nlog/**\n",
		"app.rb":             "ok",
		"art/logo.psd":       "big",
		"test/a_test.rb":     "gone",
		"lib/test/kept.rb":   "kept: /test is anchored",
		"spec":               "dir:",
		"spec/x_spec.rb":     "gone",
		"lib/spec/y_spec.rb": "gone: spec/ matches at any depth",
		"log/a.log":          "gone",
		"log/sub/b.log":      "gone",
	}, nil)
	data, info := packBytes(t, src, slug.PackOptions{})
	dst := filepath.Join(t.TempDir(), "app")
	if _, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dst)
	for _, gone := range []string{"art/logo.psd", "test", "spec", "lib/spec", "log/a.log", "log/sub"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s was packed despite .slugignore", gone)
		}
	}
	for _, kept := range []string{"app.rb", "lib/test/kept.rb", "log", ".slugignore", "art"} {
		if _, ok := got[kept]; !ok {
			t.Errorf("%s is missing from the slug", kept)
		}
	}
	if info.Ignored != 6 {
		t.Errorf("Ignored = %d, want 6 (logo.psd, test, spec, lib/spec, log/a.log, log/sub)", info.Ignored)
	}

	// An explicit Ignore overrides the file.
	ign, _ := slug.ParseIgnore([]byte("*.rb\n"))
	_, info = packBytes(t, src, slug.PackOptions{Ignore: ign})
	if info.Ignored != 5 {
		t.Errorf("with PackOptions.Ignore, Ignored = %d, want 5 .rb files", info.Ignored)
	}

	os.WriteFile(filepath.Join(src, ".slugignore"), []byte("ok\n!keep\n"), 0o644)
	_, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{})
	var ie *slug.IgnoreError
	if !errors.As(err, &ie) || ie.Line != 2 {
		t.Fatalf("Pack with a negated pattern: err = %v, want an IgnoreError on line 2", err)
	}
}

func TestPackEscapingSymlinks(t *testing.T) {
	for _, target := range []string{"/etc/passwd", "../../outside", "../a/../x", "../.."} {
		t.Run(target, func(t *testing.T) {
			src := t.TempDir()
			makeTree(t, src, treeSpec{"a/file": "x", "ok": "link:a/file"}, nil)
			os.Symlink(target, filepath.Join(src, "a", "bad"))
			_, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{})
			var pe *slug.PathError
			if !errors.As(err, &pe) || !errors.Is(err, slug.ErrEscapingSymlink) || pe.Path != "a/bad" {
				t.Fatalf("Pack with a/bad -> %s: err = %v, want a PathError for a/bad matching ErrEscapingSymlink", target, err)
			}
			if !strings.Contains(err.Error(), target) {
				t.Errorf("error %q does not name the target", err)
			}
			data, info := packBytes(t, src, slug.PackOptions{SkipEscapingSymlinks: true})
			if len(info.SkippedSymlinks) != 1 || info.SkippedSymlinks[0] != "a/bad" {
				t.Errorf("SkippedSymlinks = %q, want [a/bad]", info.SkippedSymlinks)
			}
			dst := filepath.Join(t.TempDir(), "x")
			if _, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, dst); got["ok"] != "link a/file" || got["a/bad"] != "" {
				t.Errorf("extracted %v", got)
			}
		})
	}
}

func TestPackSymlinkRules(t *testing.T) {
	tests := []struct {
		link, target string
		want         string // stored target, or "" when refused
	}{
		{"a/b/l", "../../f", "../../f"},
		{"a/b/l", "../../../f", ""},
		{"a/l", "b/../../f", ""}, // ".." after a name
		{"a/l", "./b//c", "./b//c"},
		{"a/b/l", "/app/f", "../../f"},
		{"l", "/app/a/b", "a/b"},
		{"a/l", "/app", ".."},
		{"l", "/app/", "."},
		{"a/l", "/app/../etc/passwd", ""},
		{"a/l", "/application", ""},
	}
	for _, tt := range tests {
		t.Run(tt.link+"->"+tt.target, func(t *testing.T) {
			src := t.TempDir()
			makeTree(t, src, treeSpec{"f": "x", "a/b/c": "y", tt.link: "link:" + tt.target}, nil)
			data, err := packErr(src, slug.PackOptions{})
			if tt.want == "" {
				if !errors.Is(err, slug.ErrEscapingSymlink) {
					t.Fatalf("err = %v, want ErrEscapingSymlink", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "app")
			if _, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{}); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got, _ := os.Readlink(filepath.Join(dst, tt.link)); got != tt.want {
				t.Errorf("stored target %q, want %q", got, tt.want)
			}
		})
	}
	src := t.TempDir()
	makeTree(t, src, treeSpec{"l": "link:/app/f"}, nil)
	if _, err := packErr(src, slug.PackOptions{KeepAbsoluteSymlinks: true}); !errors.Is(err, slug.ErrEscapingSymlink) {
		t.Errorf("with KeepAbsoluteSymlinks, err = %v, want ErrEscapingSymlink", err)
	}
}

func packErr(dir string, opts slug.PackOptions) ([]byte, error) {
	var buf bytes.Buffer
	_, err := slug.Pack(context.Background(), &buf, dir, opts)
	return buf.Bytes(), err
}

func TestPackRefusesSpecialFiles(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, treeSpec{"a": "x"}, nil)
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{})
	var pe *slug.PathError
	if !errors.As(err, &pe) || pe.Path != "pipe" || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("Pack with a FIFO: err = %v, want a PathError naming pipe as a FIFO", err)
	}
}

func TestPackLimits(t *testing.T) {
	src := t.TempDir()
	spec := treeSpec{}
	for i := range 20 {
		// Incompressible-ish content so the compressed size is predictable.
		spec[fmt.Sprintf("f%02d", i)] = strings.Repeat(fmt.Sprintf("%x", i*7919), 3000)
	}
	makeTree(t, src, spec, nil)
	_, full := packBytes(t, src, slug.PackOptions{})
	tests := []struct {
		name  string
		lim   slug.Limits
		field string
	}{
		{"compressed", slug.Limits{MaxCompressedSize: full.Size - 1}, "MaxCompressedSize"},
		{"uncompressed", slug.Limits{MaxUncompressedSize: 50_000}, "MaxUncompressedSize"},
		{"entries", slug.Limits{MaxEntries: 20}, "MaxEntries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{Limits: tt.lim})
			var le *slug.LimitError
			if !errors.As(err, &le) || le.Field != tt.field || !errors.Is(err, slug.ErrTooLarge) {
				t.Fatalf("err = %v, want a LimitError for %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), "Limits."+tt.field) {
				t.Errorf("error %q does not name the limit", err)
			}
		})
	}
	// Exactly at the limits succeeds; negative means unlimited.
	if _, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{Limits: slug.Limits{MaxCompressedSize: full.Size, MaxUncompressedSize: full.UncompressedSize, MaxEntries: full.Entries}}); err != nil {
		t.Errorf("Pack exactly at the limits: %v", err)
	}
	if _, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{Limits: slug.Limits{MaxCompressedSize: -1, MaxUncompressedSize: -1, MaxEntries: -1}}); err != nil {
		t.Errorf("Pack without limits: %v", err)
	}
	// The soft limit only warns.
	_, info := packBytes(t, src, slug.PackOptions{SoftCompressedSize: 1000})
	if !strings.HasPrefix(info.Warning, "Warning: Your slug size (") || !strings.Contains(info.Warning, "exceeds our soft limit (1000 B)") {
		t.Errorf("Warning = %q", info.Warning)
	}
	if full.Warning != "" {
		t.Errorf("small slug got warning %q", full.Warning)
	}
}

func TestPackProgress(t *testing.T) {
	src := t.TempDir()
	richTree(t, src)
	var calls []slug.Progress
	_, info := packBytes(t, src, slug.PackOptions{Progress: func(p slug.Progress) { calls = append(calls, p) }})
	if len(calls) < 2 {
		t.Fatalf("Progress called %d times, want several for a multi-megabyte tree", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Bytes < calls[i-1].Bytes || calls[i].Entries < calls[i-1].Entries {
			t.Errorf("progress went backwards: %+v then %+v", calls[i-1], calls[i])
		}
	}
	last := calls[len(calls)-1]
	if last.Entries != info.Entries || last.Entries != last.TotalEntries || last.Bytes != last.TotalBytes {
		t.Errorf("final progress %+v, want complete (entries %d)", last, info.Entries)
	}
}

func TestPackErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := t.TempDir()
	richTree(t, src)
	if _, err := slug.Pack(ctx, io.Discard, src, slug.PackOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Pack: err = %v", err)
	}
	if _, err := slug.Pack(context.Background(), io.Discard, filepath.Join(src, "missing"), slug.PackOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Pack of a missing dir: err = %v", err)
	}
	if _, err := slug.Pack(context.Background(), io.Discard, filepath.Join(src, "Procfile"), slug.PackOptions{}); err == nil {
		t.Errorf("Pack of a file succeeded")
	}
	if _, err := slug.Pack(context.Background(), failWriter{}, src, slug.PackOptions{}); err == nil || !strings.Contains(err.Error(), "sink broke") {
		t.Errorf("Pack to a failing writer: err = %v", err)
	}
	if _, err := slug.Pack(context.Background(), io.Discard, src, slug.PackOptions{Level: 42}); err == nil {
		t.Errorf("Pack with gzip level 42 succeeded")
	}
}

// TestPackStopsEarlyWithoutLeaks fails the writer while many entries are
// still queued for prefetching: Pack must return, and its goroutines end.
func TestPackStopsEarlyWithoutLeaks(t *testing.T) {
	src := t.TempDir()
	// One large file first fills pgzip's first block, so the failure or
	// cancellation is seen while hundreds of entries are still queued.
	spec := treeSpec{"a-big": strings.Repeat("big file ", 150_000)}
	for i := range 400 {
		spec[fmt.Sprintf("d%d/f%03d", i%4, i)] = "small"
	}
	makeTree(t, src, spec, nil)
	before := runtime.NumGoroutine()
	for _, w := range []io.Writer{failWriter{}, &failAfter{n: 2000}} {
		if _, err := slug.Pack(context.Background(), w, src, slug.PackOptions{}); err == nil {
			t.Fatalf("Pack to a failing writer succeeded")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := slug.Pack(ctx, io.Discard, src, slug.PackOptions{Progress: func(slug.Progress) {
		if n++; n == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pack cancelled from Progress: err = %v", err)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Errorf("goroutines: %d before Pack, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("sink broke late")
	}
	return len(p), nil
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("sink broke") }

// TestGNUTarCompatibility checks both directions against GNU tar: our slug
// unpacks with tar -xzf to the same tree, and a slug made with
// "tar czf slug.tgz ./app" (Heroku's documented recipe, hard links
// included) extracts with Extract to the same tree.
func TestGNUTarCompatibility(t *testing.T) {
	tarBin := requireTool(t, "tar")
	src := filepath.Join(t.TempDir(), "app")
	richTree(t, src)

	data, _ := packBytes(t, src, slug.PackOptions{})
	out := t.TempDir()
	cmd := exec.Command(tarBin, "-xzf", "-", "-C", out)
	cmd.Stdin = bytes.NewReader(data)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, b)
	}
	assertSameTree(t, src, filepath.Join(out, "app"))

	if err := os.Link(filepath.Join(src, "Procfile"), filepath.Join(src, "Procfile.hardlink")); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(tarBin, "-czf", "-", "./app")
	cmd.Dir = filepath.Dir(src)
	theirs, err := cmd.Output()
	if err != nil {
		t.Fatalf("tar -czf: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "app")
	if _, err := slug.Extract(context.Background(), bytes.NewReader(theirs), dst, slug.ExtractOptions{Want: slug.DigestOf(theirs)}); err != nil {
		t.Fatalf("Extract of GNU tar's slug: %v", err)
	}
	assertSameTree(t, src, dst)
	a, _ := os.Stat(filepath.Join(dst, "Procfile"))
	b, _ := os.Stat(filepath.Join(dst, "Procfile.hardlink"))
	if !os.SameFile(a, b) {
		t.Errorf("hard link extracted as a copy")
	}
}
