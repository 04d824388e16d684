package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation/formationtest"
)

// minipaas is the whole program running in-process on loopback ports.
type minipaas struct {
	t          *testing.T
	p          *platform.Platform
	apiURL     string
	apiAddr    string
	routerAddr string
	runAddr    string
	token      string
	dataDir    string
	out        *formationtest.Buffer
	cancel     context.CancelFunc
	done       chan error
	stopOnce   sync.Once
}

func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH", tool)
		}
	}
}

// startMinipaas runs serve as main would, with listeners on free ports,
// a temporary data dir and a new token in DYNOKIT_API_TOKEN. It is stopped
// (every dyno with it) when the test ends.
func startMinipaas(t *testing.T) *minipaas {
	t.Helper()
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	return startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token)
}

// startMinipaasWith is startMinipaas with a chosen data dir, token and
// extra flags, so a test can restart the platform on the same state.
func startMinipaasWith(t *testing.T, dataDir, token string, args ...string) *minipaas {
	t.Helper()
	return startMinipaasOpts(t, dataDir, token, nil, args...)
}

// startMinipaasOpts is startMinipaasWith with set changing the options
// after the flags are parsed (the test-only fields).
func startMinipaasOpts(t *testing.T, dataDir, token string, set func(*options), args ...string) *minipaas {
	t.Helper()
	requireTools(t)
	t.Setenv("DYNOKIT_API_TOKEN", token)
	o, err := parseFlags(append([]string{"-data-dir", dataDir}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.routerListener = listenLoopback(t)
	o.apiListener = listenLoopback(t)
	o.runListener = listenLoopback(t)
	// Builds share the test's Go build cache (-share-go-cache) and must not
	// reach the network: the test apps have no dependencies.
	o.buildEnv = []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}
	o.stopGrace = 3 * time.Second
	o.webhookRetry = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	// Tests run minipaas side by side: no pooler on the default port
	// unless a test asks for one (set).
	o.PoolerAddr = ""
	opened := make(chan *platform.Platform, 1)
	o.opened = func(p *platform.Platform) { opened <- p }
	if set != nil {
		set(&o)
	}

	m := &minipaas{
		t:          t,
		apiAddr:    o.apiListener.Addr().String(),
		routerAddr: o.routerListener.Addr().String(),
		runAddr:    o.runListener.Addr().String(),
		token:      token,
		dataDir:    o.DataDir,
		out:        &formationtest.Buffer{},
		done:       make(chan error, 1),
	}
	m.apiURL = "http://" + m.apiAddr
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- serve(ctx, o, m.out) }()
	select {
	case m.p = <-opened:
	case err := <-m.done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("the platform did not open within 60 s")
	}
	t.Cleanup(m.stop)
	return m
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// stop is what SIGTERM does: cancel and wait for serve to return.
func (m *minipaas) stop() { m.stopOnce.Do(m.stopNow) }

func (m *minipaas) stopNow() {
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			m.t.Errorf("serve: %v", err)
		}
	case <-time.After(3 * time.Minute):
		// Generous: stopping waits for every dyno's SIGTERM grace, and CI
		// machines are slow. Past it, the stacks say what serve waits on.
		buf := make([]byte, 1<<20)
		m.t.Fatalf("serve did not return 3 minutes after cancel; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if m.t.Failed() {
		m.t.Logf("minipaas output:\n%s", m.out.String())
	}
}

// api makes an authenticated Platform API request and decodes the answer
// into v (when not nil); it returns the status.
func (m *minipaas) api(method, path, body string, v any) int {
	m.t.Helper()
	status, b := m.apiRaw(method, path, body)
	if v != nil && status < 300 {
		if err := json.Unmarshal([]byte(b), v); err != nil {
			m.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	if status >= 300 {
		m.t.Logf("%s %s: %d %s", method, path, status, b)
	}
	return status
}

// apiRaw is m.api returning the raw answer.
func (m *minipaas) apiRaw(method, path, body string) (int, string) {
	m.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, m.apiURL+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Authorization", "Bearer "+m.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// get requests / of app through the router (see getPath).
func (m *minipaas) get(app string) (int, string, error) { return m.getPath(app, "/") }

// waitFor requests app until match accepts the answer, or fails after 90 s.
func (m *minipaas) waitFor(app, what string, match func(status int, body string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var (
		status int
		body   string
		err    error
	)
	for time.Now().Before(deadline) {
		status, body, err = m.get(app)
		if err == nil && match(status, body) {
			return body
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("%s: %s: last answer %d %q (err %v)", app, what, status, body, err)
	return ""
}

// gitClient runs the real git with an isolated configuration.
type gitClient struct {
	t    *testing.T
	home string
}

func newGitClient(t *testing.T) *gitClient {
	return &gitClient{t: t, home: t.TempDir()}
}

func (g *gitClient) cmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+g.home,
		"XDG_CONFIG_HOME="+g.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(g.home, "gitconfig"),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	return cmd
}

func (g *gitClient) run(dir string, args ...string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := g.cmd(ctx, dir, args...).CombinedOutput(); err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// push runs git push and returns its output (the remote: lines included).
func (g *gitClient) push(dir, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := g.cmd(ctx, dir, "push", url, "main").CombinedOutput()
	return string(out), err
}

// helloRepo is a git work tree holding the platform's hello test app
// (answers "$GREETING from $DYNO"), committed on main.
func (g *gitClient) helloRepo() string {
	g.t.Helper()
	return g.testdataRepo("hello")
}

// testdataRepo is a git work tree holding a copy of the platform's test app
// internal/platform/testdata/<name>, committed on main.
func (g *gitClient) testdataRepo(name string) string {
	g.t.Helper()
	dir := g.t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("internal", "platform", "testdata", name))); err != nil {
		g.t.Fatal(err)
	}
	g.run(dir, "init", "-q", "-b", "main")
	g.run(dir, "add", ".")
	g.run(dir, "commit", "-q", "-m", name)
	return dir
}

func (m *minipaas) gitURL(app, password string) string {
	return "http://:" + password + "@" + m.apiAddr + "/" + app + ".git"
}

// pushHello pushes the hello app to app and waits for its first 200.
func (m *minipaas) pushHello(g *gitClient, app string) {
	m.t.Helper()
	repo := g.helloRepo()
	start := time.Now()
	out, err := g.push(repo, m.gitURL(app, m.token))
	if err != nil {
		m.t.Fatalf("git push: %v\n%s", err, out)
	}
	if !strings.Contains(out, "remote: -----> ") {
		m.t.Errorf("git push output has no build steps (remote: -----> ):\n%s", out)
	}
	pushed := time.Since(start)
	m.waitFor(app, "first answer after the push", func(status int, body string) bool {
		return status == 200 && strings.Contains(body, "from web.1")
	})
	m.t.Logf("git push %s: %v; push → first 200 through the router: %v", app, pushed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-data-dir", "/tmp/x", "-runtime", "oci", "-api-addr", "127.0.0.1:7001"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.DataDir != "/tmp/x" || o.Runtime != "oci" || o.APIAddr != "127.0.0.1:7001" || o.RouterAddr != "127.0.0.1:5000" {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"-runtime", "docker"}, {"extra"}, {"-data-dir", ""}, {"-nope"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	for path, want := range map[string]bool{
		"/demo.git/info/refs":        true,
		"/demo.git/git-receive-pack": true,
		"/apps/demo":                 false,
		"/demo.git":                  false,
		"/log-sessions/x":            false,
	} {
		if got := isGitPath(path); got != want {
			t.Errorf("isGitPath(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestGitPushDeploys is the newcomer's path: create an app through the API,
// git push a Go web app over smart HTTP, see the build, reach the app
// through the router.
func TestGitPushDeploys(t *testing.T) {
	m := startMinipaas(t)
	out := m.out.String()
	for _, want := range []string{"git push http://:$DYNOKIT_API_TOKEN@" + m.apiAddr + "/demo.git main", "curl http://demo.localhost:"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, m.token) {
		t.Error("start-up output shows the token taken from DYNOKIT_API_TOKEN")
	}

	var created struct {
		ID, Name string
		WebURL   string `json:"web_url"`
	}
	if code := m.api("POST", "/apps", `{"name":"hello"}`, &created); code != http.StatusCreated {
		t.Fatalf("POST /apps: %d", code)
	}
	if created.Name != "hello" || created.WebURL != "http://hello.localhost:"+portOf(m.routerAddr)+"/" || len(created.ID) != 36 {
		t.Errorf("created %+v", created)
	}

	g := newGitClient(t)
	m.pushHello(g, "hello")

	// A wrong token, and an app that does not exist, are refused and
	// create nothing.
	repo := g.helloRepo()
	if out, err := g.push(repo, m.gitURL("hello", "wrong")); err == nil {
		t.Errorf("push with a wrong token succeeded:\n%s", out)
	}
	if out, err := g.push(repo, m.gitURL("ghost", m.token)); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("push to a missing app: err %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(m.dataDir, "repos", "ghost.git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("push to a missing app left a repository: %v", err)
	}
	if code := m.api("GET", "/apps/ghost", "", nil); code != http.StatusNotFound {
		t.Errorf("GET /apps/ghost after the push: %d", code)
	}

	var rels []struct {
		Version     int
		Description string
		Current     bool
	}
	if code := m.api("GET", "/apps/hello/releases", "", &rels); code != http.StatusOK || len(rels) != 1 || rels[0].Version != 1 || !rels[0].Current || !strings.HasPrefix(rels[0].Description, "Deploy ") {
		t.Errorf("releases after the push: %d %+v", code, rels)
	}

	// Stopping the program (what SIGTERM does) stops the dynos.
	dynos, err := m.p.Dynos(context.Background(), "hello")
	if err != nil || len(dynos) != 1 || dynos[0].Addr == "" {
		t.Fatalf("dynos of hello: %+v, %v", dynos, err)
	}
	m.stop()
	if conn, err := net.DialTimeout("tcp", dynos[0].Addr, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("web.1 still listens on %s after the platform stopped", dynos[0].Addr)
	}
	if code, _, err := m.get("hello"); err == nil {
		t.Errorf("router still answers (%d) after stop", code)
	}
}

// getPath requests path of app through the router, as
// http://<app>.localhost, or as the custom domain app when it has a dot.
func (m *minipaas) getPath(app, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+m.routerAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = app
	if !strings.Contains(app, ".") {
		req.Host += ".localhost"
	}
	req.Close = true // a fresh pick of dyno per request
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// herokuFunc runs a CLI command that must succeed and returns its output.
func herokuFunc(t *testing.T, cli *herokucli.CLI) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := cli.Run(ctx, args...)
		if err != nil {
			t.Fatalf("heroku %s: %v", strings.Join(args, " "), err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("heroku %s: %s", strings.Join(args, " "), res)
		}
		t.Logf("$ heroku %s\n%s", strings.Join(args, " "), res.Stdout+res.Stderr)
		return res.Stdout + res.Stderr
	}
}

func expectIn(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// waitDynos waits until the app's dynos named in want are all up.
func (m *minipaas) waitDynos(app string, want ...string) {
	m.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var dynos []platform.Dyno
	for {
		var err error
		dynos, err = m.p.Dynos(context.Background(), app)
		if err != nil {
			m.t.Fatal(err)
		}
		up := map[string]bool{}
		for _, d := range dynos {
			up[d.Name] = d.State == "up"
		}
		all := true
		for _, w := range want {
			all = all && up[w]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("dynos of %s: want %v up, have %+v", app, want, dynos)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliWebWorker pushes an app with a web and a worker process type, scales
// the worker with the CLI, and reads the worker's logs with the filters.
func cliWebWorker(t *testing.T, m *minipaas, cli *herokucli.CLI) {
	heroku := herokuFunc(t, cli)
	const app = "cliworker"
	heroku("apps:create", app)
	repo := newGitClient(t).testdataRepo("webworker")
	g := newGitClient(t)
	if out, err := g.push(repo, m.gitURL(app, m.token)); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	m.waitFor(app, "the web process", func(status int, body string) bool { return status == 200 && body == "web ok\n" })
	// The release phase's output stays readable, and can be made again.
	expectIn(t, heroku("releases:output", "-a", app), "release phase of")
	expectIn(t, heroku("releases:retry", "-a", app), "Retrying v1 on", "done, v2", "Running release command", "release phase of")
	expectIn(t, heroku("releases:info", "v2", "-a", app), "Retry of v1")
	if res, err := cli.Run(context.Background(), "ps:scale", "release=1", "-a", app); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "cannot be scaled") {
		t.Errorf("ps:scale release=1: %v %s", err, res)
	}
	if res, err := cli.Run(context.Background(), "ps:scale", "nosuch=1", "-a", app); err != nil || res.ExitCode == 0 ||
		!strings.Contains(res.Stdout+res.Stderr, `no process type "nosuch"`) || strings.Contains(res.Stdout+res.Stderr, "platform:") {
		t.Errorf("ps:scale of an unknown type: %v %s", err, res)
	}

	// A new process type other than web starts at zero dynos, as on Heroku.
	expectIn(t, heroku("ps:scale", "worker=2", "-a", app), "worker at 2")
	m.waitDynos(app, "web.1", "worker.1", "worker.2")
	expectIn(t, heroku("ps", "-a", app), "=== web (", "web.1: up", "=== worker (", "worker.1: up", "worker.2: up", "bin/worker")

	// --dyno picks one dyno's lines; --source app leaves out heroku[...].
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail, err := cli.Start(ctx, "logs", "--tail", "--source", "app", "--dyno", "worker.2", "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	out, ok := tail.WaitOutput(60*time.Second, func(out string) bool {
		return strings.Count(out, "app[worker.2]: worker tick") >= 3
	})
	tail.Stop()
	if !ok {
		t.Errorf("logs --tail --dyno worker.2: no worker.2 ticks within 60 s:\n%s", out)
	}
	for _, not := range []string{"worker.1", "web.1", "heroku["} {
		if strings.Contains(out, not) {
			t.Errorf("logs --source app --dyno worker.2 shows %s lines:\n%s", not, out)
		}
	}

	// ps:restart with no argument replaces the dynos of every type.
	before := map[string]string{}
	dynos, err := m.p.Dynos(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dynos {
		before[d.Name] = d.ID
	}
	heroku("ps:restart", "-a", app)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		dynos, err := m.p.Dynos(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		replaced := 0
		for _, d := range dynos {
			if id, ok := before[d.Name]; ok && id != d.ID && d.State == "up" {
				replaced++
			}
		}
		if replaced == len(before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps:restart: want every dyno of %v replaced and up, have %+v", before, dynos)
		}
	}
}

// cliPipelines promotes app's slug to a production app in a pipeline: the
// target runs the same slug with its own config vars.
func cliPipelines(t *testing.T, m *minipaas, cli *herokucli.CLI, app string) {
	heroku := herokuFunc(t, cli)
	prod := app + "-prod"
	// The target is made through the API: the CLI's part is the pipeline.
	if code := m.api("POST", "/apps", `{"name":"`+prod+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create %s: %d", prod, code)
	}
	if code := m.api("PATCH", "/apps/"+prod+"/config-vars", `{"GREETING":"production"}`, nil); code != http.StatusOK {
		t.Fatalf("config of %s: %d", prod, code)
	}
	expectIn(t, heroku("pipelines:create", "shop", "-a", app, "--stage", "staging"), "Adding "+app+" to shop pipeline as staging")
	expectIn(t, heroku("pipelines:add", "shop", "-a", prod, "--stage", "production"), "Adding "+prod+" to shop pipeline as production")
	expectIn(t, heroku("pipelines:promote", "-a", app), "Promotion successful", prod+": succeeded")
	m.waitFor(prod, "the promoted slug with the target's config", func(status int, body string) bool {
		return status == 200 && body == "production from web.1\n"
	})
	rels := m.releases(prod)
	last := rels[len(rels)-1]
	if !strings.HasPrefix(last.Description, "Promote "+app+" v") {
		t.Errorf("release of %s after the promotion: %+v", prod, last)
	}

	// What the API refuses, and that it changes nothing.
	var pipe, appInfo, prodInfo, other struct{ ID string }
	m.api("GET", "/pipelines/shop", "", &pipe)
	m.api("GET", "/apps/"+app, "", &appInfo)
	m.api("GET", "/apps/"+prod, "", &prodInfo)
	if code := m.api("POST", "/apps", `{"name":"`+app+`-outside"}`, &other); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	n := len(m.releases(prod))
	promote := func(source, target string) string {
		return `{"pipeline":{"id":"` + pipe.ID + `"},"source":{"app":{"id":"` + source + `"}},"targets":[{"app":{"id":"` + target + `"}}]}`
	}
	m.expectError("POST", "/pipeline-promotions", promote(appInfo.ID, appInfo.ID), 422, "invalid_params")
	m.expectError("POST", "/pipeline-promotions", promote(appInfo.ID, other.ID), 422, "invalid_params")
	m.expectError("POST", "/pipeline-promotions", promote(other.ID, prodInfo.ID), 422, "invalid_params")
	m.expectError("POST", "/pipeline-couplings", `{"app":"`+prod+`","pipeline":"`+pipe.ID+`","stage":"staging"}`, 422, "invalid_params")
	m.expectError("POST", "/pipeline-couplings", `{"app":"`+other.ID+`","pipeline":"`+pipe.ID+`","stage":"prod"}`, 422, "invalid_params")
	m.expectError("POST", "/pipelines", `{"name":"shop"}`, 422, "invalid_params")
	m.expectError("GET", "/apps/"+other.ID+"/pipeline-couplings", "", 404, "not_found")
	if got := len(m.releases(prod)); got != n {
		t.Errorf("refused promotions made %d releases of %s", got-n, prod)
	}
	// The promotion as the CLI reads it back.
	var targets []struct {
		App     struct{ ID string }
		Status  string
		Release *struct{ ID string }
	}
	var created struct{ ID, Status string }
	if code := m.api("POST", "/pipeline-promotions", promote(appInfo.ID, prodInfo.ID), &created); code != http.StatusCreated || created.Status != "pending" {
		t.Fatalf("promotion: %d %+v, want 201 pending", code, created)
	}
	for deadline := time.Now().Add(60 * time.Second); created.Status != "completed"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("promotion still %s after 60 s", created.Status)
		}
		m.api("GET", "/pipeline-promotions/"+created.ID, "", &created)
	}
	if code := m.api("GET", "/pipeline-promotions/"+created.ID+"/promotion-targets", "", &targets); code != http.StatusOK ||
		len(targets) != 1 || targets[0].App.ID != prodInfo.ID || targets[0].Status != "succeeded" || targets[0].Release == nil {
		t.Errorf("promotion targets: %d %+v", code, targets)
	}
	if got := len(m.releases(prod)); got != n+1 {
		t.Errorf("a promotion made %d releases of %s, want 1", got-n, prod)
	}
}

// TestHerokuCLI drives minipaas with the real heroku CLI, one command at a
// time, as a user would after a git push.
func TestHerokuCLI(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	heroku := func(args ...string) string {
		t.Helper()
		res, err := cli.Run(ctx, args...)
		if err != nil {
			t.Fatalf("heroku %s: %v", strings.Join(args, " "), err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("heroku %s: %s", strings.Join(args, " "), res)
		}
		t.Logf("$ heroku %s\n%s", strings.Join(args, " "), res.Stdout+res.Stderr)
		return res.Stdout + res.Stderr
	}
	expect := func(out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	const app = "clidemo"

	expect(heroku("apps:create", app), "http://"+app+".localhost:"+portOf(m.routerAddr)+"/")
	m.pushHello(newGitClient(t), app)
	expect(heroku("apps"), accountEmail, app)
	expect(heroku("apps:info", "-a", app), "Slug Size:", "Owner:", accountEmail, "web: 1")

	expect(heroku("config:set", "GREETING=bonjour", "-a", app), "done, v2")
	m.waitFor(app, "the new config var", func(status int, body string) bool {
		return status == 200 && strings.HasPrefix(body, "bonjour from web.")
	})
	expect(heroku("config", "-a", app), "GREETING", "bonjour")

	expect(heroku("ps:scale", "web=3", "-a", app), "web at 3")
	seen := map[string]bool{}
	m.waitFor(app, "three distinct web dynos", func(status int, body string) bool {
		if status == 200 {
			seen[strings.TrimSpace(strings.TrimPrefix(body, "bonjour from "))] = true
		}
		return seen["web.1"] && seen["web.2"] && seen["web.3"]
	})
	expect(heroku("ps", "-a", app), "web.1: up", "web.2: up", "web.3: up", "bin/hello")

	// heroku run attaches to a one-off dyno over the TLS rendezvous, with
	// the app's config and the exit status of the command.
	cli.Env = append(cli.Env, "NODE_EXTRA_CA_CERTS="+filepath.Join(m.dataDir, "rendezvous-ca.pem"))
	res, err := cli.Run(ctx, "run", "--exit-code", "--size", "standard-2x", "-a", app, "echo ran-$GREETING-$DYNO; false")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ heroku run --exit-code --size standard-2x ...\n%s", res.Stdout+res.Stderr)
	if res.ExitCode != 1 || !strings.Contains(res.Stdout, "ran-bonjour-run.") {
		t.Errorf("heroku run --size standard-2x: want the output and exit code 1: %s", res)
	}
	if res, err := cli.Run(ctx, "run", "--size", "huge", "-a", app, "true"); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, `"huge" is not a dyno size`) {
		t.Errorf("heroku run --size huge: want the API's refusal: %v %s", err, res)
	}

	cliRunOnTerminal(ctx, t, cli, app)

	expect(heroku("releases", "-a", app), "v2", "v1", "Deploy ", accountEmail)
	expect(heroku("releases:output", "-a", app), "has no release output available")
	expect(heroku("rollback", "-a", app), "Rolling back", "to v1", "done, v3")
	m.waitFor(app, "the rollback to v1's config", func(status int, body string) bool {
		return status == 200 && strings.HasPrefix(body, " from web.")
	})

	expect(heroku("logs", "-n", "50", "-a", app), "app[web.", "heroku[router]")

	// logs --tail streams: a request made after it started shows up as a
	// router line, next to the app's lines.
	tail, err := cli.Start(ctx, "logs", "--tail", "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	probe := "/tail-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out, ok := tail.WaitOutput(60*time.Second, func(out string) bool {
		if !strings.Contains(out, `path="`+probe) {
			// Requested until seen: the first may come before the CLI
			// has its stream open.
			if code, _, err := m.getPath(app, probe); err != nil || code != 200 {
				t.Logf("GET %s: %d %v", probe, code, err)
			}
			return false
		}
		return strings.Contains(out, "app[web.")
	})
	tail.Stop()
	if !ok {
		t.Errorf("heroku logs --tail: no app line and router line for %s within 60 s:\n%s", probe, out)
	}
	if t.Failed() {
		t.FailNow() // the rest needs the app as it is now
	}

	// Not subtests: the helpers of m report to this test's t.
	cliWebWorker(t, m, cli)
	cliDrains(t, m, cli, "cliworker")
	cliPipelines(t, m, cli, app)

	var info struct{ ID string }
	if code := m.api("GET", "/apps/"+app, "", &info); code != http.StatusOK {
		t.Fatalf("GET /apps/%s: %d", app, code)
	}
	expect(heroku("apps:destroy", "--confirm", app, "-a", app), "Destroying")
	if code := m.api("GET", "/apps/"+app, "", nil); code != http.StatusNotFound {
		t.Errorf("GET /apps/%s after destroy: %d", app, code)
	}
	if code, body, err := m.get(app); err != nil || code != http.StatusNotFound {
		t.Errorf("router after destroy: %d %q %v", code, body, err)
	}
	// Its pipeline coupling went with it.
	var couplings []struct {
		App   struct{ Name string }
		Stage string
	}
	if code := m.api("GET", "/pipelines/shop/pipeline-couplings", "", &couplings); code != http.StatusOK || len(couplings) != 1 || couplings[0].App.Name != app+"-prod" {
		t.Errorf("couplings of shop after destroying %s: %d %+v", app, code, couplings)
	}
	// The reconciler keys apps by ID; look under the name too.
	for _, key := range []string{info.ID, app} {
		if dynos := m.p.Reconciler().Dynos(key); len(dynos) > 0 {
			t.Errorf("dynos of %s still there after destroy: %+v", app, dynos)
		}
	}
}

// cliRunOnTerminal runs `heroku run bash` as a user at a terminal does: the
// CLI puts its terminal in raw mode and relays keystrokes, and the dyno
// runs on a terminal of the CLI's size, so Enter runs a line, ^C
// interrupts the command running, and exit ends the session.
func cliRunOnTerminal(ctx context.Context, t *testing.T, cli *herokucli.CLI, app string) {
	t.Helper()
	term, err := cli.StartOnTerminal(ctx, 100, 30, "run", "-a", app, "bash")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Stop()
	step := func(keys, want string) { t.Helper(); typeAndWait(t, term, "heroku run bash on a terminal", keys, want) }
	step("", "up, run.")
	// The dyno runs under the name the CLI announced.
	name := regexp.MustCompile(`up, (run\.[0-9]+)`).FindStringSubmatch(term.Output())
	if name == nil {
		t.Fatalf("heroku run bash: no dyno name in %q", term.Output())
	}
	// The shell's prompt comes through before anything is typed (the
	// working directory is HOME, the app).
	prompt := regexp.MustCompile(`~[#$] `)
	if out, ok := term.WaitOutput(60*time.Second, prompt.MatchString); !ok {
		t.Fatalf("heroku run bash on a terminal: no prompt in:\n%s", out)
	}
	// Quotes split the words the output is looked for in, so the
	// terminal's echo of the typed line does not match.
	step("stty size; echo on-a-''terminal-$DYNO\r", "on-a-terminal-"+name[1]+"\r")
	step("", "30 100")
	// A loop of short sleeps, so that a ^C that comes before a sleep has
	// started still ends it (a trap runs between commands).
	step("(trap 'echo caught''-int; exit 5' INT; echo arm''ed; while :; do sleep 0.2; done)\r", "armed")
	step("\x03", "caught-int")
	step("echo status-''$?\r", "status-5")
	if err := term.Type("exit\r"); err != nil {
		t.Fatal(err)
	}
	if out, _ := term.WaitOutput(60*time.Second, func(string) bool { return false }); !term.Exited() {
		t.Errorf("heroku run bash did not end after exit:\n%s", out)
	}
	t.Logf("$ heroku run bash (on a terminal)\n%s", term.Output())
}
