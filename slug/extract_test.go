package slug_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/slug"
	"github.com/dynokit/dynokit/slug/slugtest"
)

// TestHostileCorpus extracts every hostile slug (kept in testdata/hostile
// so other tools can be pointed at them; -update rewrites them) and checks
// that each fails with the right error and leaves nothing behind, inside
// or outside the target.
func TestHostileCorpus(t *testing.T) {
	for _, h := range slugtest.HostileCorpus() {
		t.Run(h.Name, func(t *testing.T) {
			file := filepath.Join("testdata", "hostile", h.Name+".tgz")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, h.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			onDisk, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create the corpus)", err)
			}
			if !bytes.Equal(onDisk, h.Data) {
				t.Fatalf("%s differs from the generated corpus (run with -update)", file)
			}
			// A source archive (ExtractOptions.Source) gets the same checks,
			// except where the hostility is only against the slug layout.
			for _, source := range []bool{false, true} {
				if source && slugLayoutOnly[h.Name] {
					continue
				}
				sandbox := t.TempDir()
				dst := filepath.Join(sandbox, "dynos", "app")
				_, err = slug.Extract(context.Background(), bytes.NewReader(h.Data), dst, slug.ExtractOptions{Limits: slugtest.HostileLimits(), Source: source})
				if err == nil {
					t.Fatalf("Extract (Source %v) of %s (%s) succeeded", source, h.Name, h.Why)
				}
				if h.Want != nil && !errors.Is(err, h.Want) {
					t.Fatalf("Extract (Source %v) of %s: err = %v, want %v", source, h.Name, err, h.Want)
				}
				t.Logf("%s (Source %v): %v", h.Name, source, err)
				assertOnlyDir(t, sandbox, "dynos")
			}
		})
	}
}

// slugLayoutOnly names the hostile slugs that are hostile only because a
// slug is extracted from its ./app: in a source archive, "./other" and a
// file "./app" are ordinary entries.
var slugLayoutOnly = map[string]bool{"hardlink-outside-app": true, "app-is-file": true}

// assertOnlyDir checks that sandbox holds just the empty directory name.
func assertOnlyDir(t *testing.T, sandbox, name string) {
	t.Helper()
	var found []string
	filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if p != sandbox {
			rel, _ := filepath.Rel(sandbox, p)
			found = append(found, rel)
		}
		return nil
	})
	if len(found) != 1 || found[0] != name {
		t.Errorf("sandbox holds %q after a failed extract, want only the empty %q", found, name)
	}
}

func extractBytes(t *testing.T, data []byte, opts slug.ExtractOptions) (string, slug.ExtractInfo, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "app")
	writableOnCleanup(t, dst)
	info, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, opts)
	return dst, info, err
}

func TestExtractAccepts(t *testing.T) {
	dir := slugtest.Entry{Name: "./app/", Type: tar.TypeDir, Mode: 0o755}
	tests := []struct {
		name    string
		entries []slugtest.Entry
		want    map[string]string // subset of snapshot
		absent  []string
		check   func(t *testing.T, info slug.ExtractInfo)
	}{
		{
			name:    "setuid and setgid are cleared",
			entries: []slugtest.Entry{dir, {Name: "./app/su", Mode: 0o4755, Body: "x"}, {Name: "./app/sg/", Type: tar.TypeDir, Mode: 0o2775}},
			want:    map[string]string{"su": `file -rwxr-xr-x "x"`, "sg": "dir -rwxrwxr-x"},
			check: func(t *testing.T, info slug.ExtractInfo) {
				if info.StrippedSetID != 2 {
					t.Errorf("StrippedSetID = %d, want 2", info.StrippedSetID)
				}
			},
		},
		{
			name:    "entries outside ./app are skipped",
			entries: []slugtest.Entry{{Name: "./", Type: tar.TypeDir, Mode: 0o755}, {Name: "./README", Body: "r"}, dir, {Name: "./app/a", Body: "a"}, {Name: "./other/b", Body: "b"}},
			want:    map[string]string{"a": `file -rw-r--r-- "a"`},
			absent:  []string{"README", "other", "b"},
			check: func(t *testing.T, info slug.ExtractInfo) {
				if info.Skipped != 3 || info.Entries != 5 {
					t.Errorf("Skipped = %d, Entries = %d; want 3, 5", info.Skipped, info.Entries)
				}
			},
		},
		{
			name:    "names without ./ and with redundant slashes",
			entries: []slugtest.Entry{{Name: "app/x//y/./z", Body: "z"}},
			want:    map[string]string{"x/y/z": `file -rw-r--r-- "z"`, "x": "dir -rwxr-xr-x", ".": "dir -rwxr-xr-x"},
		},
		{
			name:    "later duplicate wins",
			entries: []slugtest.Entry{dir, {Name: "./app/f", Body: "old"}, {Name: "./app/f", Body: "new"}, {Name: "./app/l", Type: tar.TypeSymlink, Linkname: "f"}, {Name: "./app/l", Body: "file now"}},
			want:    map[string]string{"f": `file -rw-r--r-- "new"`, "l": `file -rw-r--r-- "file now"`},
		},
		{
			name:    "read-only directory with contents",
			entries: []slugtest.Entry{dir, {Name: "./app/ro/", Type: tar.TypeDir, Mode: 0o555}, {Name: "./app/ro/f", Mode: 0o400, Body: "f"}},
			want:    map[string]string{"ro": "dir -r-xr-xr-x", "ro/f": `file -r-------- "f"`},
		},
		{
			name:    "in-tree symlinks, dangling included",
			entries: []slugtest.Entry{dir, {Name: "./app/d/", Type: tar.TypeDir, Mode: 0o755}, {Name: "./app/d/up", Type: tar.TypeSymlink, Linkname: "../d"}, {Name: "./app/d/nowhere", Type: tar.TypeSymlink, Linkname: "../missing"}},
			want:    map[string]string{"d/up": "link ../d", "d/nowhere": "link ../missing"},
		},
		{
			name:    "hard link to an earlier file",
			entries: []slugtest.Entry{dir, {Name: "./app/f", Body: "shared"}, {Name: "./app/sub/h", Type: tar.TypeLink, Linkname: "./app/f"}},
			want:    map[string]string{"sub/h": `file -rw-r--r-- "shared"`},
		},
		{
			name:    "root mode from the ./app entry",
			entries: []slugtest.Entry{{Name: "./app/", Type: tar.TypeDir, Mode: 0o750}, {Name: "./app/f", Body: "x"}},
			want:    map[string]string{".": "dir -rwxr-x---"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := slugtest.BuildTar(tt.entries...)
			dst, info, err := extractBytes(t, data, slug.ExtractOptions{})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			got := snapshot(t, dst)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s extracted, want absent", k)
				}
			}
			if tt.check != nil {
				tt.check(t, info)
			}
		})
	}
}

func TestExtractVerifiesDigest(t *testing.T) {
	src := t.TempDir()
	richTree(t, src)
	data, pinfo := packBytes(t, src, slug.PackOptions{})

	t.Run("wrong digest", func(t *testing.T) {
		other := slug.DigestOf([]byte("something else"))
		sandbox := t.TempDir()
		_, err := slug.Extract(context.Background(), bytes.NewReader(data), filepath.Join(sandbox, "d", "app"), slug.ExtractOptions{Want: other})
		var me *slug.DigestMismatchError
		if !errors.As(err, &me) || me.Want != other || me.Got != pinfo.Digest || me.Cause != nil {
			t.Fatalf("err = %#v, want a mismatch Want=%s Got=%s", err, other, pinfo.Digest)
		}
		want := "Checksum does not match expected value. Expected: " + string(other) + " Actual: " + string(pinfo.Digest)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks R17's %q", err, want)
		}
		assertOnlyDir(t, sandbox, "d")
	})

	t.Run("corrupted bytes", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0x55
		sandbox := t.TempDir()
		_, err := slug.Extract(context.Background(), bytes.NewReader(bad), filepath.Join(sandbox, "d", "app"), slug.ExtractOptions{Want: pinfo.Digest})
		var me *slug.DigestMismatchError
		if !errors.As(err, &me) || me.Got != slug.DigestOf(bad) {
			t.Fatalf("err = %v, want a mismatch reporting the corrupted bytes' digest", err)
		}
		assertOnlyDir(t, sandbox, "d")
	})

	t.Run("trailing bytes count", func(t *testing.T) {
		padded := append(bytes.Clone(data), make([]byte, 1000)...)
		if _, _, err := extractBytes(t, padded, slug.ExtractOptions{Want: pinfo.Digest}); !errors.Is(err, slug.ErrDigestMismatch) {
			t.Errorf("with trailing zeros and the original digest: err = %v, want a mismatch", err)
		}
		_, info, err := extractBytes(t, padded, slug.ExtractOptions{Want: slug.DigestOf(padded)})
		if err != nil || info.Size != int64(len(padded)) {
			t.Errorf("with the padded digest: info %+v, err %v", info, err)
		}
	})

	t.Run("invalid want", func(t *testing.T) {
		if _, _, err := extractBytes(t, data, slug.ExtractOptions{Want: "md5:1234"}); err == nil || !strings.Contains(err.Error(), "invalid digest") {
			t.Errorf("err = %v, want an invalid-digest error", err)
		}
	})
}

func TestExtractTarget(t *testing.T) {
	data := slugtest.BuildTar(slugtest.Entry{Name: "./app/f", Body: "x"})
	dst := filepath.Join(t.TempDir(), "app")
	os.Mkdir(dst, 0o755)
	if _, err := slug.Extract(context.Background(), bytes.NewReader(data), dst, slug.ExtractOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Extract into an existing dir: err = %v, want ErrExist", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sandbox := t.TempDir()
	if _, err := slug.Extract(ctx, bytes.NewReader(data), filepath.Join(sandbox, "app"), slug.ExtractOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Extract: err = %v", err)
	}
	if ents, _ := os.ReadDir(sandbox); len(ents) != 0 {
		t.Errorf("cancelled Extract left %d entries", len(ents))
	}
}

func TestExtractLimitsNameTheLimit(t *testing.T) {
	src := t.TempDir()
	richTree(t, src)
	data, info := packBytes(t, src, slug.PackOptions{})
	tests := []struct {
		lim   slug.Limits
		field string
	}{
		{slug.Limits{MaxCompressedSize: info.Size - 1}, "MaxCompressedSize"},
		{slug.Limits{MaxUncompressedSize: info.UncompressedSize - 1}, "MaxUncompressedSize"},
		{slug.Limits{MaxEntries: info.Entries - 1}, "MaxEntries"},
	}
	for _, tt := range tests {
		_, _, err := extractBytes(t, data, slug.ExtractOptions{Limits: tt.lim, Want: info.Digest})
		var le *slug.LimitError
		if !errors.As(err, &le) || le.Field != tt.field {
			t.Errorf("limit %s: err = %v", tt.field, err)
		}
	}
	_, _, err := extractBytes(t, data, slug.ExtractOptions{Limits: slug.Limits{MaxCompressedSize: info.Size, MaxUncompressedSize: info.UncompressedSize, MaxEntries: info.Entries}, Want: info.Digest})
	if err != nil {
		t.Errorf("exactly at the limits: %v", err)
	}
}

func TestExtractSource(t *testing.T) {
	data := slugtest.BuildTar(
		slugtest.Entry{Name: "pax_global_header", Type: tar.TypeXGlobalHeader, PAX: map[string]string{"comment": "0123456789abcdef0123456789abcdef01234567"}},
		slugtest.Entry{Name: "demo-main/", Type: tar.TypeDir, Mode: 0o755},
		slugtest.Entry{Name: "demo-main/Procfile", Body: "web: ./web\n"},
		slugtest.Entry{Name: "demo-main/bin/run", Mode: 0o755, Body: "#!/bin/sh\n"},
		slugtest.Entry{Name: "demo-main/run", Type: tar.TypeSymlink, Linkname: "bin/run"},
		slugtest.Entry{Name: "demo-main/copy", Type: tar.TypeLink, Linkname: "demo-main/Procfile"},
		slugtest.Entry{Name: "README", Body: "top"},
	)
	dst, info, err := extractBytes(t, data, slug.ExtractOptions{Source: true})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := snapshot(t, dst)
	want := map[string]string{
		"demo-main/Procfile": `file -rw-r--r-- "web: ./web\n"`,
		"demo-main/bin/run":  `file -rwxr-xr-x "#!/bin/sh\n"`,
		"demo-main/run":      "link bin/run",
		"demo-main/copy":     `file -rw-r--r-- "web: ./web\n"`,
		"README":             `file -rw-r--r-- "top"`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["pax_global_header"]; ok {
		t.Error("the pax global header was extracted as a file")
	}
	if info.Skipped != 1 || info.Entries != 7 {
		t.Errorf("Skipped = %d, Entries = %d; want 1, 7", info.Skipped, info.Entries)
	}

	// The same archive as a slug has no ./app: nothing but the root.
	dst, _, err = extractBytes(t, data, slug.ExtractOptions{})
	if err != nil {
		t.Fatalf("Extract as a slug: %v", err)
	}
	if got := snapshot(t, dst); len(got) != 1 {
		t.Errorf("as a slug, extracted %v; want only the root", got)
	}
}
