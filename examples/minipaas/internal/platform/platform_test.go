package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/internal/copytree"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/router"
)

// goCache is the test process's GOCACHE, shared with builds so the Go
// buildpack compiles warm.
func goCache(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: the Go buildpack needs it")
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// running is a Platform whose Run goroutine the test controls, with the
// router served on a loopback port.
type running struct {
	*Platform
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, dataDir string) *running { return startWith(t, dataDir, nil) }

// startWith is start with a chance to change the Config first.
func startWith(t *testing.T, dataDir string, change func(*Config)) *running {
	t.Helper()
	cfg := Config{
		DataDir:     dataDir,
		StopGrace:   3 * time.Second,
		BootTimeout: 60 * time.Second,
		BuildEnv:    []string{"GOCACHE=" + goCache(t), "GOFLAGS=-mod=mod", "GOPROXY=off"},
		OnDeployed: func(s DeployStats) {
			t.Logf("deployed %s v%d: build %v, pack %v, release %v, slug %d bytes", s.App, s.Version,
				s.Build.Round(time.Millisecond), s.Pack.Round(time.Millisecond), s.Release.Round(time.Millisecond), s.SlugBytes)
		},
	}
	if change != nil {
		change(&cfg)
	}
	p, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Platform: p, srv: httptest.NewServer(p.Router()), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	return r
}

// stop ends Run (every dyno stopped) and closes the platform.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.srv.Close()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after cancel")
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// get requests / of app through the router; app is an app name (served
// at <app>.localhost) or a custom domain.
func (r *running) get(app string) (int, string, error) { return r.getPath(app, "/") }

// getPath is get of path.
func (r *running) getPath(app, path string) (int, string, error) {
	req, err := http.NewRequest("GET", r.srv.URL+path, nil)
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

// waitFor requests app until match accepts the answer, or fails after 60 s.
func (r *running) waitFor(t *testing.T, app, what string, match func(status int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var (
		status int
		body   string
		err    error
	)
	for time.Now().Before(deadline) {
		status, body, err = r.get(app)
		if err == nil && match(status, body) {
			return body
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s: last answer %d %q (err %v)", app, what, status, body, err)
	return ""
}

func ok(want string) func(int, string) bool {
	return func(status int, body string) bool { return status == 200 && strings.Contains(body, want) }
}

// logText collects the app's history lines as "source[proc]: text".
func logText(t *testing.T, p *Platform, app string) string {
	t.Helper()
	seq, err := p.Logs(context.Background(), app, logplex.TailOptions{Lines: logplex.DefaultHistory})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for m, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s[%s]: %s\n", m.Source, m.Proc, m.Text)
	}
	return sb.String()
}

func waitLog(t *testing.T, p *Platform, app, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		text := logText(t, p, app)
		if strings.Contains(text, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s lack %q:\n%s", app, want, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dynoProcesses lists processes whose working directory is inside a dyno
// directory of app under dataDir (the local runtime names them <app>.<dyno>…).
func dynoProcesses(t *testing.T, dataDir, app string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	prefix := filepath.Join(dataDir, "dynos", app+".")
	var found []string
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, prefix) {
			found = append(found, e.Name()+" in "+cwd)
		}
	}
	return found
}

func TestAppNames(t *testing.T) {
	p, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for _, bad := range []string{"", "ab", "Hello", "1app", "app-", "my_app", strings.Repeat("a", 31)} {
		_, err := p.CreateApp(ctx, bad)
		var ne *NameError
		if !errors.As(err, &ne) || ne.Name != bad {
			t.Errorf("CreateApp(%q) = %v, want a *NameError", bad, err)
		}
	}
	if _, err := p.CreateApp(ctx, "my-app-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateApp(ctx, "my-app-2"); !errors.Is(err, ErrConflict) {
		t.Errorf("second CreateApp = %v, want ErrConflict", err)
	}
	if _, err := p.App(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("App(nope) = %v, want ErrNotFound", err)
	}
	if err := p.Scale(ctx, "my-app-2", map[string]int{"web": 1}); !errors.Is(err, ErrNoRelease) {
		t.Errorf("Scale before a deploy = %v, want ErrNoRelease", err)
	}
	if err := p.AddDomain(ctx, "my-app-2", "bad domain"); err == nil || !strings.Contains(err.Error(), `"bad domain"`) {
		t.Errorf("AddDomain(bad domain) = %v, want an error naming it", err)
	}
	// Another app's host (or any name under the base domain) is refused:
	// custom domains are routed before app hosts.
	for _, d := range []string{"my-app.localhost", "other.localhost", "localhost", "x.my-app.localhost"} {
		if err := p.AddDomain(ctx, "my-app-2", d); err == nil || !strings.Contains(err.Error(), "reserved") || errors.Is(err, ErrConflict) {
			t.Errorf("AddDomain(%s) = %v, want a reserved-domain error", d, err)
		}
	}
	if _, err := p.SetConfig(ctx, "my-app-2", map[string]string{"BAD-NAME": "secret-value"}, nil); err == nil ||
		!strings.Contains(err.Error(), "BAD-NAME") || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("SetConfig(BAD-NAME) = %v, want an error naming the var without its value", err)
	}
}

// TestEndToEnd drives one platform through the life of two apps: deploys
// built by the Go buildpack and requested through the router, config
// changes, scaling, a failed build, rollback, one-offs, logs, a release
// phase, destruction, and a graceful restart of the platform itself.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go apps")
	}
	ctx := context.Background()
	dataDir := t.TempDir()
	p := start(t, dataDir)
	stopped := false
	defer func() {
		if !stopped {
			p.stop(t)
		}
	}()

	helloApp, err := p.CreateApp(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if status, _, err := p.get("hello"); err != nil || status != 503 {
		t.Errorf("before a deploy: %d, %v; want 503 (H14)", status, err)
	}
	v1, err := p.SetConfig(ctx, "hello", map[string]string{"GREETING": "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Deploy: build, pack, release, boot, then an answer through the router.
	var out bytes.Buffer
	t0 := time.Now()
	v2, err := p.Deploy(WithUser(ctx, "dev@example.com"), "hello", "testdata/hello", "1a2b3c4d5e6f", &out)
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	tDeployed := time.Now()
	if v2.Version != v1.Version+1 || v2.App != "hello" || v2.Description != "Deploy 1a2b3c4" || v2.User != "dev@example.com" {
		t.Errorf("deploy made %+v", v2)
	}
	for _, want := range []string{"-----> Go app detected", "-----> Compressing...", "       Done: ", "-----> Launching...", fmt.Sprintf("       Released v%d", v2.Version)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("build output lacks %q:\n%s", want, out.String())
		}
	}
	p.waitFor(t, "hello", "first deploy", ok("hi from web.1"))
	t.Logf("deploy %v (build+pack+release), boot to first 200 %v", tDeployed.Sub(t0).Round(time.Millisecond), time.Since(tDeployed).Round(time.Millisecond))

	// The router's identity check: the web dyno's address is its own; an
	// address another process listens on is not.
	ds, _ := p.Dynos(ctx, "hello")
	if len(ds) != 1 || ds[0].Addr == "" {
		t.Fatalf("dynos: %+v", ds)
	}
	if err := p.VerifyDyno(ctx, router.Dyno{ID: ds[0].ID, Name: ds[0].Name, Addr: ds[0].Addr}); err != nil {
		t.Errorf("VerifyDyno of web.1 at its own address: %v", err)
	}
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyDyno(ctx, router.Dyno{ID: ds[0].ID, Name: ds[0].Name, Addr: squatter.Addr().String()}); err == nil {
		t.Error("VerifyDyno of web.1 at an address another process listens on passed")
	}
	squatter.Close()

	// A config change is a new release; dynos restart with the new env.
	v3, err := p.SetConfig(ctx, "hello", map[string]string{"GREETING": "bonjour"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != v2.Version+1 || v3.Description != "Set GREETING config vars" {
		t.Errorf("config change made v%d %q", v3.Version, v3.Description)
	}
	p.waitFor(t, "hello", "after config:set", ok("bonjour from web.1"))
	if cfg, err := p.Config(ctx, "hello"); err != nil || cfg["GREETING"] != "bonjour" {
		t.Errorf("Config = %v, %v", cfg.Names(), err)
	}

	// Three web dynos, each answering with its own DYNO.
	if err := p.Scale(ctx, "hello", map[string]int{"web": 3}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	p.waitFor(t, "hello", "three distinct dynos", func(status int, body string) bool {
		if status == 200 {
			seen[strings.TrimSpace(strings.TrimPrefix(body, "bonjour from "))] = true
		}
		return seen["web.1"] && seen["web.2"] && seen["web.3"]
	})
	dynos, err := p.Dynos(ctx, "hello")
	if err != nil || len(dynos) != 3 {
		t.Fatalf("Dynos = %+v, %v; want 3", dynos, err)
	}
	for i, d := range dynos {
		if d.Name != fmt.Sprintf("web.%d", i+1) || d.Type != "web" || d.Release != v3.Version || d.Command != "bin/hello" || d.UpdatedAt.IsZero() {
			t.Errorf("dyno %d: %+v", i, d)
		}
	}
	if err := p.Scale(ctx, "hello", map[string]int{"web": 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Scale(ctx, "hello", map[string]int{"worker": 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("scaling a type the release lacks = %v, want ErrNotFound", err)
	}

	// A failed build changes nothing.
	broken := t.TempDir()
	if err := copytree.Copy(ctx, "testdata/hello", filepath.Join(broken, "src")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "src", "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_, err = p.Deploy(ctx, "hello", filepath.Join(broken, "src"), "", &out)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("broken deploy = %v, want a *BuildError", err)
	}
	if !strings.Contains(out.String(), "undefined") {
		t.Errorf("failed build output lacks the compiler error:\n%s", out.String())
	}
	if app, _ := p.App(ctx, "hello"); app.Release != v3.Version {
		t.Errorf("after a failed build the current release is v%d, want v%d", app.Release, v3.Version)
	}
	p.waitFor(t, "hello", "after the failed build", ok("bonjour from web.1"))

	// Rollback to v2 brings back its config.
	v4, err := p.Rollback(ctx, "hello", v2.Version)
	if err != nil {
		t.Fatal(err)
	}
	if v4.Version != v3.Version+1 || v4.Description != fmt.Sprintf("Rollback to v%d", v2.Version) {
		t.Errorf("rollback made v%d %q", v4.Version, v4.Description)
	}
	p.waitFor(t, "hello", "after rollback", ok("hi from web.1"))
	if _, err := p.Rollback(ctx, "hello", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rollback to v99 = %v, want ErrNotFound", err)
	}
	rels, err := p.Releases(ctx, "hello", release.ListOptions{})
	if err != nil || len(rels) != 4 || rels[0].Version != v4.Version || rels[0].App != "hello" {
		t.Errorf("Releases = %d releases (newest %+v), %v", len(rels), rels, err)
	}

	// A one-off dyno returns output and exit status.
	var stdout formationtest.Buffer
	code, err := p.RunOneOff(ctx, "hello", `echo "one-off says $GREETING on $DYNO, PORT $PORT"; exit 3`, OneOffIO{Stdout: &stdout, Stderr: &stdout})
	if err != nil || code != 3 || !regexp.MustCompile(`one-off says hi on run\.\d{4}, PORT \d+`).MatchString(stdout.String()) {
		t.Errorf("RunOneOff = %d, %v, output %q (every dyno has DYNO and PORT)", code, err, stdout.String())
	}

	// The logs hold the platform's lines, the app's and the router's.
	waitLog(t, p.Platform, "hello", "app[api]: Deploy 1a2b3c4 by dev@example.com")
	logs := logText(t, p.Platform, "hello")
	for _, want := range []string{
		fmt.Sprintf("app[api]: Release v%d created by dev@example.com", v2.Version),
		// A config change: what was done, then the release.
		"app[api]: Set GREETING config vars by ",
		fmt.Sprintf("app[api]: Release v%d created by ", v1.Version),
		"heroku[web.1]: State changed from starting to up",
		"heroku[web.1]: Starting process with command `bin/hello`",
		"app[web.1]: hello listening on",
		"heroku[router]: at=info method=GET path=\"/\" host=hello.localhost",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "bonjour") {
		t.Errorf("a config var value reached the logs:\n%s", logs)
	}

	// An app with a web and a worker process and a release phase.
	if _, err := p.CreateApp(ctx, "webworker"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConfig(ctx, "webworker", map[string]string{"GREETING_ON_RELEASE": "ww"}, nil); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	ww, err := p.Deploy(ctx, "webworker", "testdata/webworker", "", &out)
	if err != nil {
		t.Fatalf("deploy webworker: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "release phase of ww") {
		t.Errorf("release phase output missing:\n%s", out.String())
	}
	// The phase's dyno is release.N, as on Heroku, announced by the API.
	waitLog(t, p.Platform, "webworker", "heroku[release.")
	waitLog(t, p.Platform, "webworker", fmt.Sprintf("app[api]: Running release v%d commands by ", ww.Version))
	if err := p.Scale(ctx, "webworker", map[string]int{"worker": 1}); err != nil {
		t.Fatal(err)
	}
	if f, err := p.Formation(ctx, "webworker"); err != nil || len(f) != 2 || fmt.Sprintf("%s=%d %s %s=%d", f[0].Type, f[0].Quantity, f[0].Command, f[1].Type, f[1].Quantity) != "web=1 bin/web worker=1" {
		t.Errorf("Formation = %+v, %v; want web=1 (bin/web), worker=1, and no release type", f, err)
	}
	p.waitFor(t, "webworker", "webworker deploy", ok("web ok"))
	waitLog(t, p.Platform, "webworker", "app[worker.1]: worker tick")

	// A log session (heroku logs) streams the same lines over HTTP.
	sess, err := p.CreateLogSession(ctx, "webworker", logplex.SessionOptions{Lines: 1500, Dyno: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	logSrv := httptest.NewServer(http.StripPrefix("/sessions", p.LogSessions()))
	resp, err := http.Get(sess.URL(logSrv.URL + "/sessions"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	logSrv.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "app[worker.1]: worker tick") || strings.Contains(string(body), "[web.1]") {
		t.Errorf("log session: %d %q", resp.StatusCode, body)
	}

	// A failing release phase fails the release; the previous one keeps running.
	badPhase := filepath.Join(t.TempDir(), "src")
	if err := copytree.Copy(ctx, "testdata/webworker", badPhase); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badPhase, "Procfile"), []byte("web: bin/web\nworker: bin/worker\nrelease: echo migrating; exit 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_, err = p.Deploy(ctx, "webworker", badPhase, "", &out)
	var pe *release.PhaseError
	if !errors.As(err, &pe) || pe.ExitCode != 7 || !strings.Contains(out.String(), "migrating") {
		t.Fatalf("deploy with a failing release phase = %v, output:\n%s", err, out.String())
	}
	if app, _ := p.App(ctx, "webworker"); app.Release != ww.Version {
		t.Errorf("after a failed release phase the current release is v%d, want v%d", app.Release, ww.Version)
	}
	p.waitFor(t, "webworker", "after the failed release phase", ok("web ok"))
	// Each release phase's output is kept for heroku releases:output.
	wwApp, _ := p.App(ctx, "webworker")
	for v, want := range map[int]string{ww.Version: "release phase of ww", pe.Version: "migrating"} {
		rc, err := p.ReleaseOutput(ctx, wwApp.ID, v, p.ReleaseOutputToken(wwApp.ID, v))
		if err != nil {
			t.Errorf("ReleaseOutput v%d: %v", v, err)
			continue
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.Contains(string(got), want) {
			t.Errorf("ReleaseOutput v%d = %q, want %q in it", v, got, want)
		}
	}
	if _, err := p.ReleaseOutput(ctx, wwApp.ID, ww.Version, p.ReleaseOutputToken(wwApp.ID, pe.Version)); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReleaseOutput with another release's token: %v", err)
	}
	if _, err := p.ReleaseOutput(ctx, wwApp.ID, 1, p.ReleaseOutputToken(wwApp.ID, 1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReleaseOutput of a release without a phase: %v", err)
	}

	// Promotion runs the same slug on another app, with that app's config.
	if _, err := p.CreateApp(ctx, "promoted"); err != nil {
		t.Fatal(err)
	}
	pr, err := p.Promote(ctx, "webworker", 0, "promoted")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Version != 1 || pr.Description != fmt.Sprintf("Promote webworker v%d", ww.Version) || pr.Slug != ww.Slug {
		t.Errorf("promotion made %+v", pr)
	}
	p.waitFor(t, "promoted", "promoted app", ok("web ok"))

	// Custom domains and maintenance mode, through the router.
	if err := p.AddDomain(ctx, "webworker", "www.Example.test"); err != nil {
		t.Fatal(err)
	}
	if err := p.AddDomain(ctx, "hello", "www.example.test"); !errors.Is(err, ErrConflict) {
		t.Errorf("adding another app's domain = %v, want ErrConflict", err)
	}
	p.waitFor(t, "www.example.test", "custom domain", ok("web ok"))
	if err := p.SetMaintenance(ctx, "webworker", true); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := p.get("webworker"); status != 503 {
		t.Errorf("maintenance on: %d, want 503", status)
	}
	waitLog(t, p.Platform, "webworker", "code=H80")
	if err := p.SetMaintenance(ctx, "webworker", false); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "webworker", "maintenance off", ok("web ok"))

	// Restarting a process type replaces its dyno and no other.
	dynoID := func(name string) (string, formation.State) {
		ds, _ := p.Dynos(ctx, "webworker")
		for _, d := range ds {
			if d.Name == name {
				return d.ID, d.State
			}
		}
		return "", ""
	}
	workerID := func() (string, formation.State) { return dynoID("worker.1") }
	oldWorker, _ := workerID()
	oldWeb, _ := dynoID("web.1")
	if err := p.Restart(ctx, "webworker", "worker"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if id, state := workerID(); id != "" && id != oldWorker && state == formation.StateUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker.1 was not replaced after Restart")
		}
	}
	if web, _ := dynoID("web.1"); web != oldWeb {
		t.Errorf("restarting worker replaced web.1 too (%s → %s)", oldWeb, web)
	}
	if err := p.Restart(ctx, "webworker", "clock"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restart(clock) = %v, want ErrNotFound", err)
	}
	// One dyno by name (heroku ps:restart web.1): only that one.
	oldWorker, _ = workerID()
	if err := p.Restart(ctx, "webworker", "web.1"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if id, state := dynoID("web.1"); id != "" && id != oldWeb && state == formation.StateUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("web.1 was not replaced after Restart(web.1)")
		}
	}
	if id, _ := workerID(); id != oldWorker {
		t.Errorf("restarting web.1 replaced worker.1 too (%s → %s)", oldWorker, id)
	}
	if err := p.Restart(ctx, "webworker", "web.7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restart(web.7) = %v, want ErrNotFound", err)
	}

	// Sizes are validated, recorded and shown per dyno.
	if err := p.Resize(ctx, "webworker", map[string]string{"worker": "huge"}); err == nil || !strings.Contains(err.Error(), `"huge"`) {
		t.Errorf("Resize(huge) = %v, want an error naming the size", err)
	}
	if err := p.Resize(ctx, "webworker", map[string]string{"worker": "Standard-2X"}); err != nil {
		t.Fatal(err)
	}
	if f, _ := p.Formation(ctx, "webworker"); len(f) != 2 || f[1].Size != "standard-2x" {
		t.Errorf("Formation after resize = %+v", f)
	}
	if ds, _ := p.Dynos(ctx, "webworker"); !slices.ContainsFunc(ds, func(d Dyno) bool { return d.Name == "worker.1" && d.Size == "standard-2x" }) {
		t.Errorf("Dynos after resize = %+v", ds)
	}

	// A detached one-off writes to the logs.
	name, err := p.RunDetached(ctx, "webworker", `echo "detached on $DYNO"`, OneOffLimits{})
	if err != nil {
		t.Fatal(err)
	}
	// heroku run:detached --size, with a time_to_live: the dyno runs at
	// that size and is stopped when its time is up.
	sized, err := p.RunDetached(ctx, "webworker", "sleep 60", OneOffLimits{Size: "Standard-2X", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ds, _ = p.Dynos(ctx, "webworker")
	if i := slices.IndexFunc(ds, func(d Dyno) bool { return d.Name == sized }); i < 0 || ds[i].Size != "standard-2x" {
		t.Errorf("sized one-off %s in %+v, want size standard-2x", sized, ds)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ds, _ := p.Dynos(ctx, "webworker")
		if !slices.ContainsFunc(ds, func(d Dyno) bool { return d.Name == sized }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s outlived its time_to_live of 1 s", sized)
		}
	}
	var fe *FieldError
	for _, bad := range []OneOffLimits{{Size: "huge"}, {TTL: 25 * time.Hour}} {
		if _, err := p.RunDetached(ctx, "webworker", "true", bad); !errors.As(err, &fe) {
			t.Errorf("RunDetached(%+v) = %v, want a *FieldError", bad, err)
		}
	}
	waitLog(t, p.Platform, "webworker", fmt.Sprintf("app[%s]: detached on %s", name, name))

	// Destroying an app leaves nothing running and nothing routed.
	if err := p.DestroyApp(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if procs := dynoProcesses(t, dataDir, "hello"); len(procs) > 0 {
		t.Errorf("processes of destroyed app: %v", procs)
	}
	if status, body, err := p.get("hello"); err != nil || status != 404 || !strings.Contains(body, "No such app") {
		t.Errorf("destroyed app answers %d %q, %v; want 404 No such app", status, body, err)
	}
	if _, err := p.App(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("App(hello) after destroy = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "apps", helloApp.ID)); err == nil {
		t.Errorf("destroyed app's files remain")
	}
	if again, err := p.CreateApp(ctx, "hello"); err != nil {
		t.Fatal(err)
	} else if rels, _ := p.Releases(ctx, "hello", release.ListOptions{}); len(rels) != 0 || again.Release != 0 {
		t.Errorf("recreated app inherits %d releases", len(rels))
	} else if logs := logText(t, p.Platform, "hello"); logs != "" {
		t.Errorf("recreated app inherits logs:\n%s", logs)
	}

	// A graceful restart of the platform brings everything back.
	before, _ := p.App(ctx, "webworker")
	p.stop(t)
	stopped = true
	if procs := dynoProcesses(t, dataDir, "webworker"); len(procs) > 0 {
		t.Errorf("processes after Run returned: %v", procs)
	}
	p2 := start(t, dataDir)
	defer p2.stop(t)
	after, err := p2.App(ctx, "webworker")
	if err != nil {
		t.Fatal(err)
	}
	if after.Release != ww.Version || after.Formation["worker"].Quantity != 1 || after.Formation["web"].Quantity != 1 || after.ID != before.ID {
		t.Errorf("after reopen: %+v, before: %+v", after, before)
	}
	if cfg, _ := p2.Config(ctx, "webworker"); cfg["GREETING_ON_RELEASE"] != "ww" {
		t.Errorf("config after reopen: %v", cfg.Names())
	}
	if apps, _ := p2.Apps(ctx); len(apps) != 3 {
		t.Errorf("Apps after reopen = %+v", apps)
	}
	p2.waitFor(t, "webworker", "after reopen", ok("web ok"))
	p2.waitFor(t, "www.example.test", "custom domain after reopen", ok("web ok"))
	waitLog(t, p2.Platform, "webworker", "app[worker.1]: worker tick")
}
