package builtin_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/buildpacktest"
	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sharedGoCache is the GOCACHE of every Go build in this test binary but
// one: the go command's own cache (go env GOCACHE), so only the first run
// on a machine compiles the standard library with the buildpacks' flags.
// Go's cache is safe for concurrent use and trims itself.
var sharedGoCache string

func TestMain(m *testing.M) {
	flag.Parse()
	var tmp string
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil && filepath.IsAbs(strings.TrimSpace(string(out))) {
		sharedGoCache = strings.TrimSpace(string(out))
	} else {
		dir, err := os.MkdirTemp("", "dynokit-builtin-gocache-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sharedGoCache, tmp = dir, dir
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
				t.Fatalf("%s is required on PATH", tool)
			}
			t.Skipf("%s not found on PATH", tool)
		}
	}
}

// app copies testdata/apps/<name> into a temp dir.
func app(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if err := buildpacktest.CopyTree(filepath.Join("testdata", "apps", name), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func build(t *testing.T, dir string, b *buildpack.Builder, in buildpack.BuildInput) (*buildpack.Result, string) {
	t.Helper()
	bps, err := builtin.WriteAll(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	in.AppDir, in.Detect, in.Output = dir, bps, &out
	if b == nil {
		b = &buildpack.Builder{}
	}
	res, err := b.Build(context.Background(), in)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	return res, out.String()
}

var goVersion = regexp.MustCompile(`go1\.[0-9]+(\.[0-9]+)?( [a-z0-9]+/[a-z0-9]+)?`)

func golden(t *testing.T, name, got string) {
	t.Helper()
	got = goVersion.ReplaceAllString(got, "goX")
	testutil.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got), *update)
}

// serve starts the command of a web process type the way a dyno would
// (bash -c in the app dir with PORT set) and returns its base URL.
func serve(t *testing.T, dir, command string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "PORT=" + strconv.Itoa(port)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q did not answer on $PORT: %v\n%s", command, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestGoApp(t *testing.T) {
	requireTools(t, "bash", "go", "sed")
	dir := app(t, "goapp")
	res, out := build(t, dir, nil, buildpack.BuildInput{ConfigVars: map[string]string{"GOCACHE": sharedGoCache}})
	if len(res.Buildpacks) != 1 || res.Buildpacks[0].Detected != "Go" || res.Buildpacks[0].Buildpack.Name != "dynokit/go" {
		t.Fatalf("ran %+v", res.Buildpacks)
	}
	if diff := cmp.Diff(map[string]string{"web": "bin/hello"}, res.ProcessTypes); diff != "" {
		t.Errorf("process types (-want +got):\n%s", diff)
	}
	golden(t, "go-build", out)
	base := serve(t, dir, res.ProcessTypes["web"])
	if code, body := get(t, base+"/"); code != 200 || !strings.HasPrefix(body, "hello from") {
		t.Errorf("GET / = %d %q", code, body)
	}

	// The build cache: with no GOCACHE config var, GOCACHE is
	// CACHE_DIR/go-build (so this compiles the runtime into an empty
	// cache once). A probe buildpack that runs before Go records how many
	// files CACHE_DIR/go-build holds: none on the first build, what the
	// first build saved on the second.
	t.Run("CacheDir", func(t *testing.T) {
		if testing.Short() {
			t.Skip("compiles the Go runtime into an empty cache")
		}
		seed := buildpacktest.Write(t, "probe", buildpacktest.Scripts{
			Detect:  "#!/usr/bin/env bash\necho Probe\n",
			Compile: "#!/usr/bin/env bash\nfind \"$2/go-build\" -type f 2>/dev/null | wc -l > \"$1/seeded\"\n",
		})
		goBP, err := builtin.Write(t.TempDir(), "go")
		if err != nil {
			t.Fatal(err)
		}
		cache := &buildpack.Cache{Dir: t.TempDir()}
		b := &buildpack.Builder{Cache: cache}
		tiny := func() string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
			os.WriteFile(filepath.Join(d, "main.go"), []byte("package main\n\nfunc main() { println(\"tiny\") }\n"), 0o644)
			return d
		}
		count := func() int {
			n := 0
			filepath.WalkDir(filepath.Join(cache.Dir, "tiny", "current", "go-build"), func(_ string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
			return n
		}
		var out testutil.SyncBuffer
		d1 := tiny()
		res, err := b.Build(context.Background(), buildpack.BuildInput{App: "tiny", AppDir: d1, Buildpacks: []buildpack.Buildpack{seed, goBP}, Output: &out})
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		seeded, _ := os.ReadFile(filepath.Join(d1, "seeded"))
		before, _ := strconv.Atoi(strings.TrimSpace(string(seeded)))
		after := count()
		if before != 0 || after == 0 {
			t.Errorf("CACHE_DIR/go-build had %d files before the first build and %d after: the Go build did not use it", before, after)
		}
		if res.CacheBytes == 0 || res.ProcessTypes["web"] != "bin/tiny" {
			t.Errorf("result %+v", res)
		}
		// Rebuild: the probe sees the saved go-build.
		d2 := tiny()
		if _, err := b.Build(context.Background(), buildpack.BuildInput{App: "tiny", AppDir: d2, Buildpacks: []buildpack.Buildpack{seed, goBP}}); err != nil {
			t.Fatal(err)
		}
		seeded, _ = os.ReadFile(filepath.Join(d2, "seeded"))
		if n, _ := strconv.Atoi(strings.TrimSpace(string(seeded))); n != after {
			t.Errorf("rebuild saw %d files in CACHE_DIR/go-build, want the %d saved", n, after)
		}
	})
}

func TestStaticSite(t *testing.T) {
	requireTools(t, "bash", "go", "sed")
	dir := app(t, "static")
	res, out := build(t, dir, nil, buildpack.BuildInput{ConfigVars: map[string]string{"GOCACHE": sharedGoCache}})
	if res.Buildpacks[0].Detected != "Static HTML" {
		t.Fatalf("ran %+v", res.Buildpacks)
	}
	golden(t, "static-build", out)
	base := serve(t, dir, res.ProcessTypes["web"])
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/", 200, "served by dynokit-static"},
		{"/index.html", 301, ""},
		{"/.secret", 404, ""},
		{"/static.json", 404, ""}, // outside root "public"
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		resp, err := client.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
			t.Errorf("GET %s = %d %q; want %d containing %q", tt.path, resp.StatusCode, body, tt.code, tt.body)
		}
	}
}

func TestNodeApp(t *testing.T) {
	requireTools(t, "bash", "node", "npm", "sed")
	dir := app(t, "nodeapp")
	res, out := build(t, dir, nil, buildpack.BuildInput{})
	if res.Buildpacks[0].Detected != "Node.js" {
		t.Fatalf("ran %+v", res.Buildpacks)
	}
	if diff := cmp.Diff(map[string]string{"web": "npm start"}, res.ProcessTypes); diff != "" {
		t.Errorf("process types (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, ".profile.d", "nodejs.sh")); err != nil {
		t.Errorf(".profile.d/nodejs.sh: %v", err)
	}
	out = regexp.MustCompile(`node v[0-9.]+ and npm [0-9.]+`).ReplaceAllString(out, "node vX and npm X")
	out = regexp.MustCompile(`(?m)^       (added|up to date|changed) .*$`).ReplaceAllString(out, "       (npm summary)")
	golden(t, "nodejs-build", out)
	node, _ := exec.LookPath("node")
	base := serve(t, dir, "export HOME=$PWD PATH="+filepath.Dir(node)+":$PATH; "+res.ProcessTypes["web"])
	if code, body := get(t, base+"/"); code != 200 || body != "hello from node, built\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestProcfileApp(t *testing.T) {
	requireTools(t, "bash")
	dir := app(t, "procfile")
	res, out := build(t, dir, nil, buildpack.BuildInput{})
	if res.Buildpacks[0].Detected != "Procfile" {
		t.Fatalf("ran %+v", res.Buildpacks)
	}
	want := map[string]string{"web": "python3 -m http.server $PORT", "worker": "bash -c 'while sleep 60; do echo tick; done'"}
	if diff := cmp.Diff(want, res.ProcessTypes); diff != "" {
		t.Error(diff)
	}
	golden(t, "procfile-build", out)
}

func TestNothingDetects(t *testing.T) {
	requireTools(t, "bash")
	bps, _ := builtin.WriteAll(t.TempDir())
	_, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app(t, "plain"), Detect: bps})
	if !errors.Is(err, buildpack.ErrNoMatch) || !strings.Contains(err.Error(), "dynokit/go, dynokit/nodejs, dynokit/static, dynokit/procfile") {
		t.Errorf("err = %v", err)
	}
}

func TestWrite(t *testing.T) {
	if _, err := builtin.Write(t.TempDir(), "cobol"); err == nil || !strings.Contains(err.Error(), "go, nodejs, static, procfile") {
		t.Errorf("err = %v", err)
	}
	dir := t.TempDir()
	bp, err := builtin.Write(dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"detect", "compile", "release"} {
		fi, err := os.Stat(filepath.Join(bp.Dir, "bin", s))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("bin/%s: %v %v", s, fi, err)
		}
	}
	// Writing again replaces the previous copy.
	os.WriteFile(filepath.Join(bp.Dir, "export"), []byte("stale"), 0o644)
	if _, err := builtin.Write(dir, "go"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bp.Dir, "export")); err == nil {
		t.Error("Write kept a stale file")
	}
}
