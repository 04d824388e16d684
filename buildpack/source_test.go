package buildpack_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dynokit/dynokit/buildpack"
)

func TestSourceKind(t *testing.T) {
	tests := []struct {
		src     buildpack.Source
		want    buildpack.SourceKind
		wantErr string
	}{
		{src: buildpack.Source{URL: "/opt/buildpacks/go"}, want: buildpack.SourceDir},
		{src: buildpack.Source{URL: "relative/dir"}, want: buildpack.SourceDir},
		{src: buildpack.Source{URL: "https://example.com/bp.tgz"}, want: buildpack.SourceTarball},
		{src: buildpack.Source{URL: "http://example.com/a/bp.tar.gz", SHA256: strings.Repeat("ab", 32)}, want: buildpack.SourceTarball},
		{src: buildpack.Source{URL: "https://github.com/heroku/heroku-buildpack-go"}, want: buildpack.SourceGit},
		{src: buildpack.Source{URL: "https://github.com/heroku/heroku-buildpack-go.git#v1.2"}, want: buildpack.SourceGit},
		{src: buildpack.Source{URL: "git@github.com:heroku/heroku-buildpack-go.git#main"}, want: buildpack.SourceGit},
		{src: buildpack.Source{URL: "file:///srv/bp.git#feature/x"}, want: buildpack.SourceGit},
		{src: buildpack.Source{URL: "git+https://example.com/bp#0123abc"}, want: buildpack.SourceGit},
		{src: buildpack.Source{URL: ""}, wantErr: "is empty"},
		{src: buildpack.Source{URL: "--upload-pack=evil"}, wantErr: "must not start with '-'"},
		{src: buildpack.Source{URL: "ftp://example.com/bp.tgz"}, wantErr: "unsupported scheme ftp"},
		{src: buildpack.Source{URL: "https://example.com/bp.tgz#v1"}, wantErr: "takes no #ref"},
		{src: buildpack.Source{URL: "https://example.com/bp.tgz", SHA256: "abc"}, wantErr: "64 hex digits"},
		{src: buildpack.Source{URL: "https://example.com/bp.git", SHA256: strings.Repeat("ab", 32)}, wantErr: "only for tarball"},
		{src: buildpack.Source{URL: "https://example.com/bp.git#-x"}, wantErr: "must be a branch, tag or commit"},
		{src: buildpack.Source{URL: "https://example.com/bp.git#a..b"}, wantErr: "must be a branch, tag or commit"},
	}
	for _, tt := range tests {
		got, err := tt.src.Kind()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v: err = %v, want %q", tt.src, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
}

// tgz builds a gzipped tar of a buildpack under a top directory.
func tgz(t *testing.T, top, detectBody string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"bin/detect": detectBody, "bin/compile": "#!/bin/sh\nexit 0\n"} {
		tw.WriteHeader(&tar.Header{Name: top + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestFetchTarball(t *testing.T) {
	archive := tgz(t, "bp-1.0/", "#!/bin/sh\necho FromTarball\n")
	sum := sha256.Sum256(archive)
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/slow/bp.tgz":
			<-release
			w.Write(archive)
		case "/bp.tgz":
			w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := &buildpack.Fetcher{Dir: t.TempDir()}
	ctx := context.Background()

	// Concurrent fetches of one URL share one download.
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	errs := make([]error, 8)
	for i := range dirs {
		wg.Go(func() {
			bp, err := f.Fetch(ctx, buildpack.Source{URL: srv.URL + "/slow/bp.tgz", SHA256: hex.EncodeToString(sum[:])})
			dirs[i], errs[i] = bp.Dir, err
		})
	}
	close(release)
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("fetch %d: %q, %v", i, dirs[i], errs[i])
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d downloads for 8 concurrent fetches, want 1", n)
	}
	data, err := os.ReadFile(filepath.Join(dirs[0], "bin", "detect"))
	if err != nil || !strings.Contains(string(data), "FromTarball") {
		t.Fatalf("bin/detect: %q, %v (the single top directory should be the root)", data, err)
	}

	// Cached by URL: a second fetch downloads nothing.
	requests.Store(0)
	if _, err := f.Fetch(ctx, buildpack.Source{URL: srv.URL + "/slow/bp.tgz", SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("cached tarball downloaded again (%d requests)", n)
	}

	// Wrong checksum: refused, nothing cached.
	bad := strings.Repeat("0", 64)
	_, err = f.Fetch(ctx, buildpack.Source{URL: srv.URL + "/bp.tgz", SHA256: bad})
	var be *buildpack.Error
	if !errors.As(err, &be) || be.Phase != buildpack.PhaseFetch || !strings.Contains(err.Error(), "sha256 is "+hex.EncodeToString(sum[:])) {
		t.Fatalf("err = %v, want a fetch *Error naming the checksums", err)
	}
	_, err = f.Fetch(ctx, buildpack.Source{URL: srv.URL + "/bp.tgz", SHA256: bad})
	if err == nil {
		t.Fatal("bad checksum accepted on the second try")
	}

	// HTTP errors name the status.
	_, err = f.Fetch(ctx, buildpack.Source{URL: srv.URL + "/missing.tgz"})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want the HTTP status", err)
	}
}

func TestFetchTarballHostile(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "bin/detect", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.WriteHeader(&tar.Header{Name: "../../escape", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.Close()
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(buf.Bytes()) }))
	defer srv.Close()
	dir := t.TempDir()
	_, err := (&buildpack.Fetcher{Dir: filepath.Join(dir, "cache")}).Fetch(context.Background(), buildpack.Source{URL: srv.URL + "/evil.tgz"})
	if err == nil || !strings.Contains(err.Error(), "leaves the archive root") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Fatal("file written outside the cache")
	}
}

func TestFetchDir(t *testing.T) {
	dir := t.TempDir()
	bp, err := (&buildpack.Fetcher{Dir: t.TempDir()}).Fetch(context.Background(), buildpack.Source{URL: dir})
	if err != nil || bp.Dir != dir {
		t.Fatalf("%+v, %v", bp, err)
	}
	if _, err := (&buildpack.Fetcher{}).Fetch(context.Background(), buildpack.Source{URL: filepath.Join(dir, "nope")}); err == nil {
		t.Fatal("missing dir accepted")
	}
}

// gitRepo is a real git repository holding a buildpack.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal("git is required (apt-get install git)")
		}
		t.Skip("git not found on PATH")
	}
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "bp.git")}
	os.MkdirAll(r.dir, 0o755)
	r.git("init", "--quiet", "--initial-branch=main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes a buildpack whose detect prints name, commits it and
// returns the commit hash.
func (r *gitRepo) commit(name string) string {
	r.t.Helper()
	os.MkdirAll(filepath.Join(r.dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(r.dir, "bin", "detect"), []byte("#!/bin/sh\necho "+name+"\n"), 0o755)
	os.WriteFile(filepath.Join(r.dir, "bin", "compile"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	r.git("add", "-A")
	r.git("commit", "--quiet", "-m", name)
	return r.git("rev-parse", "HEAD")
}

func detectLine(t *testing.T, bp buildpack.Buildpack) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bp.Dir, "bin", "detect"))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(bp.Dir, "bin", "detect"))
	if fi.Mode().Perm()&0o100 == 0 {
		t.Error("bin/detect lost its executable bit")
	}
	return strings.TrimPrefix(strings.TrimSpace(string(data)), "#!/bin/sh\necho ")
}

func TestFetchGit(t *testing.T) {
	repo := newGitRepo(t)
	c1 := repo.commit("one")
	repo.git("tag", "v1")
	repo.git("tag", "-a", "-m", "annotated", "v1-annotated")
	url := "file://" + repo.dir
	f := &buildpack.Fetcher{Dir: t.TempDir()}
	ctx := context.Background()
	fetch := func(ref string) buildpack.Buildpack {
		t.Helper()
		u := url
		if ref != "" {
			u += "#" + ref
		}
		bp, err := f.Fetch(ctx, buildpack.Source{URL: u})
		if err != nil {
			t.Fatalf("Fetch %s: %v", u, err)
		}
		return bp
	}
	for _, ref := range []string{"", "main", "v1", "v1-annotated", c1, c1[:10]} {
		if got := detectLine(t, fetch(ref)); got != "one" {
			t.Errorf("ref %q: detect says %q, want one", ref, got)
		}
	}

	// main moves: the branch is re-resolved, the tag is not.
	c2 := repo.commit("two")
	if got := detectLine(t, fetch("main")); got != "two" {
		t.Errorf("branch after a new commit: %q, want two", got)
	}
	if got := detectLine(t, fetch("")); got != "two" {
		t.Errorf("default branch after a new commit: %q, want two", got)
	}
	if got := detectLine(t, fetch("v1")); got != "one" {
		t.Errorf("tag: %q, want one", got)
	}
	if got := detectLine(t, fetch(c2)); got != "two" {
		t.Errorf("commit: %q, want two", got)
	}

	// With the remote gone, tags and commits fetched before still work
	// (no network needed), and a branch falls back to its last commit.
	if err := os.Rename(repo.dir, repo.dir+".gone"); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"v1": "one", "v1-annotated": "one", c1: "one", "main": "two"} {
		if got := detectLine(t, fetch(ref)); got != want {
			t.Errorf("offline %q: %q, want %q", ref, got, want)
		}
	}
	if _, err := f.Fetch(ctx, buildpack.Source{URL: url + "#never-fetched"}); err == nil {
		t.Error("an unknown ref of a missing remote succeeded")
	}
	os.Rename(repo.dir+".gone", repo.dir)
	_, err := f.Fetch(ctx, buildpack.Source{URL: url + "#no-such-branch"})
	var be *buildpack.Error
	if !errors.As(err, &be) || be.Phase != buildpack.PhaseFetch || !strings.Contains(err.Error(), `ref "no-such-branch" is not a branch or tag`) {
		t.Errorf("err = %v", err)
	}
}

func TestFetchGitConcurrent(t *testing.T) {
	repo := newGitRepo(t)
	repo.commit("one")
	f := &buildpack.Fetcher{Dir: t.TempDir()}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			ref := []string{"main", "main", "", ""}[i]
			_, errs[i] = f.Fetch(context.Background(), buildpack.Source{URL: "file://" + repo.dir + "#" + ref})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		}
	}
}
