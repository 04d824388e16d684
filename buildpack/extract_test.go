package buildpack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func makeTar(t testing.TB, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := w.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			w.Write([]byte(e.body))
		}
	}
	w.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

var extractTests = []struct {
	name    string
	entries []tarEntry
	wantErr string            // "" means success
	want    map[string]string // path -> content ("->target" for symlinks)
}{
	{name: "buildpack", entries: []tarEntry{
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/detect", body: "#!/bin/sh\n", mode: 0o755},
		{name: "lib/x", body: "x"},
		{name: "lib/link", link: "x", typ: tar.TypeSymlink},
		{name: "lib/hard", link: "lib/x", typ: tar.TypeLink},
		{name: "./lib/../lib/y", body: "y"},
	}, want: map[string]string{"bin/detect": "#!/bin/sh\n", "lib/x": "x", "lib/link": "->x", "lib/hard": "x", "lib/y": "y"}},
	{name: "dotdot", entries: []tarEntry{{name: "../evil", body: "x"}}, wantErr: "leaves the archive root"},
	{name: "nested dotdot", entries: []tarEntry{{name: "a/../../evil", body: "x"}}, wantErr: "leaves the archive root"},
	{name: "absolute", entries: []tarEntry{{name: "/tmp/evil", body: "x"}}, wantErr: "absolute path"},
	{name: "symlink absolute", entries: []tarEntry{{name: "l", link: "/etc", typ: tar.TypeSymlink}}, wantErr: "is absolute"},
	{name: "symlink escapes", entries: []tarEntry{{name: "a/l", link: "../../x", typ: tar.TypeSymlink}}, wantErr: "leaves the archive root"},
	{name: "symlink through symlinked dir", entries: []tarEntry{
		{name: "d", link: ".", typ: tar.TypeSymlink},
		{name: "d/l", link: "../x", typ: tar.TypeSymlink},
	}, wantErr: "itself a symlink"},
	{name: "hardlink escapes", entries: []tarEntry{{name: "h", link: "../x", typ: tar.TypeLink}}, wantErr: "leaves the archive root"},
	{name: "device", entries: []tarEntry{{name: "dev", typ: tar.TypeChar}}, wantErr: "unsupported type"},
	{name: "duplicate file", entries: []tarEntry{{name: "f", body: "1"}, {name: "f", body: "2"}}, wantErr: "exists"},
	{name: "backslash", entries: []tarEntry{{name: `a\..\..\x`, body: "x"}}, wantErr: "backslash"},
}

func TestExtractTar(t *testing.T) {
	for _, tt := range extractTests {
		for _, gz := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				parent := t.TempDir()
				dst := filepath.Join(parent, "dst")
				os.Mkdir(dst, 0o755)
				err := extractTar(context.Background(), bytes.NewReader(makeTar(t, gz, tt.entries...)), dst, defaultExtractLimits)
				assertOnlyDst(t, parent)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("err = %v, want %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for p, want := range tt.want {
					full := filepath.Join(dst, p)
					if target, ok := strings.CutPrefix(want, "->"); ok {
						got, err := os.Readlink(full)
						if err != nil || got != target {
							t.Errorf("%s: link %q, %v; want %q", p, got, err, target)
						}
						continue
					}
					got, err := os.ReadFile(full)
					if err != nil || string(got) != want {
						t.Errorf("%s = %q, %v; want %q", p, got, err, want)
					}
				}
				if fi, err := os.Stat(filepath.Join(dst, "bin/detect")); err == nil && fi.Mode().Perm()&0o100 == 0 {
					t.Error("executable bit lost")
				}
			})
		}
	}
}

func TestExtractLimits(t *testing.T) {
	dst := t.TempDir()
	data := makeTar(t, true, tarEntry{name: "a", body: strings.Repeat("x", 1000)}, tarEntry{name: "b", body: strings.Repeat("x", 1000)})
	err := extractTar(context.Background(), bytes.NewReader(data), dst, extractLimits{MaxBytes: 1500, MaxEntries: 10})
	if err == nil || !strings.Contains(err.Error(), "more than 1500 bytes") {
		t.Errorf("byte limit: err = %v", err)
	}
	dst = t.TempDir()
	err = extractTar(context.Background(), bytes.NewReader(data), dst, extractLimits{MaxBytes: 1 << 20, MaxEntries: 1})
	if err == nil || !strings.Contains(err.Error(), "more than 1 entries") {
		t.Errorf("entry limit: err = %v", err)
	}
}

// assertOnlyDst fails when anything but dst/ appeared in parent.
func assertOnlyDst(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "dst" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("extraction wrote outside dst: %v", names)
	}
}

func FuzzExtractTar(f *testing.F) {
	for _, tt := range extractTests {
		f.Add(makeTar(f, false, tt.entries...))
		f.Add(makeTar(f, true, tt.entries...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		os.Mkdir(dst, 0o755)
		_ = extractTar(context.Background(), bytes.NewReader(data), dst, extractLimits{MaxBytes: 1 << 20, MaxEntries: 1000})
		assertOnlyDst(t, parent)
		// No symlink inside dst may resolve outside it.
		filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Type()&os.ModeSymlink == 0 {
				return nil
			}
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				t.Fatalf("absolute symlink %s -> %s", p, target)
			}
			resolved := filepath.Join(filepath.Dir(p), target)
			if rel, err := filepath.Rel(dst, resolved); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("symlink %s -> %s leaves dst", p, target)
			}
			return nil
		})
	})
}
