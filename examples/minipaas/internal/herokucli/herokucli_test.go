package herokucli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

const apiKey = "cli-test-key-0123456789"

type release struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Current     bool      `json:"current"`
	User        user      `json:"user"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type seen struct {
	method, path, rangeHeader, accept, auth string
}

// fakeAPI is a small Platform API built from platformapi that answers what
// `heroku apps` and `heroku releases` ask for; it records the requests.
func fakeAPI(t *testing.T) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var log []seen
	me := user{ID: "8a1c3d5e-7f9b-4c2d-8e0f-1a2b3c4d5e6f", Email: "dev@example.com"}
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var rels []release
	for v := 1; v <= 40; v++ {
		rels = append(rels, release{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", v), Version: v,
			Description: fmt.Sprintf("Deploy r%02d", v), Status: "succeeded", Current: v == 40,
			User: me, CreatedAt: base.Add(time.Duration(v) * time.Hour), UpdatedAt: base.Add(time.Duration(v) * time.Hour),
		})
	}
	api := &platformapi.Server{Token: apiKey}
	api.Handle("GET /account", func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, map[string]any{"id": me.ID, "email": me.Email, "verified": true})
		return nil
	})
	api.Handle("GET /users/{user}/apps", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("user") != "~" {
			return platformapi.NotFound("user", r.PathValue("user"))
		}
		type app struct {
			ID     string            `json:"id"`
			Name   string            `json:"name"`
			Owner  user              `json:"owner"`
			Region map[string]string `json:"region"`
			WebURL string            `json:"web_url"`
		}
		apps := []app{
			{ID: "11111111-1111-4111-8111-111111111111", Name: "demo", Owner: me, Region: map[string]string{"name": "us"}, WebURL: "http://demo.localhost:5000/"},
			{ID: "22222222-2222-4222-8222-222222222222", Name: "api-worker", Owner: me, Region: map[string]string{"name": "us"}, WebURL: "http://api-worker.localhost:5000/"},
		}
		return platformapi.Paginate(w, r, apps,
			platformapi.Field[app]{Name: "id", Key: func(a app) string { return a.ID }},
			platformapi.Field[app]{Name: "name", Key: func(a app) string { return a.Name }})
	})
	api.Handle("GET /apps/{app}/releases", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("app") != "demo" {
			return platformapi.NotFound("app", r.PathValue("app"))
		}
		return platformapi.Paginate(w, r, rels,
			platformapi.Field[release]{Name: "version", Key: func(x release) string { return strconv.Itoa(x.Version) }, Numeric: true},
			platformapi.Field[release]{Name: "id", Key: func(x release) string { return x.ID }})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, seen{r.Method, r.URL.Path, r.Header.Get("Range"), r.Header.Get("Accept"), r.Header.Get("Authorization")})
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

func run(t *testing.T, cli *herokucli.CLI, args ...string) herokucli.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := cli.Run(ctx, args...)
	if err != nil {
		t.Fatalf("heroku %s: %v\n%s", strings.Join(args, " "), err, res)
	}
	return res
}

func TestRealCLIAgainstPlatformAPI(t *testing.T) {
	t.Parallel()
	srv, requests := fakeAPI(t)
	cli := herokucli.Require(t, srv.URL, apiKey)

	res := run(t, cli, "apps")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "dev@example.com Apps") ||
		!regexp.MustCompile(`(?m)^api-worker\s*$`).MatchString(res.Stdout) || !regexp.MustCompile(`(?m)^demo\s*$`).MatchString(res.Stdout) {
		t.Errorf("heroku apps:\n%s", res)
	}

	res = run(t, cli, "releases", "-a", "demo")
	if res.ExitCode != 0 {
		t.Fatalf("heroku releases:\n%s", res)
	}
	printed := regexp.MustCompile(`(?m)^\s*v(\d+)\s+Deploy r(\d+)`).FindAllStringSubmatch(res.Stdout, -1)
	var got []string
	for _, m := range printed {
		if m[1] != strings.TrimLeft(m[2], "0") {
			t.Errorf("line for v%s shows the description of r%s", m[1], m[2])
		}
		got = append(got, "v"+m[1])
	}
	var want []string
	for v := 40; v > 25; v-- {
		want = append(want, "v"+strconv.Itoa(v))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("heroku releases printed %v, want the newest 15 %v:\n%s", got, want, res)
	}
	if !strings.Contains(res.Stdout, "dev@example.com") {
		t.Errorf("releases output lacks the user's email:\n%s", res)
	}

	res = run(t, cli, "releases", "-a", "ghost")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "Couldn't find that app: ghost.") || !strings.Contains(res.Stderr, "not_found") {
		t.Errorf("heroku releases -a ghost:\n%s", res)
	}

	var releaseCalls int
	for _, r := range requests() {
		if r.auth != "Bearer "+apiKey {
			t.Errorf("%s %s: Authorization %q, want the bearer key", r.method, r.path, r.auth)
		}
		if !strings.HasPrefix(r.accept, "application/vnd.heroku+json; version=3") {
			t.Errorf("%s %s: Accept %q", r.method, r.path, r.accept)
		}
		if r.path == "/apps/demo/releases" {
			releaseCalls++
			if r.rangeHeader != "version ..; max=15, order=desc" {
				t.Errorf("releases Range %q", r.rangeHeader)
			}
		}
	}
	if releaseCalls != 1 {
		t.Errorf("GET /apps/demo/releases was called %d times, want 1 (the CLI must not page past the first 15)", releaseCalls)
	}
}

func TestWrongKeyIsReported(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t)
	cli := herokucli.Require(t, srv.URL, "not-the-key")
	res := run(t, cli, "apps")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "HEROKU_API_KEY is invalid") {
		t.Errorf("heroku apps with a wrong key:\n%s", res)
	}
	if strings.Contains(res.Stdout+res.Stderr, apiKey) {
		t.Error("output shows the real key")
	}
}

func TestFindAndEnviron(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "node_modules", ".bin", "heroku")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"$HEROKU_HOST $HEROKU_API_KEY $HOME $HEROKU_PARTICLEBOARD_URL $1\"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DYNOKIT_HEROKU_CLI", "")
	t.Setenv("DYNOKIT_HEROKU_CLI_DIR", dir)
	got, err := herokucli.Find()
	if err != nil || got != bin {
		t.Fatalf("Find() = %q, %v; want %q", got, err, bin)
	}
	t.Setenv("DYNOKIT_HEROKU_CLI", filepath.Join(dir, "missing"))
	if _, err := herokucli.Find(); err == nil || !strings.Contains(err.Error(), "DYNOKIT_HEROKU_CLI=") {
		t.Errorf("Find with a missing DYNOKIT_HEROKU_CLI: %v", err)
	}
	t.Setenv("DYNOKIT_HEROKU_CLI", "")
	t.Setenv("DYNOKIT_HEROKU_CLI_DIR", t.TempDir())
	if _, err := herokucli.Find(); err == nil || !strings.Contains(err.Error(), "scripts/install-heroku-cli") {
		t.Errorf("Find with nothing installed: %v", err)
	}
	t.Setenv("DYNOKIT_HEROKU_CLI_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, _ := herokucli.DefaultDir(); d != "/x/cache/dynokit/heroku-"+herokucli.Version {
		t.Errorf("DefaultDir() = %q", d)
	}

	home := t.TempDir()
	cli := &herokucli.CLI{Path: bin, APIURL: "http://127.0.0.1:5999/", APIKey: "k", Home: home}
	res, err := cli.Run(context.Background(), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://127.0.0.1:5999 k " + home + " http://127.0.0.1:5999 apps\n"; res.Stdout != want || res.ExitCode != 3 {
		t.Errorf("Run = %+v, want stdout %q and exit 3", res, want)
	}
	for _, bad := range []string{"127.0.0.1:5999", "http://example.com", "ftp://127.0.0.1"} {
		c := &herokucli.CLI{Path: bin, APIURL: bad, Home: home}
		if _, err := c.Run(context.Background(), "apps"); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("Run with API URL %q: %v", bad, err)
		}
	}
}

// Start runs a command that does not end by itself (logs --tail): its
// output can be read while it runs, and Stop ends it with everything it
// spawned.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "heroku")
	pidFile := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + pidFile + "\necho \"tailing $1\"\nwhile :; do sleep 1; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cli := &herokucli.CLI{Path: bin, APIURL: "http://127.0.0.1:5999", APIKey: "k", Home: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := cli.Start(ctx, "logs")
	if err != nil {
		t.Fatal(err)
	}
	out, ok := r.WaitOutput(30*time.Second, func(s string) bool { return strings.Contains(s, "tailing logs\n") })
	if !ok || r.Exited() {
		t.Fatalf("WaitOutput = %q, %v (exited %v)", out, ok, r.Exited())
	}
	if _, ok := r.WaitOutput(100*time.Millisecond, func(s string) bool { return strings.Contains(s, "never") }); ok {
		t.Error("WaitOutput matched output that was never printed")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child := strings.TrimSpace(string(b))
	if got := r.Stop(); got != "tailing logs\n" || !r.Exited() {
		t.Errorf("Stop = %q (exited %v)", got, r.Exited())
	}
	r.Stop() // again: harmless
	// The spawned sleep went with the process group (gone, or a zombie
	// waiting for a reaper).
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %s outlived Stop: %s", child, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
