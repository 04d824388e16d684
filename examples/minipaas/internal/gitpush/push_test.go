package gitpush

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const testToken = "test-token-0123456789"

// requireGit skips when git is missing, unless DYNOKIT_TEST_REQUIRE=1.
func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("git is required (DYNOKIT_TEST_REQUIRE=1) but not found: %v", err)
		}
		t.Skipf("git not found, skipping: %v", err)
	}
}

// client is a git client with an isolated configuration.
type client struct {
	t    *testing.T
	home string
}

func newClient(t *testing.T) *client {
	home := t.TempDir()
	return &client{t: t, home: home}
}

func (c *client) env() []string {
	return append(os.Environ(),
		"HOME="+c.home,
		"XDG_CONFIG_HOME="+filepath.Join(c.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(c.home, "gitconfig"),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"LC_ALL=C",
	)
}

func (c *client) cmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = c.env()
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// git runs git and fails the test on error.
func (c *client) git(dir string, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.cmd(ctx, dir, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// push runs git push and returns its exit error and combined output.
func (c *client) push(dir string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := c.cmd(ctx, dir, append([]string{"push"}, args...)...).CombinedOutput()
	return string(out), err
}

// newWorkRepo makes a repository on main with n commits.
func (c *client) newWorkRepo(n int) string {
	dir := c.t.TempDir()
	c.git(dir, "init", "--quiet", "--initial-branch=main")
	for i := range n {
		c.commitFile(dir, fmt.Sprintf("file%d.txt", i), fmt.Sprintf("content %d\n", i))
	}
	return dir
}

func (c *client) commitFile(dir, name, content string) string {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.git(dir, "add", name)
	c.git(dir, "commit", "--quiet", "-m", "add "+name)
	return c.git(dir, "rev-parse", "HEAD")
}

type server struct {
	h   *Handler
	srv *httptest.Server
}

func newServer(t *testing.T, h *Handler) *server {
	t.Helper()
	requireGit(t)
	if h.Root == "" {
		h.Root = t.TempDir()
	}
	if h.Token == "" {
		h.Token = testToken
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{h: h, srv: srv}
}

// url of app's repository, with the key as basic auth password.
func (s *server) url(app, password string) string {
	u := strings.Replace(s.srv.URL, "http://", "http://", 1)
	if password != "" {
		u = strings.Replace(u, "http://", "http://git:"+password+"@", 1)
	}
	return u + "/" + app + ".git"
}

// ref reads a ref of app's bare repository on the server ("" if missing).
func (s *server) ref(t *testing.T, app, ref string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir="+s.h.RepoDir(app), "rev-parse", "--verify", "--quiet", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

var writingObjects = regexp.MustCompile(`Writing objects: 100% \((\d+)/(\d+)\)`)

func TestPushDeploysStreamsLiveAndIsIncremental(t *testing.T) {
	proceed := make(chan struct{})
	var mu sync.Mutex
	var got []DeployRequest
	var exported []string
	h := &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		mu.Lock()
		first := len(got) == 0
		got = append(got, req)
		mu.Unlock()
		fmt.Fprintf(req.Output, "-----> Building %s\n", req.App)
		if first {
			// Block until the client has shown the line above: that
			// proves the output streams while the deploy still runs.
			select {
			case <-proceed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		dir := t.TempDir()
		if err := req.Export(ctx, dir); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		mu.Lock()
		exported = append(exported, strings.Join(names, ","))
		mu.Unlock()
		fmt.Fprintf(req.Output, "-----> Compiled %d files\n", len(names))
		fmt.Fprintf(req.Output, "-----> Launching %s\n", req.NewRev[:7])
		return nil
	}}
	s := newServer(t, h)
	c := newClient(t)
	work := c.newWorkRepo(3)
	head1 := c.git(work, "rev-parse", "HEAD")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.cmd(ctx, work, "push", "--progress", s.url("demo", testToken), "main")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var releaseOnce sync.Once
	releaseDeploy := func() { releaseOnce.Do(func() { close(proceed) }) }
	// Never hang the test if the line does not come: fail instead.
	watchdog := time.AfterFunc(time.Minute, releaseDeploy)
	defer watchdog.Stop()
	var lines []string
	sc := bufio.NewScanner(stderr)
	sc.Split(scanLinesOrCR)
	released := false
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if !released && strings.Contains(line, "remote: -----> Building demo") && watchdog.Stop() {
			released = true
			releaseDeploy()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("git push: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if !released {
		t.Fatalf("the deploy's first line never reached the client:\n%s", strings.Join(lines, "\n"))
	}
	var remote []string
	for _, l := range lines {
		if strings.HasPrefix(l, "remote: -----> ") {
			remote = append(remote, strings.TrimSpace(strings.TrimPrefix(l, "remote: ")))
		}
	}
	want := []string{"-----> Building demo", "-----> Compiled 3 files", "-----> Launching " + head1[:7]}
	if strings.Join(remote, "|") != strings.Join(want, "|") {
		t.Errorf("remote lines = %q, want %q", remote, want)
	}
	if r := s.ref(t, "demo", "refs/heads/main"); r != head1 {
		t.Errorf("server main = %q, want %q", r, head1)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].OldRev != ZeroRev || got[0].NewRev != head1 || got[0].Ref != "refs/heads/main" || got[0].App != "demo" || got[0].RepoDir != s.h.RepoDir("demo") {
		t.Errorf("deploy requests = %+v", got)
	}
	if exported[0] != "file0.txt,file1.txt,file2.txt" {
		t.Errorf("exported tree = %q", exported[0])
	}

	// Second push: one new commit, so git sends only its three objects.
	mu.Unlock()
	head2 := c.commitFile(work, "file3.txt", "more\n")
	out, err := c.push(work, "--progress", s.url("demo", testToken), "main")
	mu.Lock()
	if err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	m := writingObjects.FindStringSubmatch(out)
	if m == nil || m[1] != "3" {
		t.Errorf("second push wrote %v objects, want 3 (incremental):\n%s", m, out)
	}
	if len(got) != 2 || got[1].OldRev != head1 || got[1].NewRev != head2 {
		t.Errorf("second deploy request = %+v, want %s..%s", got[len(got)-1], head1, head2)
	}
	if exported[1] != "file0.txt,file1.txt,file2.txt,file3.txt" {
		t.Errorf("second exported tree = %q", exported[1])
	}
	if r := s.ref(t, "demo", "refs/heads/main"); r != head2 {
		t.Errorf("server main after second push = %q, want %q", r, head2)
	}
}

// scanLinesOrCR splits on \n and \r, as git's progress output uses both.
func scanLinesOrCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func TestFailingDeployRejectsPushAndKeepsRef(t *testing.T) {
	var fail atomic.Bool
	h := &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		fmt.Fprintln(req.Output, "-----> Building")
		if fail.Load() {
			fmt.Fprintln(req.Output, "compile error: main.go:3: syntax error")
			return errors.New("build failed")
		}
		return nil
	}}
	s := newServer(t, h)
	c := newClient(t)
	work := c.newWorkRepo(1)
	if out, err := c.push(work, s.url("demo", testToken), "main"); err != nil {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	good := c.git(work, "rev-parse", "HEAD")

	fail.Store(true)
	bad := c.commitFile(work, "broken.go", "package main\nfunc {\n")
	out, err := c.push(work, s.url("demo", testToken), "main")
	if err == nil {
		t.Fatalf("push with a failing deploy succeeded:\n%s", out)
	}
	for _, want := range []string{
		"remote: -----> Building",
		"remote: compile error: main.go:3: syntax error",
		"remote:  !     Push rejected to demo: build failed",
		"! [remote rejected] main -> main (pre-receive hook declined)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if r := s.ref(t, "demo", "refs/heads/main"); r != good {
		t.Errorf("server main = %q after a rejected push, want it unchanged at %q", r, good)
	}
	if err := exec.Command("git", "--git-dir="+s.h.RepoDir("demo"), "cat-file", "-e", bad).Run(); err == nil {
		t.Errorf("rejected commit %s is in the repository; quarantined objects should be dropped", bad)
	}
}

func TestAuthentication(t *testing.T) {
	var deployed atomic.Bool
	s := newServer(t, &Handler{Deploy: func(context.Context, DeployRequest) error { deployed.Store(true); return nil }})
	c := newClient(t)
	work := c.newWorkRepo(1)
	for _, password := range []string{"wrong-token", ""} {
		out, err := c.push(work, s.url("demo", password), "main")
		if err == nil {
			t.Fatalf("push with password %q succeeded:\n%s", password, out)
		}
		if !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "could not read Username") {
			t.Errorf("push with password %q: output lacks an authentication failure:\n%s", password, out)
		}
		if strings.Contains(out, testToken) {
			t.Errorf("output shows the token:\n%s", out)
		}
	}
	if deployed.Load() {
		t.Error("an unauthenticated push deployed")
	}
	if _, err := os.Stat(s.h.RepoDir("demo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unauthenticated push created the repository (stat: %v)", err)
	}

	// The status as seen by a plain HTTP client.
	for _, tc := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"none", func(*http.Request) {}},
		{"wrong", func(r *http.Request) { r.SetBasicAuth("", "nope") }},
		{"prefix", func(r *http.Request) { r.SetBasicAuth("", testToken[:len(testToken)-1]) }},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }},
	} {
		req, _ := http.NewRequest("GET", s.srv.URL+"/demo.git/info/refs?service=git-receive-pack", nil)
		tc.auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 Basic", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestBadAppNameAndUnknownApp(t *testing.T) {
	s := newServer(t, &Handler{AppExists: func(_ context.Context, app string) bool { return app == "known" }})
	c := newClient(t)
	work := c.newWorkRepo(1)

	out, err := c.push(work, s.url("Bad_Name", testToken), "main")
	if err == nil || !strings.Contains(out, `remote: invalid app name "Bad_Name": must be 3 to 30 characters`) {
		t.Errorf("push to an invalid app name: err %v, output:\n%s", err, out)
	}
	out, err = c.push(work, s.url("unknown", testToken), "main")
	if err == nil || !strings.Contains(out, `remote: app "unknown" not found`) {
		t.Errorf("push to an unknown app: err %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(s.h.RepoDir("unknown")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("push to an unknown app created its repository (stat: %v)", err)
	}
	// Fetching never creates a repository.
	if lsOut, err := c.cmd(context.Background(), work, "ls-remote", s.url("known", testToken)).CombinedOutput(); err == nil {
		t.Errorf("ls-remote of a repository not pushed yet succeeded:\n%s", lsOut)
	}
	if out, err := c.push(work, s.url("known", testToken), "main"); err != nil {
		t.Fatalf("push to a known app: %v\n%s", err, out)
	}
	if got, want := c.git(work, "ls-remote", s.url("known", testToken), "refs/heads/main"), c.git(work, "rev-parse", "HEAD"); !strings.HasPrefix(got, want) {
		t.Errorf("ls-remote after push = %q, want %s", got, want)
	}
}

func TestConcurrentPushIsRejectedWhileDeploying(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	s := newServer(t, &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		fmt.Fprintln(req.Output, "-----> Building")
		once.Do(func() { close(started) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	c := newClient(t)
	a := c.newWorkRepo(1)
	b := c.newWorkRepo(2)

	type result struct {
		out string
		err error
	}
	first := make(chan result, 1)
	go func() {
		out, err := c.push(a, s.url("demo", testToken), "main")
		first <- result{out, err}
	}()
	select {
	case <-started:
	case r := <-first:
		t.Fatalf("first push ended before its deploy started: %v\n%s", r.err, r.out)
	case <-time.After(time.Minute):
		close(release)
		t.Fatal("first deploy did not start")
	}
	out, err := c.push(b, "--force", s.url("demo", testToken), "main")
	close(release)
	if err == nil || !strings.Contains(out, "remote:  !     Push rejected to demo: another push to demo is in progress") ||
		!strings.Contains(out, "pre-receive hook declined") {
		t.Errorf("concurrent push: err %v, output:\n%s", err, out)
	}
	r := <-first
	if r.err != nil {
		t.Fatalf("first push: %v\n%s", r.err, r.out)
	}
	if got, want := s.ref(t, "demo", "refs/heads/main"), c.git(a, "rev-parse", "HEAD"); got != want {
		t.Errorf("server main = %q, want the first push's %q", got, want)
	}
}

func TestNonDeployBranchAndDeletes(t *testing.T) {
	var mu sync.Mutex
	var deploys []string
	s := newServer(t, &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		mu.Lock()
		defer mu.Unlock()
		deploys = append(deploys, req.Ref)
		return nil
	}})
	deployed := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(deploys)
	}
	c := newClient(t)
	work := c.newWorkRepo(1)
	out, err := c.push(work, s.url("demo", testToken), "main:feature", "main:refs/tags/v1")
	if err != nil {
		t.Fatalf("push of a feature branch: %v\n%s", err, out)
	}
	if !strings.Contains(out, "remote: Pushed to refs/heads/feature, not main or master: not deploying.") {
		t.Errorf("feature push output lacks the not-deploying note:\n%s", out)
	}
	if d := deployed(); len(d) != 0 {
		t.Errorf("deploys = %q, want none", d)
	}
	out, err = c.push(work, s.url("demo", testToken), "main:master")
	if d := deployed(); err != nil || len(d) != 1 || d[0] != "refs/heads/master" {
		t.Fatalf("push to master: err %v, deploys %q\n%s", err, d, out)
	}
	out, err = c.push(work, s.url("demo", testToken), ":master")
	if err == nil || !strings.Contains(out, "deleting refs/heads/master is not allowed") {
		t.Errorf("deleting master: err %v, output:\n%s", err, out)
	}
	if s.ref(t, "demo", "refs/heads/master") == "" {
		t.Error("master was deleted")
	}
}

func TestLargePushIsSpooledAndBounded(t *testing.T) {
	c := newClient(t)
	work := c.newWorkRepo(0)
	blob := make([]byte, 3<<20) // random, so it does not compress below git's 1 MiB postBuffer
	rand.Read(blob)
	if err := os.WriteFile(filepath.Join(work, "big.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	c.git(work, "add", "big.bin")
	c.git(work, "commit", "--quiet", "-m", "big")

	var deployed atomic.Bool
	big := newServer(t, &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		deployed.Store(true)
		dir := t.TempDir()
		if err := req.Export(ctx, dir); err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(dir, "big.bin"))
		if err != nil || !bytes.Equal(got, blob) {
			return fmt.Errorf("exported big.bin differs (err %v)", err)
		}
		return nil
	}})
	if out, err := c.push(work, big.url("demo", testToken), "main"); err != nil || !deployed.Load() {
		t.Fatalf("3 MiB push (chunked): err %v, deployed %v\n%s", err, deployed.Load(), out)
	}

	small := newServer(t, &Handler{MaxPushBytes: 1 << 20})
	out, err := c.push(work, small.url("demo", testToken), "main")
	if err == nil || !strings.Contains(out, "413") {
		t.Errorf("push over MaxPushBytes: err %v, output:\n%s", err, out)
	}
	if small.ref(t, "demo", "refs/heads/main") != "" {
		t.Error("an oversized push moved the ref")
	}
}

func TestExportAfterPush(t *testing.T) {
	s := newServer(t, &Handler{})
	c := newClient(t)
	work := c.newWorkRepo(1)
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "bin", "run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/run", filepath.Join(work, "start")); err != nil {
		t.Fatal(err)
	}
	c.git(work, "add", ".")
	c.git(work, "commit", "--quiet", "-m", "bin")
	head := c.git(work, "rev-parse", "HEAD")
	if out, err := c.push(work, s.url("demo", testToken), "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	c.git(work, "clone", "--quiet", s.url("demo", testToken), clone)
	if got := c.git(clone, "rev-parse", "HEAD"); got != head {
		t.Errorf("clone HEAD = %s, want %s", got, head)
	}
	dir := filepath.Join(t.TempDir(), "build")
	if err := Export(context.Background(), "", s.h.RepoDir("demo"), head, dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/run: %v, mode %v; want executable", err, st)
	}
	if target, err := os.Readlink(filepath.Join(dir, "start")); err != nil || target != "bin/run" {
		t.Errorf("start symlink = %q, %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("export made a .git (stat: %v)", err)
	}
	if err := Export(context.Background(), "", s.h.RepoDir("demo"), "HEAD", dir); err == nil || !strings.Contains(err.Error(), "not a full object name") {
		t.Errorf("Export of a symbolic name: %v", err)
	}
	if err := Export(context.Background(), "", s.h.RepoDir("demo"), strings.Repeat("ab", 20), dir); err == nil {
		t.Error("Export of a missing object succeeded")
	}
}

func TestHookRejectsPushOutsideServer(t *testing.T) {
	s := newServer(t, &Handler{})
	c := newClient(t)
	work := c.newWorkRepo(1)
	if out, err := c.push(work, s.url("demo", testToken), "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	c.commitFile(work, "x", "y")
	out, err := c.push(work, s.h.RepoDir("demo"), "main")
	if err == nil || !strings.Contains(out, "accepts pushes only through its dynokit git server") {
		t.Errorf("direct push into the bare repository: err %v, output:\n%s", err, out)
	}
}

func TestServeHTTPErrors(t *testing.T) {
	requireGit(t)
	for _, tc := range []struct {
		name   string
		h      *Handler
		path   string
		status int
		body   string
	}{
		{"no root", &Handler{Token: testToken}, "/demo.git/info/refs", 500, "misconfigured"},
		{"not a repo path", &Handler{Token: testToken, Root: t.TempDir()}, "/demo/info/refs", 404, "want /<app>.git/"},
		{"bare repo path", &Handler{Token: testToken, Root: t.TempDir()}, "/demo.git", 404, "want /<app>.git/"},
		{"bad name", &Handler{Token: testToken, Root: t.TempDir()}, "/-x.git/info/refs", 400, "invalid app name"},
		{"missing repo fetch", &Handler{Token: testToken, Root: t.TempDir()}, "/demo.git/info/refs?service=git-upload-pack", 404, `app "demo" not found`},
		{"empty token", &Handler{Root: t.TempDir()}, "/demo.git/info/refs", 401, "authentication required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.SetBasicAuth("", testToken)
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tc.status || !strings.Contains(string(body), tc.body) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, body, tc.status, tc.body)
			}
			if strings.Contains(string(body), testToken) {
				t.Errorf("body shows the token: %q", body)
			}
		})
	}
}

func TestClientGoneCancelsDeploy(t *testing.T) {
	cancelled := make(chan error, 1)
	s := newServer(t, &Handler{Deploy: func(ctx context.Context, req DeployRequest) error {
		fmt.Fprintln(req.Output, "-----> waiting for the client to go away")
		select {
		case <-ctx.Done():
			cancelled <- ctx.Err()
			return ctx.Err()
		case <-time.After(time.Minute):
			cancelled <- errors.New("deploy context was never cancelled")
			return errors.New("timeout")
		}
	}})
	c := newClient(t)
	work := c.newWorkRepo(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.cmd(ctx, work, "push", s.url("demo", testToken), "main")
	// Its own process group, so that killing it also kills git-remote-http,
	// which holds the connection.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "remote: -----> waiting") {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			break
		}
	}
	io.Copy(io.Discard, stderr)
	cmd.Wait()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("deploy ended with %v, want context.Canceled", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("deploy never ended after the client went away")
	}
	// The push was abandoned: the ref must not have moved. The handler
	// may still be finishing; httptest's Close waits for it.
	s.srv.Close()
	if r := s.ref(t, "demo", "refs/heads/main"); r != "" {
		t.Errorf("server main = %q after an abandoned push, want no ref", r)
	}
}

func TestMoveAndRemoveRepo(t *testing.T) {
	exists := map[string]bool{"demo": true, "stale": true}
	s := newServer(t, &Handler{AppExists: func(_ context.Context, app string) bool { return exists[app] }})
	c := newClient(t)
	work := c.newWorkRepo(2)
	head := c.git(work, "rev-parse", "HEAD")
	if out, err := c.push(work, s.url("demo", testToken), "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	// A repository left at the new name by an earlier app is replaced.
	other := c.newWorkRepo(1)
	if out, err := c.push(other, s.url("stale", testToken), "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if err := s.h.MoveRepo("demo", "stale"); err != nil {
		t.Fatal(err)
	}
	if got := s.ref(t, "stale", "refs/heads/main"); got != head {
		t.Errorf("moved main = %q, want %q", got, head)
	}
	if _, err := os.Stat(s.h.RepoDir("demo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old repository still there (stat: %v)", err)
	}
	// The old URL no longer clones; the new one has the whole history.
	delete(exists, "demo")
	if out, err := c.cmd(context.Background(), work, "ls-remote", s.url("demo", testToken)).CombinedOutput(); err == nil {
		t.Errorf("ls-remote of the old name succeeded:\n%s", out)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	c.git(work, "clone", "--quiet", s.url("stale", testToken), clone)
	if got := c.git(clone, "rev-list", "--count", "HEAD"); got != "2" {
		t.Errorf("clone has %s commits, want 2", got)
	}
	// An incremental push to the new name works.
	c.commitFile(work, "later.txt", "later\n")
	if out, err := c.push(work, s.url("stale", testToken), "main"); err != nil {
		t.Fatalf("push after move: %v\n%s", err, out)
	}
	// Moving an app that never pushed is a no-op.
	if err := s.h.MoveRepo("never", "pushed"); err != nil {
		t.Errorf("MoveRepo without a repository: %v", err)
	}
	// A handler that has served nothing yet (minipaas's, after a restart)
	// removes too.
	fresh := &Handler{Root: s.h.Root}
	if err := fresh.RemoveRepo("stale"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.h.RepoDir("stale")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed repository still there (stat: %v)", err)
	}
	if err := s.h.RemoveRepo("stale"); err != nil {
		t.Errorf("RemoveRepo of a missing repository: %v", err)
	}
}
