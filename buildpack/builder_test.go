package buildpack_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/buildpacktest"
	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// requireBash skips (or fails under DYNOKIT_TEST_REQUIRE=1) without bash.
func requireBash(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal("bash is required (apt-get install bash)")
		}
		t.Skip("bash not found on PATH")
	}
}

// bp copies testdata/buildpacks/<name> to a temp dir.
func bp(t *testing.T, name string) buildpack.Buildpack {
	t.Helper()
	return buildpacktest.Copy(t, filepath.Join("testdata", "buildpacks", name))
}

// appDir makes an app directory with the given files.
func appDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// normalize replaces volatile parts of build output.
func normalize(out string, dirs map[string]string) string {
	for dir, name := range dirs {
		out = strings.ReplaceAll(out, dir, name)
	}
	return regexp.MustCompile(`go1\.[0-9.]+[^ \n]*( [a-z0-9]+/[a-z0-9]+)?`).ReplaceAllString(out, "goX")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name+".golden"), []byte(got), *update)
}

func TestRunnerSuite(t *testing.T) {
	requireBash(t)
	buildpacktest.RunnerSuite(t, func() buildpack.CommandRunner { return &buildpack.LocalRunner{} })
}

func TestBuildCompileContract(t *testing.T) {
	requireBash(t)
	app := appDir(t, map[string]string{"Procfile": "web: bin/web-from-procfile\nconsole: bin/console\n"})
	config := map[string]string{
		"DATABASE_URL": "postgres://u:p@h/db",
		"MULTI_LINE":   "line one\nline two\n",
		"SPACES":       "  padded  ",
		"EMPTY":        "",
	}
	var out testutil.SyncBuffer
	b := &buildpack.Builder{}
	res, err := b.Build(context.Background(), buildpack.BuildInput{
		AppDir:        app,
		Detect:        []buildpack.Buildpack{bp(t, "env-dump")},
		ConfigVars:    config,
		SourceVersion: "0123abcd",
		Output:        &out,
	})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	dump := filepath.Join(app, ".dump")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dump, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("argc"); got != "3\n" {
		t.Errorf("bin/compile got %q arguments, want 3", got)
	}
	if got := read("stack"); got != buildpack.DefaultStack+"\n" {
		t.Errorf("STACK = %q", got)
	}
	if got := read("source_version"); got != "0123abcd\n" {
		t.Errorf("SOURCE_VERSION = %q", got)
	}
	if got := read("cache_is_dir"); got != "yes\n" {
		t.Errorf("CACHE_DIR is not a directory")
	}
	if got, _ := filepath.EvalSymlinks(strings.TrimSpace(read("pwd"))); got != mustEval(t, app) {
		t.Errorf("working dir = %q, want the app dir %q", got, app)
	}
	for k, v := range config {
		if got := read("env/" + k); got != v {
			t.Errorf("ENV_DIR/%s = %q, want exactly %q", k, got, v)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dump, "env"))
	if len(ents) != len(config) {
		t.Errorf("ENV_DIR has %d files, want %d", len(ents), len(config))
	}
	// Config vars are not exported; only the documented variables are.
	names := strings.Fields(read("env_names"))
	want := []string{"HOME", "OLDPWD", "PATH", "PWD", "SHLVL", "SOURCE_VERSION", "STACK", "_"}
	for _, n := range names {
		if !slices.Contains(want, n) {
			t.Errorf("unexpected variable %s in bin/compile's environment", n)
		}
	}
	if _, err := os.Stat(filepath.Join(app, ".profile.d", "env-dump.sh")); err != nil {
		t.Errorf(".profile.d script written by the buildpack is not in the build dir: %v", err)
	}

	wantRes := &buildpack.Result{
		AppDir:              app,
		ProcessTypes:        map[string]string{"web": "bin/web-from-procfile", "console": "bin/console", "worker": "bin/worker"},
		ProcfileTypes:       []string{"web", "console"},
		DefaultProcessTypes: map[string]string{"web": "bin/server --port $PORT", "worker": "bin/worker"},
		Addons:              []string{"heroku-postgresql:dev"},
		ConfigVars:          map[string]string{"LANG": "en_US.UTF-8", "PORT": "5000"},
		Buildpacks:          []buildpack.Ran{{Buildpack: buildpack.Buildpack{Name: "env-dump", Dir: res.Buildpacks[0].Buildpack.Dir}, Detected: "Env Dump"}},
	}
	res.Duration, res.ScriptTime = 0, 0
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	golden(t, "compile-contract", out.String())
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDetectOrder(t *testing.T) {
	requireBash(t)
	tests := []struct {
		name       string
		candidates []string
		wantRan    string // "" means no match
		wantTried  string
	}{
		{"first passing wins", []string{"detect-fail", "no-release", "compile-fail"}, "no-release", ""},
		{"first in list wins", []string{"no-release", "detect-fail"}, "no-release", ""},
		{"none detects", []string{"detect-fail"}, "", "detect-fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cands []buildpack.Buildpack
			for _, n := range tt.candidates {
				cands = append(cands, bp(t, n))
			}
			app := appDir(t, nil)
			var out testutil.SyncBuffer
			res, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Detect: cands, Output: &out})
			if tt.wantRan == "" {
				if !errors.Is(err, buildpack.ErrNoMatch) {
					t.Fatalf("err = %v, want ErrNoMatch", err)
				}
				if !strings.Contains(err.Error(), tt.wantTried) || !strings.Contains(out.String(), "No default language could be detected") {
					t.Errorf("error %q / output %q should list what was tried", err, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v\n%s", err, out.String())
			}
			if len(res.Buildpacks) != 1 || res.Buildpacks[0].Buildpack.Name != tt.wantRan {
				t.Errorf("ran %+v, want only %s", res.Buildpacks, tt.wantRan)
			}
		})
	}
}

func TestCompileFailure(t *testing.T) {
	requireBash(t)
	var out testutil.SyncBuffer
	_, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{
		AppDir: appDir(t, nil), Detect: []buildpack.Buildpack{bp(t, "compile-fail")}, Output: &out,
	})
	var be *buildpack.Error
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *buildpack.Error", err)
	}
	if be.Buildpack != "compile-fail" || be.Phase != buildpack.PhaseCompile || be.ExitCode != 7 {
		t.Errorf("Error = %+v, want compile-fail/compile/7", be)
	}
	if got := err.Error(); got != "buildpack: compile-fail compile exited with code 7" {
		t.Errorf("message = %q", got)
	}
	golden(t, "compile-failure", out.String())
}

func TestMissingReleaseAndProcfileOnly(t *testing.T) {
	requireBash(t)
	app := appDir(t, map[string]string{"Procfile": "worker: ./work\n"})
	res, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Detect: []buildpack.Buildpack{bp(t, "no-release")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.DefaultProcessTypes != nil || res.Addons != nil {
		t.Errorf("no bin/release should mean no defaults, got %+v", res)
	}
	if diff := cmp.Diff(map[string]string{"worker": "./work"}, res.ProcessTypes); diff != "" {
		t.Error(diff)
	}
	if _, err := os.Stat(filepath.Join(app, "no-release-ran")); err != nil {
		t.Error("compile did not run")
	}
}

func TestExportChaining(t *testing.T) {
	requireBash(t)
	a, b, c := bp(t, "export-a"), bp(t, "export-b"), bp(t, "export-c")
	app := appDir(t, nil)
	var out testutil.SyncBuffer
	res, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Buildpacks: []buildpack.Buildpack{a, b, c}, Output: &out})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(app, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	if got := read("chain-b-saw"); got != "set by export-a" {
		t.Errorf("export-b saw CHAIN_A=%q", got)
	}
	if got := read("chain-c-saw"); got != "set by export-a|set by export-b" {
		t.Errorf("export-c saw %q", got)
	}
	// Detect runs after the earlier buildpacks' exports too.
	if got := read("chain-c-detect-saw"); got != "set by export-a|set by export-b" {
		t.Errorf("export-c's detect saw %q", got)
	}
	// The last buildpack (export-c) has no bin/release: no defaults, even
	// though earlier ones declared some.
	if len(res.DefaultProcessTypes) != 0 || len(res.ProcessTypes) != 0 {
		t.Errorf("defaults came from a buildpack that was not last: %+v", res.DefaultProcessTypes)
	}
	var names []string
	for _, r := range res.Buildpacks {
		names = append(names, r.Detected)
	}
	if diff := cmp.Diff([]string{"ExportA", "ExportB", "ExportC"}, names); diff != "" {
		t.Error(diff)
	}
	// Exports were written into private copies, never the source dirs.
	for _, d := range []string{a.Dir, b.Dir} {
		if _, err := os.Stat(filepath.Join(d, "export")); err == nil {
			t.Errorf("%s/export was written into the shared buildpack dir", d)
		}
	}
	golden(t, "export-chain", normalize(out.String(), map[string]string{app: "$BUILD_DIR"}))

	// With export-b last, its bin/release gives the defaults; it runs
	// after every export, its own included.
	app = appDir(t, nil)
	res, err = (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Buildpacks: []buildpack.Buildpack{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"web": "from-export-b", "clock": "bin/clock"}, res.ProcessTypes); diff != "" {
		t.Error(diff)
	}
	if got := read("release-b-saw"); got != "set by export-a|set by export-b" {
		t.Errorf("export-b's release saw %q", got)
	}
}

func TestExplicitListMustDetect(t *testing.T) {
	requireBash(t)
	_, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{
		AppDir: appDir(t, nil), Buildpacks: []buildpack.Buildpack{bp(t, "no-release"), bp(t, "detect-fail")},
	})
	var be *buildpack.Error
	if !errors.As(err, &be) || be.Phase != buildpack.PhaseDetect || be.Buildpack != "detect-fail" || !errors.Is(err, buildpack.ErrNoMatch) {
		t.Fatalf("err = %v, want a detect *Error for detect-fail wrapping ErrNoMatch", err)
	}
}

func TestBadRelease(t *testing.T) {
	requireBash(t)
	_, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: appDir(t, nil), Detect: []buildpack.Buildpack{bp(t, "bad-release")}})
	var be *buildpack.Error
	var re *buildpack.ReleaseError
	if !errors.As(err, &be) || be.Phase != buildpack.PhaseRelease || be.Buildpack != "bad-release" {
		t.Fatalf("err = %v, want a release *Error for bad-release", err)
	}
	if !errors.As(err, &re) || re.Field != "default_process_types.web" {
		t.Fatalf("err = %v, want a *ReleaseError for default_process_types.web", err)
	}
	if !strings.Contains(err.Error(), "bad-release") || !strings.Contains(err.Error(), "default_process_types.web") {
		t.Errorf("message %q should name the buildpack and the field", err)
	}
}

func TestCacheReuse(t *testing.T) {
	requireBash(t)
	cache := &buildpack.Cache{Dir: t.TempDir()}
	b := &buildpack.Builder{Cache: cache}
	counter := bp(t, "cache-counter")
	build := func(app string, fail bool) (string, error) {
		dir := appDir(t, nil)
		cfg := map[string]string{}
		if fail {
			cfg["FAIL_AFTER_WRITE"] = "1"
		}
		_, err := b.Build(context.Background(), buildpack.BuildInput{App: app, AppDir: dir, Detect: []buildpack.Buildpack{counter}, ConfigVars: cfg})
		data, _ := os.ReadFile(filepath.Join(dir, "build-number"))
		return strings.TrimSpace(string(data)), err
	}
	steps := []struct {
		app  string
		fail bool
		want string
	}{
		{"app-one", false, "1"},
		{"app-one", false, "2"},
		{"app-one", true, "3"},  // fails: its cache is thrown away
		{"app-one", false, "3"}, // so this sees the cache of build 2
		{"app-two", false, "1"}, // never shared between apps
		{"app-one", false, "4"},
	}
	for i, s := range steps {
		got, err := build(s.app, s.fail)
		if (err != nil) != s.fail {
			t.Fatalf("step %d: err = %v", i, err)
		}
		if got != s.want {
			t.Fatalf("step %d (%s): build number %s, want %s", i, s.app, got, s.want)
		}
	}
	size, err := cache.Size("app-one")
	if err != nil || size != 2 { // "4\n"
		t.Errorf("Size = %d, %v; want 2", size, err)
	}
	if err := cache.Purge(context.Background(), "app-one"); err != nil {
		t.Fatal(err)
	}
	if got, _ := build("app-one", false); got != "1" {
		t.Errorf("after Purge, build number %s, want 1", got)
	}
	// Nothing but the current generation and the lock is left behind.
	ents, _ := os.ReadDir(filepath.Join(cache.Dir, "app-one"))
	var left []string
	for _, e := range ents {
		left = append(left, regexp.MustCompile(`[0-9a-f]{16}`).ReplaceAllString(e.Name(), "ID"))
	}
	if diff := cmp.Diff([]string{"current", "gen-ID", "lock"}, left); diff != "" {
		t.Errorf("cache dir contents (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := b.Build(context.Background(), buildpack.BuildInput{App: bad, AppDir: appDir(t, nil), Detect: []buildpack.Buildpack{counter}}); err == nil {
			t.Errorf("app name %q accepted", bad)
		}
	}
}

func TestTimeoutKillsProcessTree(t *testing.T) {
	requireBash(t)
	app := appDir(t, nil)
	start := time.Now()
	var out testutil.SyncBuffer
	_, err := (&buildpack.Builder{Timeout: 2 * time.Second}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Detect: []buildpack.Buildpack{bp(t, "hang")}, Output: &out})
	var be *buildpack.Error
	if !errors.As(err, &be) || be.Phase != buildpack.PhaseCompile || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a compile *Error wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("build took %s with a 2s timeout", d)
	}
	if !strings.Contains(out.String(), "Build timed out after 2s") {
		t.Errorf("output lacks the timeout notice:\n%s", out.String())
	}
	for _, f := range []string{"compile.pid", "child.pid"} {
		data, err := os.ReadFile(filepath.Join(app, f))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		buildpacktest.AssertProcessGone(t, pid)
	}
}

func TestCancelKillsBuild(t *testing.T) {
	requireBash(t)
	app := appDir(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := (&buildpack.Builder{}).Build(ctx, buildpack.BuildInput{AppDir: app, Detect: []buildpack.Buildpack{bp(t, "hang")}})
		done <- err
	}()
	waitFile(t, filepath.Join(app, "child.pid"))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Build did not return after cancel")
	}
	data, _ := os.ReadFile(filepath.Join(app, "child.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	buildpacktest.AssertProcessGone(t, pid)
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(p); err == nil && len(data) > 0 && data[len(data)-1] == '\n' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", p)
}

func TestOutputBounded(t *testing.T) {
	requireBash(t)
	app := appDir(t, nil)
	var out testutil.SyncBuffer
	const limit = 64 << 10
	res, err := (&buildpack.Builder{MaxOutputBytes: limit}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Detect: []buildpack.Buildpack{bp(t, "flood")}, Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(app, "flood-done")); err != nil {
		t.Error("the flooding compile was not allowed to finish")
	}
	got := out.String()
	if len(got) > limit+1024 {
		t.Errorf("output is %d bytes, limit %d", len(got), limit)
	}
	if !strings.Contains(got, " !     Build output truncated: more than 65536 bytes") {
		t.Error("no truncation notice")
	}
	if !strings.HasSuffix(got, "-----> Discovering process types\n       Procfile declares types     -> (none)\n") {
		t.Errorf("platform lines after truncation are missing; tail:\n%s", got[max(0, len(got)-300):])
	}
	if res.OutputDropped < 1<<20 {
		t.Errorf("OutputDropped = %d, want the ~2 MB that were not shown", res.OutputDropped)
	}
}

func TestGrandchildHoldingStdout(t *testing.T) {
	requireBash(t)
	app := appDir(t, nil)
	start := time.Now()
	_, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: app, Detect: []buildpack.Buildpack{bp(t, "grandchild")}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("build waited %s for a background process", d)
	}
	data, _ := os.ReadFile(filepath.Join(app, "grandchild.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	buildpacktest.AssertProcessGone(t, pid)
}

// TestOutputStreams proves lines reach the writer while compile still
// runs: compile waits for a file the test creates only after it has seen
// compile's first line.
func TestOutputStreams(t *testing.T) {
	requireBash(t)
	gate := filepath.Join(t.TempDir(), "gate")
	pack := buildpacktest.Write(t, "streamer", buildpacktest.Scripts{
		Detect:  "#!/usr/bin/env bash\necho Streamer\n",
		Compile: "#!/usr/bin/env bash\necho 'first line'\nwhile [ ! -f " + strconv.Quote(gate) + " ]; do sleep 0.05; done\necho 'second line'\n",
	})
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := (&buildpack.Builder{Timeout: 2 * time.Minute}).Build(context.Background(), buildpack.BuildInput{AppDir: appDir(t, nil), Detect: []buildpack.Buildpack{pack}, Output: &out})
		done <- err
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "first line\n") {
		if time.Now().After(deadline) {
			t.Fatal("first line was not streamed while compile ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(out.String(), "second line") {
		t.Fatal("second line before the gate opened")
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "first line\nsecond line\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestBuildInputErrors(t *testing.T) {
	requireBash(t)
	good := bp(t, "no-release")
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	notExec := buildpacktest.Write(t, "not-exec", buildpacktest.Scripts{Detect: "#!/bin/sh\necho x\n"})
	os.Chmod(filepath.Join(notExec.Dir, "bin", "detect"), 0o644)
	noCompile := buildpacktest.Write(t, "no-compile", buildpacktest.Scripts{Detect: "#!/bin/sh\necho x\n"})
	tests := []struct {
		name string
		in   buildpack.BuildInput
		want string
	}{
		{"no app dir", buildpack.BuildInput{Detect: []buildpack.Buildpack{good}}, "AppDir is empty"},
		{"app dir is a file", buildpack.BuildInput{AppDir: file, Detect: []buildpack.Buildpack{good}}, "not a directory"},
		{"no buildpacks", buildpack.BuildInput{AppDir: t.TempDir()}, "no buildpacks"},
		{"bad config var", buildpack.BuildInput{AppDir: t.TempDir(), Detect: []buildpack.Buildpack{good}, ConfigVars: map[string]string{"A-B": "x"}}, `config var "A-B"`},
		{"config var path", buildpack.BuildInput{AppDir: t.TempDir(), Detect: []buildpack.Buildpack{good}, ConfigVars: map[string]string{"../x": "x"}}, `config var "../x"`},
		{"detect not executable", buildpack.BuildInput{AppDir: t.TempDir(), Detect: []buildpack.Buildpack{notExec}}, "bin/detect is not an executable file"},
		{"compile missing", buildpack.BuildInput{AppDir: t.TempDir(), Detect: []buildpack.Buildpack{noCompile}}, "bin/compile is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&buildpack.Builder{}).Build(context.Background(), tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// A bin/release without the executable bit is skipped, as Heroku runs it
// only "if executable": the build succeeds, with a warning and no default
// process types. (bin/detect and bin/compile without it fail the build.)
func TestReleaseNotExecutable(t *testing.T) {
	requireBash(t)
	b := buildpacktest.Write(t, "release-644", buildpacktest.Scripts{
		Detect:  "#!/bin/sh\necho Plain\n",
		Compile: "#!/bin/sh\ntrue\n",
		Release: "#!/bin/sh\nprintf 'default_process_types:\\n  web: from-release\\n'\n",
	})
	if err := os.Chmod(filepath.Join(b.Dir, "bin", "release"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	res, err := (&buildpack.Builder{}).Build(context.Background(), buildpack.BuildInput{AppDir: appDir(t, nil), Buildpacks: []buildpack.Buildpack{b}, Output: &out})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	if len(res.DefaultProcessTypes) != 0 {
		t.Errorf("defaults from a bin/release that is not executable: %v", res.DefaultProcessTypes)
	}
	if !strings.Contains(out.String(), " !     bin/release of release-644 is not executable: it gives no default process types.") {
		t.Errorf("no warning in the output:\n%s", out.String())
	}
}
